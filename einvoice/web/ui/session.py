"""Login sessions of the web UI: a signed cookie ``einvoice_session`` (nothing stored on the server).

The cookie is ``base64url(JSON) "." base64url(HMAC-SHA256)``; the key is derived from the status-link
secret (``EINVOICE_SECRET_KEY``, else ``<data dir>/web-secret-key``: `einvoice.intake.status_token`),
so several servers sharing that key share sessions. The JSON holds:

- ``sid``: a random session id, new at every login (no session fixation);
- ``uid``: the logged-in user's id (None: an anonymous session that only carries the login form's
  CSRF token); ``pw``: a fingerprint of the user's password hash and session epoch — a new password
  ends every session, and so does a logout (it counts ``users.session_epoch`` up);
- ``csrf``: the per-session CSRF token (`csrf.py`), new at every login;
- ``seen``: the last request (Unix seconds). A session idle for longer than ``EINVOICE_SESSION_MINUTES``
  (480) is void; ``seen`` is refreshed at most once a minute, so not every response sets a cookie.

Cookie flags: ``HttpOnly``, ``SameSite=Lax``, ``Path=/``, and ``Secure`` when the request came over
https or ``EINVOICE_BASE_URL`` starts with https. Logout drops the cookie and, through the epoch, voids
every copy of it (and the user's sessions on other devices: logout means "log me out everywhere").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...config import setting
from ...intake.status_token import base_url, secret_key

COOKIE = "einvoice_session"
SCOPE_KEY = "einvoice.ui_session"
MINUTES_ENV = "EINVOICE_SESSION_MINUTES"
DEFAULT_MINUTES = 480
REFRESH_SECONDS = 60


def idle_seconds() -> int:
    try:
        minutes = int(setting(MINUTES_ENV, "") or DEFAULT_MINUTES)
    except ValueError:
        minutes = DEFAULT_MINUTES
    return max(1, minutes) * 60


def password_fingerprint(password_hash: str | None, epoch: int = 0) -> str:
    """Changes with the password and with the user's session epoch (counted up at logout)."""
    return hashlib.sha256(f"{password_hash or ''}\x00{epoch}".encode("utf-8")).hexdigest()[:16]


@dataclass
class Session:
    sid: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    uid: int | None = None
    pw: str | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    seen: float = field(default_factory=time.time)
    dirty: bool = False  # send the cookie with this response
    ended: bool = False  # delete the cookie (logout)

    def log_in(self, user_id: int, password_hash: str | None, epoch: int = 0) -> None:
        """A fresh session for ``user_id``: new id and CSRF token (nothing of the old one survives)."""
        fresh = Session()
        self.sid, self.csrf, self.uid, self.pw = fresh.sid, fresh.csrf, user_id, password_fingerprint(password_hash, epoch)
        self.seen, self.dirty, self.ended = time.time(), True, False

    def log_out(self) -> None:
        self.uid, self.pw, self.ended, self.dirty = None, None, True, False

    def payload(self) -> dict:
        data = asdict(self)
        data.pop("dirty"), data.pop("ended")
        return data


class Signer:
    def __init__(self, data_dir: Path):
        self._data_dir = data_dir
        self._key: bytes | None = None

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = hmac.new(secret_key(data_dir=self._data_dir), b"einvoice-ui-session", hashlib.sha256).digest()
        return self._key

    def dumps(self, session: Session) -> str:
        body = base64.urlsafe_b64encode(json.dumps(session.payload(), separators=(",", ":")).encode()).rstrip(b"=")
        mac = base64.urlsafe_b64encode(hmac.new(self.key, body, hashlib.sha256).digest()).rstrip(b"=")
        return (body + b"." + mac).decode("ascii")

    def loads(self, value: str) -> Session | None:
        body, _, mac = value.encode("ascii", "replace").partition(b".")
        expected = base64.urlsafe_b64encode(hmac.new(self.key, body, hashlib.sha256).digest()).rstrip(b"=")
        if not body or not hmac.compare_digest(mac, expected):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
            session = Session(sid=str(data["sid"]), uid=data.get("uid"), pw=data.get("pw"), csrf=str(data["csrf"]),
                              seen=float(data["seen"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.uid is not None and not isinstance(session.uid, int):
            return None
        return session


def _cookie_value(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                continue
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


def secure_request(scope: Scope) -> bool:
    return scope.get("scheme") == "https" or (base_url() or "").startswith("https://")


def set_cookie_header(value: str, *, secure: bool, delete: bool = False) -> str:
    parts = [f"{COOKIE}={'' if delete else value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if delete:
        parts.append("Max-Age=0")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


class SessionMiddleware:
    """Reads the cookie into the request scope (`get_session`); after the route, writes it back when
    the session changed, is due for its idle refresh, or ended."""

    def __init__(self, app: ASGIApp, data_dir: Path):
        self.app = app
        self.signer = Signer(Path(data_dir))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = _cookie_value(scope)
        session = self.signer.loads(raw) if raw else None
        now = time.time()
        stale = raw is not None and (session is None or now - session.seen > idle_seconds())
        if stale:
            session = None
        elif session is not None and session.uid is not None and now - session.seen > REFRESH_SECONDS:
            session.seen, session.dirty = now, True
        scope[SCOPE_KEY] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                current: Session | None = scope.get(SCOPE_KEY)
                headers = MutableHeaders(scope=message)
                secure = secure_request(scope)
                if current is not None and current.ended:
                    headers.append("set-cookie", set_cookie_header("", secure=secure, delete=True))
                elif current is not None and current.dirty:
                    headers.append("set-cookie", set_cookie_header(self.signer.dumps(current), secure=secure))
                elif stale and current is None:
                    headers.append("set-cookie", set_cookie_header("", secure=secure, delete=True))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def get_session(request: Request, *, create: bool = False) -> Session | None:
    """The request's session (None without one); ``create``: an anonymous one, sent with the response."""
    session = request.scope.get(SCOPE_KEY)
    if session is None and create:
        session = Session(dirty=True)
        request.scope[SCOPE_KEY] = session
    return session
