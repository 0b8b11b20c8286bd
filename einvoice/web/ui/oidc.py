"""OpenID Connect login (authorization code flow with PKCE), off by default.

Configured by ``EINVOICE_OIDC_ISSUER`` (the issuer; its metadata is read from
``<issuer>/.well-known/openid-configuration``) and ``EINVOICE_OIDC_CLIENT_ID``; further
``EINVOICE_OIDC_CLIENT_SECRET`` (a confidential client, sent with HTTP Basic, or in the body when the
provider only offers ``client_secret_post``; empty: a public client, PKCE only),
``EINVOICE_OIDC_REDIRECT_URL`` (default ``<EINVOICE_BASE_URL>/login/oidc/callback``; register it at the
provider) and ``EINVOICE_OIDC_USERNAME_CLAIM`` (default ``preferred_username``). Read at every request
like the other UI settings (`session.idle_seconds`). Without issuer and client id both routes answer 404
and the login page shows no button.

- ``GET /login/oidc?next=…``: a random ``state``, ``nonce`` and PKCE verifier go into a short-lived
  signed cookie ``einvoice_oidc`` (HttpOnly, SameSite=Lax, path ``/login/oidc``, 10 minutes; HMAC with
  a key derived from ``EINVOICE_SECRET_KEY`` like the session cookie); 303 to the provider's
  authorization endpoint (``response_type=code``, ``scope=openid profile``, S256 challenge).
- ``GET /login/oidc/callback?code=…&state=…``: the state must equal the cookie's; the code is exchanged
  at the token endpoint (with the verifier); the ID token is checked with authlib's `CodeIDToken` on
  joserfc (authlib's JOSE backend since 1.7; ``authlib.jose`` is deprecated): signature with a key of
  the provider's JWKS (asymmetric algorithms only; unknown ``kid``: the JWKS is fetched again once),
  ``iss`` = the issuer, ``aud`` contains the client id (``azp`` when there are several), ``exp``/``iat``
  with 60 s leeway, ``nonce`` = the cookie's. The claim ``EINVOICE_OIDC_USERNAME_CLAIM`` names an
  existing *active* einvoice user; nobody is created (roles and units stay einvoice master data).
  Then the same login as the password form (`Session.log_in`: new session id and CSRF token) and a
  303 to ``next``. Every refusal shows the login page with a German message and is logged.

HTTP to the provider uses ``urllib.request`` (stdlib; ``requests``/``httpx`` are no dependencies of
einvoice), in the thread pool, 10 s timeout. Discovery metadata and JWKS are cached for an hour.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from starlette.concurrency import run_in_threadpool

from ...config import setting
from ...intake.status_token import base_url, secret_key
from ..context import get_ctx
from .errors import UiError
from .login import _redirect, _trusted_user, safe_next
from .render import page
from .session import get_session, secure_request

log = logging.getLogger("einvoice.web")
router = APIRouter(include_in_schema=False)

ISSUER_ENV = "EINVOICE_OIDC_ISSUER"
CLIENT_ID_ENV = "EINVOICE_OIDC_CLIENT_ID"
CLIENT_SECRET_ENV = "EINVOICE_OIDC_CLIENT_SECRET"
REDIRECT_ENV = "EINVOICE_OIDC_REDIRECT_URL"
CLAIM_ENV = "EINVOICE_OIDC_USERNAME_CLAIM"
DEFAULT_CLAIM = "preferred_username"
COOKIE = "einvoice_oidc"
FLOW_SECONDS = 600
CACHE_SECONDS = 3600
LEEWAY = 60
TIMEOUT = 10
SCOPE = "openid profile"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")

FAILED = ("Die Anmeldung über Single Sign-On ist fehlgeschlagen. Bitte versuchen Sie es noch einmal oder "
          "melden Sie sich mit Benutzername und Passwort an.")
ABORTED = "Die Anmeldung über Single Sign-On wurde abgebrochen oder vom Anmeldedienst abgelehnt."
UNKNOWN = ("Ihr Konto „{name}“ ist im Anmeldedienst bekannt, aber in der E-Rechnungs-Anwendung nicht (oder nicht "
           "mehr) freigeschaltet. Bitte wenden Sie sich an die Verwaltung der Anwendung.")


class OidcError(Exception):
    """A refused OIDC login; the message is for the log, the user sees `FAILED`."""


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    redirect_url: str | None
    username_claim: str


def settings() -> OidcSettings | None:
    """The OIDC settings from the environment; None: OIDC login is off."""
    issuer = setting(ISSUER_ENV, "").strip().rstrip("/")
    client_id = setting(CLIENT_ID_ENV, "").strip()
    if not issuer or not client_id:
        return None
    redirect = setting(REDIRECT_ENV, "").strip()
    if not redirect and base_url():
        redirect = f"{base_url()}/login/oidc/callback"
    return OidcSettings(issuer=issuer, client_id=client_id, client_secret=setting(CLIENT_SECRET_ENV, ""),
                        redirect_url=redirect or None,
                        username_claim=setting(CLAIM_ENV, "").strip() or DEFAULT_CLAIM)


def enabled() -> bool:
    return settings() is not None


# --- the provider: discovery, JWKS, token endpoint (urllib, blocking: call in the thread pool) ---

_cache: dict[str, tuple[float, dict]] = {}
_cache_lock = threading.Lock()


def _http_json(url: str, *, data: bytes | None = None, headers: dict | None = None) -> dict:
    if not url.lower().startswith(("https://", "http://")):
        raise OidcError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, data=data, headers={"Accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 (scheme checked above)
            body = answer.read(1024 * 1024)
    except urllib.error.HTTPError as error:
        detail = error.read(2000).decode("utf-8", "replace")
        raise OidcError(f"{url}: HTTP {error.code} {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        raise OidcError(f"{url}: {error}") from None
    try:
        value = json.loads(body)
    except ValueError:
        raise OidcError(f"{url}: no JSON") from None
    if not isinstance(value, dict):
        raise OidcError(f"{url}: not a JSON object")
    return value


def _cached(url: str, *, force: bool = False) -> dict:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(url)
    if hit and not force and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    value = _http_json(url)
    with _cache_lock:
        _cache[url] = (now, value)
    return value


def metadata(config: OidcSettings) -> dict:
    data = _cached(f"{config.issuer}/.well-known/openid-configuration")
    if str(data.get("issuer", "")).rstrip("/") != config.issuer:
        raise OidcError(f"discovery names issuer {data.get('issuer')!r}, configured is {config.issuer!r}")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(data.get(key), str):
            raise OidcError(f"discovery lacks {key}")
    return data


def _token_request(config: OidcSettings, meta: dict, code: str, verifier: str, redirect_url: str) -> dict:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_url,
            "code_verifier": verifier}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if not config.client_secret:
        form["client_id"] = config.client_id
    elif "client_secret_basic" in methods or "client_secret_post" not in methods:
        pair = f"{urllib.parse.quote(config.client_id, safe='')}:{urllib.parse.quote(config.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    else:
        form.update(client_id=config.client_id, client_secret=config.client_secret)
    return _http_json(meta["token_endpoint"], data=urllib.parse.urlencode(form).encode(), headers=headers)


def _decode(id_token: str, meta: dict, *, force: bool = False):
    offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [a for a in offered if a in ALGORITHMS]
    keys = KeySet.import_key_set(_cached(meta["jwks_uri"], force=force))
    return jwt.decode(id_token, keys, registry=JWSRegistry(algorithms=algorithms, strict_check_header=False))


def verified_claims(config: OidcSettings, meta: dict, tokens: dict, nonce: str) -> dict:
    """The ID token's claims after checking signature, iss, aud/azp, exp, iat, nonce (and at_hash)."""
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise OidcError("token response without id_token")
    try:
        try:
            token = _decode(id_token, meta)
        except InvalidKeyIdError:  # the provider rotated its keys
            token = _decode(id_token, meta, force=True)
        params = {"nonce": nonce, "client_id": config.client_id}
        if isinstance(tokens.get("access_token"), str):
            params["access_token"] = tokens["access_token"]
        claims = CodeIDToken(token.claims, token.header,
                             {"iss": {"essential": True, "value": meta["issuer"]},
                              "aud": {"essential": True, "value": config.client_id},
                              "exp": {"essential": True}}, params)
        claims.validate(leeway=LEEWAY)
    except (JoseError, ValueError, KeyError, TypeError) as error:
        raise OidcError(f"ID token refused: {type(error).__name__}: {error}") from None
    return dict(claims)


