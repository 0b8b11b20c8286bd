"""UI sessions: no fixation (the cookie set before the login is not the one after it: new session id and
CSRF token; a planted cookie stays anonymous), logout, the cookie's flags (HttpOnly, SameSite=Lax, Secure
over https, behind the trusted proxy of ``einvoice serve`` and with an https base URL — not for a forged
``X-Forwarded-Proto``), tampered cookies ignored and deleted, the idle timeout with its sliding refresh,
a deactivated user's session ends, and no cookie where no session is needed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from fastapi.testclient import TestClient

pytest.register_assert_rewrite("websec_data")
from websec_data import AUTH, PASSWORD  # noqa: E402

from einvoice.web.ui.session import COOKIE  # noqa: E402

pytest_plugins = ["pg", "websec_data"]


def _payload(cookie: str) -> dict:
    body = cookie.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def _login(client: TestClient, username: str):
    import re

    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"csrf": token, "username": username, "password": PASSWORD})


def _set_cookie(response) -> str:
    return "; ".join(response.headers.get_list("set-cookie"))


def test_no_session_fixation(sec_world):
    attacker = sec_world.client()
    attacker.get("/login")
    planted = attacker.cookies.get(COOKIE)
    victim = sec_world.client()
    victim.cookies.set(COOKIE, planted, domain="testserver.local")  # e.g. set through a sibling subdomain
    answer = _login(victim, "approver-a")
    assert answer.status_code == 303
    after = victim.cookies.get(COOKIE)
    assert after != planted
    assert _payload(after)["sid"] != _payload(planted)["sid"] and _payload(after)["csrf"] != _payload(planted)["csrf"]
    assert _payload(after)["uid"] == sec_world.users["approver-a"] and _payload(planted)["uid"] is None
    assert victim.get("/aufgaben").status_code == 200
    assert attacker.get("/aufgaben").status_code == 303  # the planted session did not become the victim's


def test_two_logins_of_one_user_are_two_sessions(sec_world):
    first, second = sec_world.client(), sec_world.client()
    _login(first, "kasse-a"), _login(second, "kasse-a")
    assert _payload(first.cookies.get(COOKIE))["sid"] != _payload(second.cookies.get(COOKIE))["sid"]


def test_logout_ends_the_session(sec_world):
    client = sec_world.client()
    _login(client, "approver-b")
    import re

    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/aufgaben").text).group(1)
    answer = client.post("/logout", data={"csrf": token})
    assert answer.status_code == 303 and "Max-Age=0" in _set_cookie(answer)
    assert client.get("/aufgaben").status_code == 303
    sec_world.restore_sessions()


def test_a_copy_of_the_cookie_is_void_after_logout(sec_world):
    client = sec_world.client()
    _login(client, "approver-b")
    stolen = client.cookies.get(COOKIE)
    import re

    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/aufgaben").text).group(1)
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    thief = sec_world.client()
    thief.cookies.set(COOKIE, stolen, domain="testserver.local")
    assert thief.get("/aufgaben").status_code == 303
    sec_world.restore_sessions()


def test_cookie_flags_over_http(sec_world):
    answer = _login(sec_world.client(), "approver-a")
    cookie = _set_cookie(answer)
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie and "Domain" not in cookie and "Secure" not in cookie
    assert "Expires" not in cookie and "Max-Age" not in cookie  # a browser session cookie


def test_secure_over_https_and_with_an_https_base_url(sec_world, monkeypatch):
    https = TestClient(sec_world.app, base_url="https://rechnung.example.de", follow_redirects=False)
    assert "Secure" in _set_cookie(https.get("/login")) and "Secure" in _set_cookie(_login(https, "approver-a"))
    monkeypatch.setenv("EINVOICE_BASE_URL", "https://rechnung.example.de")  # TLS ends at a proxy that says nothing
    assert "Secure" in _set_cookie(sec_world.client().get("/login"))


@pytest.mark.parametrize(("client", "secure"), [(("127.0.0.1", 40000), True), (("203.0.113.9", 40000), False)],
                         ids=["trusted-proxy", "forged-header"])
def test_secure_behind_the_trusted_proxy_only(sec_world, client, secure):
    """``einvoice serve`` runs uvicorn with proxy headers trusted from 127.0.0.1 (nginx on the same host):
    the same middleware in front of the app here."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    proxied = TestClient(ProxyHeadersMiddleware(sec_world.app, trusted_hosts="127.0.0.1"), client=client,
                         follow_redirects=False, headers=forwarded)
    cookie = _set_cookie(proxied.get("/login"))
    assert COOKIE in cookie and ("Secure" in cookie) is secure


