"""Who acts through the JSON API until the web UI adds login (issue #8).

The routing API (master data, matching, workflow, deadlines) needs the API token
(`auth.check_api_token`) like the read API. Actions a person takes (approve, assign, clear an
IBAN alert …) also name that person in the header ``X-Einvoice-User: <username>``: the token
holder is a trusted integration that asserts who acts, as a reverse proxy does for single sign-on.
The user must exist and be active; the routes then check that user's roles and units.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..store.masterdata_models import User
from .auth import AuthError
from .context import get_ctx

USER_HEADER = "x-einvoice-user"


def _load_user(ctx, username: str) -> User | None:
    with ctx.db.read() as session:
        return session.scalars(select(User).where(User.username == username)).one_or_none()


async def acting_user(request: Request) -> User:
    """FastAPI dependency: the active `User` named by ``X-Einvoice-User`` (401/403 otherwise)."""
    username = request.headers.get(USER_HEADER, "").strip()
    if not username:
        raise AuthError(401, "this action needs the acting user in the X-Einvoice-User header")
    user = await run_in_threadpool(_load_user, get_ctx(request), username)
    if user is None or not user.active:
        raise AuthError(403, f"unknown or inactive user {username!r}")
    return user


def require_role(user: User, *roles: str) -> None:
    if not any(user.has_role(role) for role in roles):
        raise AuthError(403, f"user {user.username!r} lacks the role {' or '.join(roles)}")
