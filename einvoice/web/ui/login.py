"""``GET/POST /login``, ``POST /logout``; optional trusted-header single sign-on.

Login: the form posts username, password, the CSRF token of the anonymous session made by ``GET
/login`` and ``next`` (a local path only). Success gives a new session (`Session.log_in`: new id and
CSRF token) and a 303 to ``next`` (default ``/aufgaben``); failure shows one generic German message
(`passwords.authenticate` says nothing about why). Logout (POST with CSRF) ends the session.

Trusted-header SSO (off by default): with ``EINVOICE_TRUSTED_USER_HEADER`` set (e.g. ``X-Remote-User``),
``GET /login`` from one of ``EINVOICE_TRUSTED_PROXIES`` (comma-separated IPs, default ``127.0.0.1``)
carrying that header logs in the active user of that name without a password. The proxy must strip
the header from its clients' requests.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ...config import setting
from ...store.masterdata_models import User
from ...store.types import utcnow
from ..context import get_ctx
from ..peer import peer_host
from .csrf import checked_form
from .passwords import authenticate
from .render import page
from .session import get_session

log = logging.getLogger("einvoice.web")
router = APIRouter(include_in_schema=False)

HEADER_ENV = "EINVOICE_TRUSTED_USER_HEADER"
PROXIES_ENV = "EINVOICE_TRUSTED_PROXIES"
HOME = "/aufgaben"
FAILED = ("Benutzername oder Passwort sind falsch, oder das Konto ist vorübergehend gesperrt. Nach mehreren "
          "Fehlversuchen wird ein Konto für einige Minuten gesperrt.")


def safe_next(value: str | None) -> str:
    value = (value or "").strip()
    if not value.startswith("/") or value.startswith("//") or "\\" in value or any(ord(c) < 32 for c in value):
        return HOME
    return value


def _redirect(request: Request, target: str) -> RedirectResponse:
    base = request.scope.get("root_path", "").rstrip("/")
    return RedirectResponse(base + target, status_code=303)


def _oidc_enabled() -> bool:
    from .oidc import enabled  # oidc.py imports this module

    return enabled()


def _trusted_user(ctx, username: str) -> User | None:
    with ctx.db.transaction() as session:
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
        if user is None or not user.active:
            return None
        user.last_login_at = utcnow()
        session.flush()
        session.expunge(user)
        return user


async def _sso(request: Request) -> User | None:
    header = setting(HEADER_ENV, "").strip()
    if not header:
        return None
    proxies = {p.strip() for p in (setting(PROXIES_ENV) or "127.0.0.1").split(",") if p.strip()}
    client = peer_host(request.scope)  # the connection's address (the proxy), not X-Forwarded-For's
    username = request.headers.get(header, "").strip()
    if not username or client not in proxies:
        return None
    user = await run_in_threadpool(_trusted_user, get_ctx(request), username)
    log.info("trusted-header login of %r from %s: %s", username, client, "ok" if user else "unknown or inactive")
    return user


@router.get("/login")
async def login_form(request: Request, next: str = HOME):
    session = get_session(request, create=True)
    if session.uid is not None:
        return _redirect(request, safe_next(next))
    user = await _sso(request)
    if user is not None:
        session.log_in(user.id, user.password_hash, user.session_epoch)
        return _redirect(request, safe_next(next))
    notice = "Sie wurden abgemeldet." if request.query_params.get("abgemeldet") else None
    return page(request, "login.html", error=None, notice=notice, username="", next=safe_next(next),
                oidc=_oidc_enabled())


@router.post("/login")
async def login(request: Request):
    form = await checked_form(request)
    username = str(form.get("username") or "")[:128]
    password = str(form.get("password") or "")[:1024]
    target = safe_next(str(form.get("next") or ""))
    user = await run_in_threadpool(authenticate, get_ctx(request).db, username, password) if password else None
    if user is None:
        log.info("failed UI login for %r from %s", username, request.client.host if request.client else "?")
        return page(request, "login.html", status_code=401, error=FAILED, notice=None, username=username,
                    next=target, oidc=_oidc_enabled())
    get_session(request).log_in(user.id, user.password_hash, user.session_epoch)
    log.info("UI login of %s", user.username)
    return _redirect(request, target)


def _end_sessions(ctx, user_id: int) -> None:
    with ctx.db.transaction() as session:
        user = session.get(User, user_id, with_for_update=True)
        if user is not None:
            user.session_epoch = (user.session_epoch or 0) + 1


@router.post("/logout")
async def logout(request: Request):
    await checked_form(request)
    session = get_session(request)
    if session is not None and session.uid is not None:  # every copy of this user's cookie ends, too
        await run_in_threadpool(_end_sessions, get_ctx(request), session.uid)
    session.log_out()
    return _redirect(request, "/login?abgemeldet=1")
