"""Web UI login: sessions, lockout, fixation, logout, CSRF, redirects to the login page, headers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from einvoice.store.masterdata_models import User
from einvoice.store.types import utcnow
from einvoice.web.ui.session import COOKIE

pytest.register_assert_rewrite("ui_helpers")
from ui_helpers import PASSWORD, client_for, csrf_of, login  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]


def _user(db, username: str) -> User:
    from sqlalchemy import select

    with db.read() as session:
        return session.scalars(select(User).where(User.username == username)).one()


def test_login_ok_sets_a_new_http_only_session_cookie(world):
    client = client_for(world.db, users=("a",))
    client.get("/login")
    anonymous = client.cookies.get(COOKIE)
    assert anonymous
    answer = login(client, "a")
    assert answer.status_code == 303 and answer.headers["location"] == "/aufgaben"
    cookie_header = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie_header and "SameSite=Lax" in cookie_header and "Secure" not in cookie_header
    assert client.cookies.get(COOKIE) != anonymous  # no session fixation: a new session at login
    page = client.get("/aufgaben")
    assert page.status_code == 200 and "Meine Aufgaben" in page.text and "Person A" in page.text
    assert _user(world.db, "a").last_login_at is not None


def test_secure_cookie_behind_https(world, monkeypatch):
    monkeypatch.setenv("EINVOICE_BASE_URL", "https://rechnung.example.de")
    client = client_for(world.db, users=("a",))
    assert "Secure" in client.get("/login").headers["set-cookie"]


def test_wrong_password_and_unknown_user_get_the_same_message(world):
    client = client_for(world.db, users=("a",))
    wrong = login(client, "a", "falsch-falsch-falsch")
    unknown = login(client, "niemand", "falsch-falsch-falsch")
    assert wrong.status_code == unknown.status_code == 401
    message = "Benutzername oder Passwort sind falsch"
    assert message in wrong.text and message in unknown.text
    assert client.get("/aufgaben").status_code == 303
    assert _user(world.db, "a").failed_logins == 1


def test_lockout_after_five_failures_and_unlock_after_the_lock_time(world):
    client = client_for(world.db, users=("a",))
    for _ in range(5):
        assert login(client, "a", "falsch-falsch-falsch").status_code == 401
    user = _user(world.db, "a")
    assert user.locked_until is not None and user.locked_until > utcnow() + timedelta(minutes=14)
    assert login(client, "a").status_code == 401  # locked: even the right password is refused
    with world.db.transaction() as session:
        session.get(User, user.id).locked_until = utcnow() - timedelta(seconds=1)
    assert login(client, "a").status_code == 303
    assert _user(world.db, "a").failed_logins == 0


def test_inactive_user_cannot_log_in(world):
    client = client_for(world.db, users=("a",))
    with world.db.transaction() as session:
        session.get(User, world.user("A").id).active = False
    assert login(client, "a").status_code == 401


def test_logout_ends_the_session(world):
    client = client_for(world.db, users=("a",))
    login(client, "a")
    page = client.get("/aufgaben")
    answer = client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert "Max-Age=0" in answer.headers["set-cookie"]
    assert client.get("/aufgaben").status_code == 303


def test_new_password_ends_old_sessions(world):
    from einvoice.web.ui.passwords import set_password

    client = client_for(world.db, users=("a",))
    login(client, "a")
    set_password(world.db, "a", "ein-ganz-neues-passwort")
    assert client.get("/aufgaben").status_code == 303


def test_idle_session_expires(world, monkeypatch):
    import einvoice.web.ui.session as session_module

    client = client_for(world.db, users=("a",))
    login(client, "a")
    real = session_module.time.time
    monkeypatch.setattr(session_module.time, "time", lambda: real() + 481 * 60)
    assert client.get("/aufgaben").status_code == 303


@pytest.mark.parametrize("token", [None, "falsch"])
def test_post_without_or_with_a_wrong_csrf_token_is_refused(world, token):
    client = client_for(world.db, users=("a",))
    login(client, "a")
    data = {} if token is None else {"csrf": token}
    answer = client.post("/logout", data=data)
    assert answer.status_code == 403 and "Sicherheitsprüfung" in answer.text
    assert client.get("/aufgaben").status_code == 200  # still logged in: nothing changed
    form = client.get("/login")
    assert client.post("/login", data={**data, "username": "a", "password": PASSWORD}).status_code == 403
    assert form.status_code in (200, 303)


@pytest.mark.parametrize("path", ["/aufgaben", "/rechnungen/1", "/rechnungen/1/original", "/rechnungen/1/ansicht"])
def test_pages_redirect_to_login_without_a_session(world, path):
    client = client_for(world.db, users=())
    answer = client.get(path + "?x=1")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=" + path)


def test_next_is_only_a_local_path(world):
    client = client_for(world.db, users=("a",))
    assert login(client, "a", next_path="https://evil.example/").headers["location"] == "/aufgaben"
    client = client_for(world.db, users=("b",))
    assert login(client, "b", next_path="//evil.example/").headers["location"] == "/aufgaben"


def test_forged_cookie_is_ignored(world):
    client = client_for(world.db, users=("a",))
    login(client, "a")
    import base64
    import json

    body, mac = client.cookies.get(COOKIE).split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["uid"] = world.user("ADM").id  # become the admin without knowing the key
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=") + "." + mac
    client.cookies.clear()
    client.cookies.set(COOKIE, forged)
    assert client.get("/aufgaben").status_code == 303


def test_security_headers_and_stylesheet(world):
    client = client_for(world.db, users=("a",))
    page = client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "style-src 'self'" in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert '<html lang="de">' in page.text and 'href="#inhalt"' in page.text
    css = client.get("/static/ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_trusted_header_sso(world, monkeypatch):
    client = client_for(world.db, users=())
    monkeypatch.setenv("EINVOICE_TRUSTED_USER_HEADER", "X-Remote-User")
    monkeypatch.setenv("EINVOICE_TRUSTED_PROXIES", "testclient")
    answer = client.get("/login", headers={"X-Remote-User": "a"})
    assert answer.status_code == 303
    assert client.get("/aufgaben").status_code == 200
    monkeypatch.setenv("EINVOICE_TRUSTED_PROXIES", "10.0.0.1")
    other = client_for(world.db, users=())
    assert other.get("/login", headers={"X-Remote-User": "a"}).status_code == 200  # not from a trusted proxy


def test_users_cli_sets_a_password_and_lists(world, monkeypatch, capsys):
    import io

    from einvoice.cli import main

    monkeypatch.setenv("EINVOICE_DATABASE_URL", world.db.settings.database_url)
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(world.db.settings.data_dir))
    monkeypatch.setattr("sys.stdin", io.StringIO("ein-cli-passwort-123\n"))
    assert main(["users", "password", "b"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("kurz\n"))
    assert main(["users", "password", "b"]) == 1  # too short: refused
    monkeypatch.setattr("sys.stdin", io.StringIO("ein-cli-passwort-123\n"))
    assert main(["users", "password", "niemand"]) == 1
    client = client_for(world.db, users=())
    assert login(client, "b", "ein-cli-passwort-123").status_code == 303
    capsys.readouterr()
    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "b\tPerson B\tapprover\t66\taktiv\tPasswort gesetzt" in listing and "kein Passwort" in listing


def test_trusted_header_sso_behind_a_proxy_that_sets_x_forwarded_for(world, monkeypatch):
    """As `einvoice serve` runs the app: forwarded headers applied, the proxy's own address still checked."""
    from fastapi.testclient import TestClient

    from einvoice.web.app import create_app
    from einvoice.web.peer import behind_proxies

    monkeypatch.setenv("EINVOICE_TRUSTED_USER_HEADER", "X-Remote-User")
    monkeypatch.setenv("EINVOICE_TRUSTED_PROXIES", "testclient")  # TestClient's peer address is "testclient"
    app = behind_proxies(create_app(settings=world.db.settings, db=world.db), "testclient")
    client = TestClient(app, follow_redirects=False)
    forwarded = {"X-Remote-User": "a", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    assert client.get("/login", headers=forwarded).status_code == 303  # the proxy vouches for the user
    monkeypatch.setenv("EINVOICE_TRUSTED_PROXIES", "10.0.0.1")
    forged = TestClient(behind_proxies(create_app(settings=world.db.settings, db=world.db), "10.0.0.1"),
                        follow_redirects=False)
    # a client naming a trusted proxy in X-Forwarded-For is still not one
    assert forged.get("/login", headers={**forwarded, "X-Forwarded-For": "10.0.0.1"}).status_code == 200