def _exchange(config: OidcSettings, code: str, verifier: str, nonce: str, redirect_url: str) -> dict:
    meta = metadata(config)
    tokens = _token_request(config, meta, code, verifier, redirect_url)
    return verified_claims(config, meta, tokens, nonce)


# --- the flow cookie: state, nonce, PKCE verifier, next; signed, 10 minutes ---

def _key(request: Request) -> bytes:
    return hmac.new(secret_key(data_dir=get_ctx(request).settings.data_dir), b"einvoice-ui-oidc",
                    hashlib.sha256).digest()


def _dump(request: Request, flow: dict) -> str:
    body = base64.urlsafe_b64encode(json.dumps(flow, separators=(",", ":")).encode()).rstrip(b"=")
    mac = base64.urlsafe_b64encode(hmac.new(_key(request), body, hashlib.sha256).digest()).rstrip(b"=")
    return (body + b"." + mac).decode("ascii")


def _load(request: Request) -> dict | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    body, _, mac = raw.encode("ascii", "replace").partition(b".")
    expected = base64.urlsafe_b64encode(hmac.new(_key(request), body, hashlib.sha256).digest()).rstrip(b"=")
    if not body or not hmac.compare_digest(mac, expected):
        return None
    try:
        flow = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        if time.time() - float(flow["t"]) > FLOW_SECONDS:
            return None
        return {k: str(flow[k]) for k in ("state", "nonce", "verifier", "next", "redirect")}
    except (ValueError, KeyError, TypeError):
        return None


