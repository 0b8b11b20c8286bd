"""Running the authorization matrix: `app_routes()` enumerates the routes of the app itself
(``create_app().routes``), so a route added later without an entry in tests/websec_routes.py shows up as
a failing "unclassified route" case (`matrix_cases`); `check_access` sends a route's probe as a principal
and checks the status against `websec_access.expected` and that a refused change left every table as it was.
"""

from __future__ import annotations

from typing import Callable

from websec_access import Principal, Rule, expected
from websec_routes import RULES

def app_routes() -> list[tuple[str, str]]:
    """(method, path) of every route of a fresh app (HEAD, added by Starlette to GET routes, left out)."""
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    from einvoice.config import load_settings
    from einvoice.web.app import create_app

    folder = Path(tempfile.mkdtemp(prefix="websec-routes-"))
    settings = replace(load_settings(), data_dir=folder, database_url=f"sqlite:///{folder / 'unused.db'}")
    app = create_app(settings=settings)
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI ≥ 0.16x: routers are included lazily
        routes = list(iter_route_contexts(app.routes))
    except ImportError:
        routes = list(app.routes)
    found = {(method, route.path) for route in routes for method in (getattr(route, "methods", None) or ())
             if method != "HEAD"}
    return sorted(found, key=lambda mp: (mp[1], mp[0]))


def send(world, rule: Rule, key: tuple[str, str], who: Principal, side: str):
    """The probe of ``rule`` sent by ``who``; returns the response."""
    method, template = key
    spec = dict(rule.probe(world, who, side))
    kwargs = {name: spec.pop(name) for name in ("data", "json", "content", "headers") if name in spec}
    if method == "POST" and who.user and not key[1].startswith("/api/") and key[1] != "/upload":
        kwargs["data"] = {**kwargs.get("data", {}), "csrf": world.csrf[who.user]}
    kwargs["headers"] = {**kwargs.get("headers", {}), **who.headers()}
    path = template.replace(":path}", "}")
    from urllib.parse import quote

    path = path.format(**{name: quote(str(value), safe="") for name, value in spec.items()})
    return world.request(method, path, user=who.user, **kwargs)


def matrix_cases(wanted: Callable[[tuple[str, str]], bool]) -> list:
    """pytest params (key, rule, who, side) of the app's routes that ``wanted`` selects, one per principal
    (and invoice unit); a route without a rule gives one "UNCLASSIFIED" case. Reloading routes come last."""
    import pytest

    cases = []
    for key in app_routes():
        if not wanted(key):
            continue
        rule = RULES.get(key)
        if rule is None:
            cases.append(pytest.param(key, None, None, "A", id=f"{key[0]} {key[1]} UNCLASSIFIED"))
            continue
        for side in rule.sides:
            for who in rule.principals:
                unit = f" [invoice of unit {side}]" if rule.scoped else ""
                cases.append(pytest.param(key, rule, who, side, id=f"{key[0]} {key[1]}{unit} {who.name}"))
    return sorted(cases, key=lambda case: bool(case.values[1] and case.values[1].changes))


def check_access(world, key: tuple[str, str], rule: Rule | None, who: Principal, side: str):
    """Send the probe and check the status against `expected`; a refused change leaves every table as it was."""
    assert rule is not None, f"unclassified route {key}: add it with its access rule to tests/websec_routes.py"
    want = expected(rule, who, side)
    mutating = key[0] in ("POST", "PUT", "PATCH", "DELETE")
    before = world.snapshot() if mutating else None
    answer = send(world, rule, key, who, side)
    if want == "login":
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), answer.text[:300]
    else:
        assert answer.status_code == want, answer.text[:500]
    if want == 401 and key[1].startswith("/api/"):
        assert answer.headers["www-authenticate"].startswith("Bearer")
    if mutating and not (rule.changes and want == rule.ok):
        assert world.snapshot() == before, "a refused request changed data"
    assert "Traceback" not in answer.text
    return answer
