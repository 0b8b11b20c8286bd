"""Authorization matrix of the staff UI and the public pages: every route of the app (enumerated from
``app.routes``: a new route without an entry in tests/websec_routes.py fails as "unclassified") × every
principal — anonymous, a supplier with a status link, a bearer token without session, and a session of
each role in unit A and in unit B (invoice routes: with an invoice of unit A and of unit B, so each
unit-scoped user meets a foreign one: 404, like an unknown number). A refused POST changes nothing
(every row of every table compared)."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("websec_data", "websec_access", "websec_routes", "websec_matrix")
from websec_matrix import check_access, matrix_cases  # noqa: E402

pytest_plugins = ["pg", "websec_data"]
PUBLIC_API = (("GET", "/api/v1/openapi.json"), ("POST", "/api/v1/invoices"))


@pytest.mark.parametrize(("key", "rule", "who", "side"),
                         matrix_cases(lambda key: not key[1].startswith("/api/") or key in PUBLIC_API))
def test_access(sec_world, key, rule, who, side):
    check_access(sec_world, key, rule, who, side)

