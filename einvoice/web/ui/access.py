"""Who is logged in, and what they may see.

`page_user` (FastAPI dependency) gives the logged-in, active `User` of the session; without one a page
redirects to ``/login?next=<path>`` (`LoginRequired`). A session whose user was deactivated or got a new
password since the login is ended.

Visibility (`visible_units`, `may_see_item`, used by every page that shows an invoice):

- the central roles ``rechnungseingang``, ``kaemmerei`` and ``admin`` see every invoice;
- everybody else (approver, kasse) sees the invoices of the units they belong to (`UserUnit`) and of
  the units of the people they stand in for today (`Substitution`, dates inclusive, optionally for one
  unit) — an invoice belongs to its assigned unit (`Assignment`) and to every unit a step of its
  approval was given to (a forwarded step).

An invoice outside the user's units answers **404** like one that does not exist: its number reveals
nothing.
"""

from __future__ import annotations

from datetime import date

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from starlette.concurrency import run_in_threadpool

from ...routing.workflow.inbox import _units as acting_units
from ...store.masterdata_models import User
from ...store.models import IntakeItem
from ...store.routing_models import ApprovalCase, ApprovalStep, Assignment
from ..context import get_ctx
from .errors import FORBIDDEN, NOT_FOUND, LoginRequired, UiError
from .session import get_session, password_fingerprint

CENTRAL_ROLES = ("rechnungseingang", "kaemmerei", "admin")


def _load(ctx, user_id: int) -> User | None:
    with ctx.db.read() as session:
        return session.get(User, user_id)


async def page_user(request: Request) -> User:
    """FastAPI dependency: the logged-in user (`LoginRequired` → redirect to the login page)."""
    session = get_session(request)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if session is None or session.uid is None:
        raise LoginRequired(target)
    user = await run_in_threadpool(_load, get_ctx(request), session.uid)
    if user is None or not user.active or password_fingerprint(user.password_hash, user.session_epoch) != session.pw:
        session.log_out()
        raise LoginRequired(target)
    return user


def require_role(user: User, *roles: str) -> None:
    if not any(user.has_role(role) for role in roles):
        raise UiError(403, *FORBIDDEN)


def sees_all(user: User) -> bool:
    return any(user.has_role(role) for role in CENTRAL_ROLES)


def visible_units(session: DbSession, user: User, on: date) -> set[int] | None:
    """The unit ids whose invoices ``user`` may see on ``on``; None: all (central roles)."""
    if sees_all(user):
        return None
    return acting_units(session, user, on)


def may_see_item(session: DbSession, user: User, item_id: int, on: date) -> bool:
    units = visible_units(session, user, on)
    if units is None:
        return True
    if not units:
        return False
    if session.scalar(select(Assignment.item_id).where(Assignment.item_id == item_id,
                                                       Assignment.unit_id.in_(units))) is not None:
        return True
    return session.scalar(select(ApprovalStep.id).join(ApprovalCase, ApprovalCase.id == ApprovalStep.case_id)
                          .where(ApprovalCase.item_id == item_id, ApprovalStep.unit_id.in_(units)).limit(1)) is not None


def visible_item(session: DbSession, user: User, item_id: int, on: date) -> IntakeItem:
    """The item if it exists and ``user`` may see it, else `UiError` 404 (the same for both)."""
    item = session.get(IntakeItem, item_id)
    if item is None or not may_see_item(session, user, item_id, on):
        raise UiError(404, *NOT_FOUND)
    return item
