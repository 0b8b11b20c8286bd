"""CSRF protection of the staff UI: every UI POST route of the app (enumerated from ``app.routes``; the
public upload form only adds items and has no token by design) refuses a missing, a wrong and another
session's token with the German 403 page and changes nothing, while the same request with the session's
own token gets through to the route; the login form too (login CSRF), and a token is bound to its
session (the anonymous one from before the login is void after it). Other methods on these routes: 405."""

from __future__ import annotations

import re

import pytest

pytest.register_assert_rewrite("websec_data", "websec_access", "websec_routes", "websec_matrix")
from websec_data import PASSWORD, ROLE_USERS  # noqa: E402
from websec_access import Principal, expected  # noqa: E402
from websec_matrix import app_routes  # noqa: E402
from websec_routes import RULES  # noqa: E402

pytest_plugins = ["pg", "websec_data"]
FORM_POSTS = [key for key in app_routes() if key[0] == "POST" and not key[1].startswith("/api/")
              and key[1] not in ("/upload", "/login")]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _altered(token: str) -> str:
    return ("A" if token[0] != "A" else "B") + token[1:]


def _allowed_user(rule) -> str:
    """A user who passes the route's access check (the token check is what is tested here)."""
    for name in ROLE_USERS:
        if expected(rule, Principal(name, user=name), "A") == rule.ok:
            return name
    raise AssertionError("no user may use this route")


def _post(world, key, user: str, token: str | None):
    rule = RULES[key]
    spec = dict(rule.probe(world, Principal(user, user=user), "A"))
    data = dict(spec.pop("data", {}))
    if token is not None:
        data["csrf"] = token
    path = key[1].replace(":path}", "}").format(**spec)
    return world.request("POST", path, user=user, data=data)


@pytest.mark.parametrize("variant", ["missing", "wrong", "other-session", "empty"])
@pytest.mark.parametrize("key", FORM_POSTS, ids=lambda key: key[1])
def test_form_post_without_its_sessions_token_is_refused(sec_world, key, variant):
    user = _allowed_user(RULES[key])
    other = next(name for name in ROLE_USERS if name != user)
    token = {"missing": None, "wrong": _altered(sec_world.csrf[user]), "other-session": sec_world.csrf[other],
             "empty": ""}[variant]
    before = sec_world.snapshot()
    answer = _post(sec_world, key, user, token)
    assert answer.status_code == 403, answer.text[:300]
    assert "Sicherheitsprüfung fehlgeschlagen" in answer.text
    assert sec_world.snapshot() == before


@pytest.mark.parametrize("key", FORM_POSTS, ids=lambda key: key[1])
def test_the_same_post_with_the_sessions_token_passes_the_check(sec_world, key):
    """The counterpart: the refusal above is the token's doing."""
    rule = RULES[key]
    answer = _post(sec_world, key, _allowed_user(rule), sec_world.csrf[_allowed_user(rule)])
    assert answer.status_code == rule.ok, answer.text[:300]
    assert "Sicherheitsprüfung" not in answer.text


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("key", FORM_POSTS, ids=lambda key: key[1])
def test_other_methods_change_nothing(sec_world, key, method):
    rule = RULES[key]
    user = _allowed_user(rule)
    spec = dict(rule.probe(sec_world, Principal(user, user=user), "A"))
    spec.pop("data", None)
    path = key[1].replace(":path}", "}").format(**spec)
    before = sec_world.snapshot()
    answer = sec_world.request(method, f"{path}?csrf={sec_world.csrf[user]}", user=user)
    assert answer.status_code == 405, (path, answer.status_code)
    assert sec_world.snapshot() == before


def _login_page(world):
    client = world.client()
    page = client.get("/login")
    return client, _CSRF.search(page.text).group(1)


@pytest.mark.parametrize("variant", ["missing", "wrong", "other-session", "no-session"])
def test_login_form_needs_its_own_sessions_token(sec_world, variant):
    """Login CSRF: a foreign site cannot log the victim into the attacker's account."""
    client, token = _login_page(sec_world)
    _, foreign = _login_page(sec_world)
    if variant == "no-session":
        client.cookies.clear()
    data = {"username": "approver-a", "password": PASSWORD}
    if variant != "missing":
        data["csrf"] = {"wrong": _altered(token), "other-session": foreign, "no-session": token}[variant]
    before = sec_world.snapshot()
    answer = client.post("/login", data=data)
    assert answer.status_code == 403 and "Sicherheitsprüfung" in answer.text
    assert client.get("/aufgaben").status_code == 303  # not logged in
    assert sec_world.snapshot() == before  # no failed-login count, no last login
    right = client.post("/login", data={**data, "csrf": token})
    if variant != "no-session":
        assert right.status_code == 303 and client.get("/aufgaben").status_code == 200


def test_token_is_bound_to_the_session_and_renewed_at_login(sec_world):
    client, anonymous_token = _login_page(sec_world)
    answer = client.post("/login", data={"csrf": anonymous_token, "username": "kasse-a", "password": PASSWORD})
    assert answer.status_code == 303
    token = _CSRF.search(client.get("/aufgaben").text).group(1)
    assert token != anonymous_token
    assert client.post("/logout", data={"csrf": anonymous_token}).status_code == 403  # the old one is void
    assert client.get("/aufgaben").status_code == 200
    assert token != sec_world.csrf["kasse-a"]  # a second login of the same user: another token
    assert client.post("/logout", data={"csrf": sec_world.csrf["kasse-a"]}).status_code == 403
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    sec_world.restore_sessions()


def test_forms_carry_the_token(sec_world):
    """Every form on the pages of an admin posts the session's token (and only it)."""
    pages = ["/aufgaben", f"/rechnungen/{sec_world.items['A']}", "/eingang", "/kaemmerei", "/verwaltung",
             "/verwaltung/stammdaten/users", "/verwaltung/zuordnung", "/verwaltung/workflows", "/verwaltung/auftraege"]
    for path in pages:
        html = sec_world.request("GET", path, user="admin-a").text
        forms = re.findall(r"<form\b[^>]*>.*?</form>", html, re.S)
        assert forms, path
        for form in forms:
            if 'method="post"' in form:
                assert _CSRF.findall(form) == [sec_world.csrf["admin-a"]], (path, form[:200])
