"""The state machine of an intake item, and the only place that changes an item's state.

::

    received ──► validated ──► parsed ──► matched ──► in_approval ──► approved ──► exported ──► archived
        │            │           │  ▲         ▲             │
        │            │           │  └─────────┤             │ (matched → parsed: a re-run found no match:
        │            │           │            └─────────────┘  manual queue; in_approval → matched: reassigned)
        ├──► rejected ◄──────────┴────────────┴─────────────┘ (a person rejects to the supplier, with a reason)
        ├──► rejected ───────────────────────────────────────────────────────────────────────► archived
        │     (└──► validated: a person accepts an officially invalid invoice after review)
        ├──► duplicate (linked to the first item) ─────────────────────────────────────────────► archived
        └──► failed (error kept) ──► received (reprocess) / archived

``duplicate`` is reachable from received (same file), validated and parsed (same seller + invoice
number + year); ``failed`` from every state before ``exported``. ``approved → in_approval``: a person
reopens the Anordnung to change frozen payment data (payable amount, IBAN), which needs a new Anordnung.

`transition` refuses anything not in `ALLOWED` and appends one `AuditEvent` per change (who/what,
when, from, to, why). Audit events are append-only and hash-chained per item (`einvoice.store.audit_chain`
gives each its seq, prev_hash and hash when it is flushed); nothing else changes ``IntakeItem.state``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, object_session

from ..store.audit_chain import link_rows, stored_details
from ..store.models import AuditEvent, IntakeItem, ItemState
from ..store.types import as_utc, utcnow

S = ItemState

ALLOWED: dict[ItemState, frozenset[ItemState]] = {
    S.RECEIVED: frozenset({S.VALIDATED, S.REJECTED, S.DUPLICATE, S.FAILED}),
    S.VALIDATED: frozenset({S.PARSED, S.DUPLICATE, S.FAILED}),
    S.REJECTED: frozenset({S.VALIDATED, S.ARCHIVED}),
    S.PARSED: frozenset({S.MATCHED, S.REJECTED, S.DUPLICATE, S.FAILED}),
    S.MATCHED: frozenset({S.IN_APPROVAL, S.PARSED, S.REJECTED, S.FAILED}),
    S.IN_APPROVAL: frozenset({S.APPROVED, S.MATCHED, S.REJECTED, S.FAILED}),
    S.APPROVED: frozenset({S.EXPORTED, S.IN_APPROVAL, S.FAILED}),
    S.EXPORTED: frozenset({S.ARCHIVED, S.APPROVED}),
    S.ARCHIVED: frozenset(),
    S.DUPLICATE: frozenset({S.ARCHIVED}),
    S.FAILED: frozenset({S.RECEIVED, S.ARCHIVED}),
}

# Transitions that a person (not the system) must make, with a reason.
MANUAL: frozenset[tuple[ItemState, ItemState]] = frozenset({
    (S.REJECTED, S.VALIDATED),  # accepted after review (triage "review": EN 16931-conform, CIUS rules failing)
    (S.FAILED, S.RECEIVED),  # reprocess after the cause was fixed
    (S.PARSED, S.REJECTED),  # the Rechnungseingangsstelle rejects an unmatched invoice (wrong recipient ...)
    (S.MATCHED, S.REJECTED),  # rejected to the supplier before the approval started
    (S.IN_APPROVAL, S.REJECTED),  # an approver rejects the invoice to the supplier, with a reason
    (S.APPROVED, S.IN_APPROVAL),  # frozen payment data change: the Anordnung is reopened (workflow.payment)
    (S.EXPORTED, S.APPROVED),  # the Kämmerei cancels an export batch: its invoices are ready again
})

TERMINAL = frozenset(state for state, targets in ALLOWED.items() if not targets)


class IllegalTransition(ValueError):
    def __init__(self, item_id: int | None, from_state: str | None, to_state: str, why: str = ""):
        self.item_id, self.from_state, self.to_state = item_id, from_state, to_state
        allowed = ", ".join(sorted(ALLOWED.get(ItemState(from_state), ()))) if from_state in S._value2member_map_ else ""
        super().__init__(f"item #{item_id}: {from_state} → {to_state} is not allowed"
                         + (f" ({why})" if why else f" (allowed from {from_state}: {allowed or 'nothing'})"))


def can_transition(from_state: str, to_state: str) -> bool:
    try:
        return ItemState(to_state) in ALLOWED[ItemState(from_state)]
    except (ValueError, KeyError):
        return False


def _session_of(item: IntakeItem) -> Session:
    session = object_session(item)
    if session is None:
        raise ValueError(f"item #{item.id} is not in a session: load it in the transaction that changes it")
    return session


def audit(item: IntakeItem, *, actor: str, event: str, reason: str | None = None, from_state: str | None = None,
          to_state: str | None = None, details: dict[str, Any] | None = None, at: datetime | None = None) -> AuditEvent:
    """Append one audit event for the item, in the item's session (also for facts that are not state changes)."""
    if not actor:
        raise ValueError("an audit event needs an actor (who or what did it)")
    session = _session_of(item)
    if item.id is None:
        session.flush()  # a new item needs its id: the chain is per item
    record = AuditEvent(item_id=item.id, at=as_utc(at) if at else utcnow(), actor=actor, event=event,
                        from_state=from_state, to_state=to_state, reason=reason, details=stored_details(details))
    session.add(record)  # seq, prev_hash and hash are given at flush: einvoice.store.audit_chain
    return record


