"""Authorization matrix of the master data API (``/api/v1/masterdata/<kind>…``, every kind): reading
needs the API token, importing, creating and changing rows an active admin named in ``X-Einvoice-User``;
a refused request changes nothing. Principals and rules: tests/websec_routes.py."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("websec_data", "websec_access", "websec_routes", "websec_matrix")
from websec_matrix import check_access, matrix_cases  # noqa: E402

pytest_plugins = ["pg", "websec_data"]


@pytest.mark.parametrize(("key", "rule", "who", "side"),
                         matrix_cases(lambda key: key[1].startswith("/api/v1/masterdata/")))
def test_access(sec_world, key, rule, who, side):
    answer = check_access(sec_world, key, rule, who, side)
    assert answer.headers["content-type"].startswith(("application/json", "text/csv"))
