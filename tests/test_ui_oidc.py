"""OpenID Connect login of the web UI against a small OIDC provider started by the test (http.server on a
free loopback port: discovery, JWKS, /authorize, /token; ID tokens signed with an RSA key made here)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

import einvoice.web.ui.oidc as oidc
from einvoice.web.ui.session import COOKIE

pytest.register_assert_rewrite("ui_helpers")
from ui_helpers import client_for, login  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]

CLIENT_ID = "einvoice"
CLIENT_SECRET = "geheim-des-clients"


class Provider:
    """A tiny OIDC provider; `claims` (merged into every ID token), `key` (the signing key) and `sign_with`
    can be changed by a test."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.sign_with = self.key
        self.codes: dict[str, dict] = {}
        self.claims: dict = {}
        self.username = "a"
        self.token_requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, value, status=200):
                body = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    return self._json({
                        "issuer": provider.issuer, "authorization_endpoint": f"{provider.issuer}/authorize",
                        "token_endpoint": f"{provider.issuer}/token", "jwks_uri": f"{provider.issuer}/jwks",
                        "response_types_supported": ["code"], "id_token_signing_alg_values_supported": ["RS256"],
                        "token_endpoint_auth_methods_supported": ["client_secret_basic"]})
                if url.path == "/jwks":
                    return self._json({"keys": [provider.key.as_dict(private=False)]})
                if url.path == "/authorize":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
                    assert "openid" in query["scope"].split()
                    assert query["code_challenge_method"] == "S256"
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = query
                    self.send_response(302)
                    back = urlencode({"code": code, "state": query["state"]})
                    self.send_header("Location", f"{query['redirect_uri']}?{back}")
                    self.end_headers()
                    return None
                return self._json({"error": "not_found"}, 404)

            def do_POST(self):
                provider.token_requests += 1
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._json({"error": "invalid_client"}, 401)
                request = provider.codes.pop(form.get("code", ""), None)
                if request is None or form.get("redirect_uri") != request["redirect_uri"]:
                    return self._json({"error": "invalid_grant"}, 400)
                challenge = base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
                if challenge.rstrip(b"=").decode() != request["code_challenge"]:
                    return self._json({"error": "invalid_grant", "error_description": "PKCE"}, 400)
                now = int(time.time())
                claims = {"iss": provider.issuer, "sub": "sub-" + provider.username, "aud": CLIENT_ID,
                          "iat": now, "exp": now + 300, "nonce": request["nonce"],
                          "preferred_username": provider.username, **provider.claims}
                token = jwt.encode({"alg": "RS256", "kid": provider.sign_with.kid}, claims, provider.sign_with)
                return self._json({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                   "id_token": token, "expires_in": 300})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider(monkeypatch):
    server = Provider()
    monkeypatch.setenv("EINVOICE_OIDC_ISSUER", server.issuer)
    monkeypatch.setenv("EINVOICE_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("EINVOICE_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.delenv("EINVOICE_OIDC_REDIRECT_URL", raising=False)
    monkeypatch.delenv("EINVOICE_OIDC_USERNAME_CLAIM", raising=False)
    monkeypatch.setattr(oidc, "_cache", {})
    yield server
    server.close()


def _at_provider(location: str) -> str:
    """GET the authorization URL at the provider (no redirect following): its Location back to us."""
    url = urlsplit(location)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("GET", f"{url.path}?{url.query}")
        answer = connection.getresponse()
        assert answer.status == 302, answer.read()
        return answer.getheader("Location")
    finally:
        connection.close()


def _start(client, next_path="/aufgaben"):
    answer = client.get("/login/oidc", params={"next": next_path})
    assert answer.status_code == 303, answer.text
    return answer


def _callback_query(client, next_path="/aufgaben") -> dict:
    back = urlsplit(_at_provider(_start(client, next_path).headers["location"]))
    assert back.path == "/login/oidc/callback"
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def _flow(client, next_path="/aufgaben"):
    return client.get("/login/oidc/callback", params=_callback_query(client, next_path))


def test_oidc_login_of_a_known_user(world, provider):
    client = client_for(world.db, users=())
    form = client.get("/login")
    assert "Mit Single Sign-On anmelden" in form.text and 'href="/login/oidc?next=/aufgaben"' in form.text
    anonymous = client.cookies.get(COOKIE)
    start = _start(client, "/aufgaben?status=offen")
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert start.headers["location"].startswith(f"{provider.issuer}/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["nonce"][0] and query["state"][0]
    assert query["redirect_uri"] == ["http://testserver/login/oidc/callback"]
    assert "code_verifier" not in query
    flow_cookie = start.headers["set-cookie"]
    assert "einvoice_oidc=" in flow_cookie and "HttpOnly" in flow_cookie and "Path=/login/oidc" in flow_cookie
    back = urlsplit(_at_provider(start.headers["location"]))
    answer = client.get("/login/oidc/callback", params={k: v[0] for k, v in parse_qs(back.query).items()})
    assert answer.status_code == 303 and answer.headers["location"] == "/aufgaben?status=offen"
    assert client.cookies.get(COOKIE) and client.cookies.get(COOKIE) != anonymous  # a new session
    page = client.get("/aufgaben")
    assert page.status_code == 200 and "Person A" in page.text
    # the same code and state a second time: the flow cookie is gone, nothing is exchanged again
    requests_before = provider.token_requests
    again = client.get("/login/oidc/callback", params={k: v[0] for k, v in parse_qs(back.query).items()})
    assert again.status_code == 400 and provider.token_requests == requests_before


def test_redirect_url_from_base_url_and_other_username_claim(world, provider, monkeypatch):
    monkeypatch.setenv("EINVOICE_BASE_URL", "http://testserver")
    monkeypatch.setenv("EINVOICE_OIDC_USERNAME_CLAIM", "einvoice_user")
    provider.claims = {"einvoice_user": "b", "preferred_username": "a"}
    client = client_for(world.db, users=())
    answer = _flow(client)
    assert answer.status_code == 303
    assert "Person B" in client.get("/aufgaben").text


def test_unknown_and_inactive_users_are_refused(world, provider):
    client = client_for(world.db, users=())
    provider.username = "niemand"
    answer = _flow(client)
    assert answer.status_code == 403 and "„niemand“" in answer.text and "nicht" in answer.text
    assert client.get("/aufgaben").status_code == 303
    from einvoice.store.masterdata_models import User

    with world.db.transaction() as session:
        session.get(User, world.user("A").id).active = False
    provider.username = "a"
    assert _flow(client).status_code == 403
    assert client.get("/aufgaben").status_code == 303


def test_wrong_or_missing_state_is_refused(world, provider):
    client = client_for(world.db, users=())
    params = _callback_query(client)
    wrong = client.get("/login/oidc/callback", params={**params, "state": "falsch"})
    assert wrong.status_code == 400 and "Single Sign-On ist fehlgeschlagen" in wrong.text
    assert provider.token_requests == 0
    other = client_for(world.db, users=())  # another browser (no flow cookie) with a valid code and state
    params = _callback_query(client)
    assert other.get("/login/oidc/callback", params=params).status_code == 400
    assert client.get("/aufgaben").status_code == 303


@pytest.mark.parametrize("change", ["tampered", "other_key", "expired", "audience", "nonce", "issuer",
                                    "no_username"])
def test_bad_id_tokens_are_refused(world, provider, change, monkeypatch):
    if change == "other_key":
        provider.sign_with = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    elif change == "expired":
        provider.claims = {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}
    elif change == "audience":
        provider.claims = {"aud": "ein-anderer-client"}
    elif change == "nonce":
        provider.claims = {"nonce": "falsch"}
    elif change == "issuer":
        provider.claims = {"iss": "http://127.0.0.1:1"}
    elif change == "no_username":
        provider.claims = {"preferred_username": None}
    client = client_for(world.db, users=())
    if change == "tampered":
        real = oidc._token_request

        def tampered(*args):
            tokens = real(*args)
            header, body, signature = tokens["id_token"].split(".")
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            claims["preferred_username"] = "adm"
            body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            return {**tokens, "id_token": f"{header}.{body}.{signature}"}

        monkeypatch.setattr(oidc, "_token_request", tampered)
    answer = _flow(client)
    assert answer.status_code == 401 and "Single Sign-On ist fehlgeschlagen" in answer.text
    assert client.get("/aufgaben").status_code == 303


def test_wrong_client_secret_and_provider_error_are_refused(world, provider, monkeypatch):
    client = client_for(world.db, users=())
    params = _callback_query(client)
    denied = client.get("/login/oidc/callback", params={"state": params["state"], "error": "access_denied"})
    assert denied.status_code == 401 and "abgebrochen" in denied.text
    monkeypatch.setenv("EINVOICE_OIDC_CLIENT_SECRET", "falsch")
    assert _flow(client).status_code == 401
    assert client.get("/aufgaben").status_code == 303


def test_oidc_is_off_by_default_and_the_password_login_still_works(world, monkeypatch):
    for name in ("EINVOICE_OIDC_ISSUER", "EINVOICE_OIDC_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    client = client_for(world.db, users=("a",))
    assert "Single Sign-On" not in client.get("/login").text
    assert client.get("/login/oidc").status_code == 404
    assert client.get("/login/oidc/callback", params={"code": "x", "state": "y"}).status_code == 404
    assert login(client, "a").status_code == 303
    assert client.get("/aufgaben").status_code == 200


def test_password_login_still_works_with_oidc_configured(world, provider):
    client = client_for(world.db, users=("a",))
    assert login(client, "a").status_code == 303
    assert client.get("/aufgaben").status_code == 200


def test_rotated_provider_key_is_fetched_again(world, provider):
    client = client_for(world.db, users=())
    assert _flow(client).status_code == 303  # the JWKS with k1 is cached now
    provider.key = provider.sign_with = RSAKey.generate_key(2048, parameters={"kid": "k2"})
    other = client_for(world.db, users=())
    assert _flow(other).status_code == 303
    assert other.get("/aufgaben").status_code == 200
