"""Authorization matrix of the JSON API (master data: tests/test_websec_matrix_masterdata.py): every
``/api/v1`` route of the app (enumerated from ``app.routes``: a new route without an entry in
tests/websec_routes.py fails as "unclassified") × every principal — anonymous, a wrong token, a UI
session cookie without token, the token alone, the token with an unknown or a deactivated
``X-Einvoice-User`` and with a user of each role. Reading needs the token (the token holder is a trusted
integration: the acting user does not narrow what it reads); actions need a known, active user with the
role; deciding on an invoice's step only an approver of its unit. A refused request changes nothing."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("websec_data", "websec_access", "websec_routes", "websec_matrix")
from websec_matrix import app_routes, check_access, matrix_cases  # noqa: E402
from websec_routes import RULES  # noqa: E402

pytest_plugins = ["pg", "websec_data"]
PUBLIC_API = (("GET", "/api/v1/openapi.json"), ("POST", "/api/v1/invoices"))  # in the UI/public matrix


def _wanted(key) -> bool:
    return key[1].startswith("/api/") and key not in PUBLIC_API and not key[1].startswith("/api/v1/masterdata/")


@pytest.mark.parametrize(("key", "rule", "who", "side"), matrix_cases(_wanted))
def test_access(sec_world, key, rule, who, side):
    answer = check_access(sec_world, key, rule, who, side)
    assert answer.headers["content-type"].startswith(("application/json", "text/csv", "application/xml"))


def test_every_rule_names_a_route_of_the_app():
    stale = set(RULES) - set(app_routes())
    assert not stale, f"rules for routes the app does not have: {sorted(stale)}"