def _sign(body: bytes, key: bytes) -> str:
    mac = base64.urlsafe_b64encode(hmac.new(key, body, hashlib.sha256).digest()).rstrip(b"=")
    return (body + b"." + mac).decode()


def _tampered(world) -> dict[str, str]:
    good = world.cookies["approver-a"]
    body, mac = good.split(".")
    data = _payload(good)
    admin = base64.urlsafe_b64encode(json.dumps({**data, "uid": world.users["admin-a"]}).encode()).rstrip(b"=")
    as_text = base64.urlsafe_b64encode(json.dumps({**data, "uid": str(data["uid"])}).encode()).rstrip(b"=")
    return {"other-uid-old-mac": admin.decode() + "." + mac, "own-key": _sign(admin, b"guessed-key"),
            "mac-truncated": body + "." + mac[:20], "no-mac": body, "mac-only": "." + mac, "garbage": "x" * 300,
            "not-json": _sign(base64.urlsafe_b64encode(b"\xff\xfe"), b"k"), "uid-as-text": as_text.decode() + "." + mac,
            "huge": body + "." + mac + "A" * 4000, "empty": ""}


@pytest.mark.parametrize("variant", ["other-uid-old-mac", "own-key", "mac-truncated", "no-mac", "mac-only", "garbage",
                                     "not-json", "uid-as-text", "huge", "empty"])
def test_tampered_cookie_is_ignored(sec_world, variant):
    client = sec_world.client()
    client.cookies.set(COOKIE, _tampered(sec_world)[variant], domain="testserver.local")
    answer = client.get("/aufgaben")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert client.get("/verwaltung").status_code == 303
    if variant != "empty":
        assert "Max-Age=0" in _set_cookie(answer)  # the bad cookie is deleted


def test_idle_timeout_slides_with_use(sec_world, monkeypatch):
    import einvoice.web.ui.session as session_module

    monkeypatch.setenv("EINVOICE_SESSION_MINUTES", "2")
    client = sec_world.client()
    _login(client, "approver-a")
    start = session_module.time.time()
    monkeypatch.setattr(session_module.time, "time", lambda: start + 90)
    assert client.get("/aufgaben").status_code == 200  # used after 90 s: refreshed (at most once a minute)
    monkeypatch.setattr(session_module.time, "time", lambda: start + 200)
    assert client.get("/aufgaben").status_code == 200  # 110 s idle since the refresh: still valid
    monkeypatch.setattr(session_module.time, "time", lambda: start + 200 + 121)
    expired = client.get("/aufgaben")
    assert expired.status_code == 303 and "Max-Age=0" in _set_cookie(expired)
    monkeypatch.setattr(session_module.time, "time", lambda: start)
    assert client.get("/aufgaben").status_code == 303  # deleted: going back in time does not revive it


def test_session_of_a_deactivated_user_ends(sec_world):
    from einvoice.store.masterdata_models import User

    client = sec_world.client()
    _login(client, "rechnungseingang-b")
    assert client.get("/eingang").status_code == 200
    with sec_world.db.transaction() as session:
        session.get(User, sec_world.users["rechnungseingang-b"]).active = False
    try:
        assert client.get("/eingang").status_code == 303
    finally:
        with sec_world.db.transaction() as session:
            session.get(User, sec_world.users["rechnungseingang-b"]).active = True


@pytest.mark.parametrize("path", ["/", "/upload", "/healthz", "/static/ui.css", "/api/v1/invoices",
                                  "/api/v1/openapi.json", "/aufgaben"])
def test_no_cookie_where_no_session_is_needed(sec_world, path):
    answer = sec_world.client().get(path, headers=AUTH)
    assert COOKIE not in _set_cookie(answer)