def transition(item: IntakeItem, to: ItemState | str, actor: str, reason: str, *,
               details: dict[str, Any] | None = None, at: datetime | None = None,
               error: str | None = None) -> AuditEvent:
    """Move the item to ``to`` and append the audit event, in the transaction of the item's session.

    Raises `IllegalTransition` for anything `ALLOWED` does not list, and for the `MANUAL`
    transitions unless the actor is a person (``user:<name>``). ``error`` is kept on the item for
    ``failed`` (the traceback); it is cleared when a failed item is reprocessed.
    """
    if not actor:
        raise ValueError("a transition needs an actor (who or what did it)")
    if not reason or not reason.strip():
        raise ValueError("a transition needs a reason")
    target = ItemState(to)
    current = item.state
    _session_of(item)
    if not can_transition(current, target):
        raise IllegalTransition(item.id, current, target.value)
    if (ItemState(current), target) in MANUAL and not actor.startswith("user:"):
        raise IllegalTransition(item.id, current, target.value, f"only a person may do this, not {actor}")
    when = as_utc(at) if at else utcnow()
    item.state = target.value
    item.state_changed_at = when
    if target is S.FAILED:
        item.error = error or reason
    elif target is S.RECEIVED:
        item.error = None
    return audit(item, actor=actor, event="transition", reason=reason, from_state=current,
                 to_state=target.value, details=details, at=when)


def transition_many(session: Session, items: list[IntakeItem], to: ItemState | str, actor: str, reason: str, *,
                    details: dict[str, Any] | None = None, at: datetime | None = None) -> int:
    """`transition` for many items at once (e.g. the 10,000 invoices of an export batch): the same checks
    per item, then one UPDATE statement (executemany) and one INSERT of all audit events, instead of a
    round trip per item. The caller must hold the items' row locks in this transaction (they were
    selected FOR UPDATE, or SQLite's write lock is held), so no concurrent writer can interleave; the
    items are expired afterwards and reload their new state on next access. Returns the number moved."""
    from sqlalchemy import bindparam, insert, update

    if not actor:
        raise ValueError("a transition needs an actor (who or what did it)")
    if not reason or not reason.strip():
        raise ValueError("a transition needs a reason")
    target = ItemState(to)
    for item in items:
        if not can_transition(item.state, target):
            raise IllegalTransition(item.id, item.state, target.value)
        if (ItemState(item.state), target) in MANUAL and not actor.startswith("user:"):
            raise IllegalTransition(item.id, item.state, target.value, f"only a person may do this, not {actor}")
    if not items:
        return 0
    session.flush()  # pending ORM changes of these items first
    when = as_utc(at) if at else utcnow()
    table = IntakeItem.__table__
    session.execute(
        update(table).where(table.c.id == bindparam("b_id")).values(
            state=target.value, state_changed_at=when, version=bindparam("b_version")),
        [{"b_id": item.id, "b_version": item.version + 1} for item in items])
    session.execute(insert(AuditEvent), link_rows(session, [
        {"item_id": item.id, "at": when, "actor": actor, "event": "transition", "from_state": item.state,
         "to_state": target.value, "reason": reason, "details": details} for item in items]))
    for item in items:
        session.expire(item)
    return len(items)


def initial_event(item: IntakeItem, *, actor: str, reason: str,
                  details: dict[str, Any] | None = None) -> AuditEvent:
    """The first event of a new item: (nothing) → received."""
    if item.state != S.RECEIVED:
        raise IllegalTransition(item.id, None, item.state, "a new item starts in received")
    return audit(item, actor=actor, event="transition", reason=reason, from_state=None,
                 to_state=S.RECEIVED.value, details=details)
