"""Who may act on an approval step today: members of the step's unit with the step's role, their
substitutes, and, for steps that need an amount limit, only those whose limit covers the amount.

A substitute (`Substitution`, dates inclusive, optionally for one unit) acts *in place of* the
absent user: `eligible_actors` returns ``(user, acting_for)`` pairs, ``acting_for`` being the absent
user or None. The four-eyes and conflict-of-interest checks (`einvoice.routing.workflow`) apply to
the person who acts, whoever they act for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ...store.masterdata_models import Substitution, User, UserUnit
from ...store.routing_models import ApprovalStep


def _covers(user: User, amount: Decimal | None, needs_limit: bool) -> bool:
    if not needs_limit or amount is None:
        return True
    return user.approval_limit is not None and abs(amount) <= user.approval_limit


MEMO = "einvoice.eligibility_memo"


@contextmanager
def memo(session: Session) -> Iterator[None]:
    """Within the block, `unit_members`, `absent_on` and the supplier links of a user are looked up once
    per session (a read that checks many steps, like the inbox); outside it nothing is cached."""
    outer = MEMO in session.info
    session.info.setdefault(MEMO, {})
    try:
        yield
    finally:
        if not outer:
            session.info.pop(MEMO, None)


def memoized(session: Session, key: tuple, compute):
    cache = session.info.get(MEMO)
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def unit_members(session: Session, unit_id: int | None, role: str) -> list[User]:
    return memoized(session, ("members", unit_id, role), lambda: _unit_members(session, unit_id, role))


def _unit_members(session: Session, unit_id: int | None, role: str) -> list[User]:
    if unit_id is None:
        return []
    users = session.scalars(
        select(User).join(UserUnit, UserUnit.user_id == User.id)
        .where(UserUnit.unit_id == unit_id, User.active.is_(True)).order_by(User.username)).all()
    return [user for user in users if user.has_role(role)]


def absent_on(session: Session, user_ids: list[int], on: date, unit_id: int | None) -> dict[int, list[Substitution]]:
    """Substitutions in force on ``on`` for the given (absent) users, by absent user id."""
    return memoized(session, ("absent", tuple(sorted(user_ids)), on, unit_id),
                    lambda: _absent_on(session, user_ids, on, unit_id))


def _absent_on(session: Session, user_ids: list[int], on: date, unit_id: int | None) -> dict[int, list[Substitution]]:
    if not user_ids:
        return {}
    rows = session.scalars(select(Substitution).where(
        Substitution.absent_user_id.in_(user_ids), Substitution.starts_on <= on, Substitution.ends_on >= on,
        or_(Substitution.unit_id.is_(None), and_(Substitution.unit_id == unit_id)))).all()
    found: dict[int, list[Substitution]] = {}
    for row in rows:
        found.setdefault(row.absent_user_id, []).append(row)
    return found


def eligible_actors(session: Session, step: ApprovalStep, on: date,
                    amount: Decimal | None = None) -> list[tuple[User, User | None]]:
    """``(user, acting_for)`` for everyone who may decide ``step`` on ``on``: the unit's members with
    the role (present ones act for themselves), and the substitutes of absent members (who act
    for them, within the absent member's amount limit and their own)."""
    members = unit_members(session, step.unit_id, step.role)
    absences = absent_on(session, [user.id for user in members], on, step.unit_id)
    result: list[tuple[User, User | None]] = []
    seen: set[tuple[int, int | None]] = set()
    for member in members:
        if member.id not in absences:
            if _covers(member, amount, step.needs_limit) and (member.id, None) not in seen:
                seen.add((member.id, None))
                result.append((member, None))
            continue
        if not _covers(member, amount, step.needs_limit):
            continue  # a substitute cannot act beyond the authority of the one they stand in for
        for substitution in absences[member.id]:
            substitute = session.get(User, substitution.substitute_user_id)
            if substitute is None or not substitute.active or substitute.id == member.id:
                continue
            if _covers(substitute, amount, step.needs_limit) and (substitute.id, member.id) not in seen:
                seen.add((substitute.id, member.id))
                result.append((substitute, member))
    return result


def acting_as(session: Session, step: ApprovalStep, user: User, on: date,
              amount: Decimal | None = None) -> tuple[bool, User | None]:
    """May ``user`` decide ``step`` on ``on``, and for whom? ``(True, None)``: in their own right;
    ``(True, absent_user)``: as substitute; ``(False, None)``: not at all. Acting in one's own right wins."""
    pairs = [(u, for_) for u, for_ in eligible_actors(session, step, on, amount) if u.id == user.id]
    if not pairs:
        return False, None
    own = [pair for pair in pairs if pair[1] is None]
    return True, (own[0][1] if own else pairs[0][1])