def _cookie_path(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/") + "/login/oidc"


def _redirect_url(request: Request, config: OidcSettings) -> str:
    if config.redirect_url:
        return config.redirect_url
    return str(request.base_url).rstrip("/") + "/login/oidc/callback"  # without EINVOICE_BASE_URL


def _refuse(request: Request, message: str, status_code: int = 403):
    response = page(request, "login.html", status_code=status_code, error=message, notice=None, username="",
                    next="/aufgaben", oidc=True)
    response.delete_cookie(COOKIE, path=_cookie_path(request))
    return response


def _config_or_404() -> OidcSettings:
    config = settings()
    if config is None:
        raise UiError(404, "Nicht gefunden", "Die Anmeldung über Single Sign-On ist nicht eingerichtet.")
    return config


@router.get("/login/oidc")
async def oidc_start(request: Request, next: str = "/aufgaben"):
    config = _config_or_404()
    try:
        meta = await run_in_threadpool(metadata, config)
    except OidcError as error:
        log.warning("OIDC discovery failed: %s", error)
        return _refuse(request, FAILED, 502)
    flow = {"state": generate_token(32), "nonce": generate_token(32), "verifier": secrets.token_urlsafe(48),
            "next": safe_next(next), "redirect": _redirect_url(request, config), "t": time.time()}
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": config.client_id, "redirect_uri": flow["redirect"], "scope": SCOPE,
        "state": flow["state"], "nonce": flow["nonce"],
        "code_challenge": create_s256_code_challenge(flow["verifier"]), "code_challenge_method": "S256"})
    endpoint = meta["authorization_endpoint"]
    response = RedirectResponse(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", status_code=303)
    response.set_cookie(COOKIE, _dump(request, flow), max_age=FLOW_SECONDS, path=_cookie_path(request),
                        httponly=True, samesite="lax", secure=secure_request(request.scope))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login/oidc/callback")
async def oidc_callback(request: Request):
    config = _config_or_404()
    params = request.query_params
    flow = _load(request)
    given = params.get("state", "")
    if flow is None or not given or not hmac.compare_digest(given.encode(), flow["state"].encode()):
        log.warning("OIDC callback refused: state missing, expired or wrong")
        return _refuse(request, FAILED, 400)
    if params.get("error"):
        log.info("OIDC provider answered %r: %s", params.get("error"), params.get("error_description", "")[:200])
        return _refuse(request, ABORTED, 401)
    code = params.get("code", "")
    if not code:
        return _refuse(request, FAILED, 400)
    try:
        claims = await run_in_threadpool(_exchange, config, code, flow["verifier"], flow["nonce"], flow["redirect"])
    except OidcError as error:
        log.warning("OIDC login refused: %s", error)
        return _refuse(request, FAILED, 401)
    username = claims.get(config.username_claim)
    if not isinstance(username, str) or not username.strip():
        log.warning("OIDC login refused: the ID token has no claim %r", config.username_claim)
        return _refuse(request, FAILED, 401)
    username = username.strip()[:128]
    user = await run_in_threadpool(_trusted_user, get_ctx(request), username)
    if user is None:
        log.info("OIDC login of %r refused: no active einvoice user of that name", username)
        return _refuse(request, UNKNOWN.format(name=username), 403)
    get_session(request, create=True).log_in(user.id, user.password_hash, user.session_epoch)
    log.info("OIDC login of %s (sub %s)", user.username, claims.get("sub"))
    response = _redirect(request, flow["next"])
    response.delete_cookie(COOKIE, path=_cookie_path(request))
    return response
