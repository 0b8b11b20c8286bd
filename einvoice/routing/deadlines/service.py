"""Deadline rows in the database: compute (upsert) per item, settle after the Anordnung, mark lost.

The caller owns the transaction (functions take a `Session`). Settings default to `load_settings()`.

- `compute_for_item(session, item)`: the `InvoiceDeadline` of an item from its latest
  `ParsedInvoice` (`compute.compute`): receipt date = ``IntakeItem.received_at`` in Europe/Berlin;
  unit from the `Assignment` (its ``OrgUnit.bundesland`` gives the working days, else
  ``EINVOICE_BUNDESLAND``). An item already approved is settled at once; an outcome already
  recorded (captured/lost) is kept.
- `settle(session, item_id)`: after the Anordnung (`ApprovalCase` ``approved`` with ``frozen_at``):
  **captured** if the Berlin date of ``frozen_at`` is on or before the chosen term's
  ``latest_approval`` (the last working day on or before the deadline minus
  ``EINVOICE_PAYMENT_RUN_LEAD_DAYS`` working days, default 1: the Kasse needs a working day to put
  an ordered payment into a run that executes by the deadline); the chosen term is the best one
  reachable on that date, ``outcome_amount`` its discount. Otherwise **lost**, ``outcome_amount`` the
  discount of the best term offered (what it would have saved). With staggered terms, catching only a
  lower term counts as captured with that term's discount (the difference is not reported as lost).
- `mark_lost_deadlines(session)`: open rows without an Anordnung whose best term is no longer
  reachable today: ``skonto_deadline`` moves to the next reachable staggered term, or the row becomes
  lost. Lost and captured outcomes are written to the item's audit trail.
- `refresh(session)`: what the daily task does: compute missing rows (and rows whose item was
  assigned to another unit since), settle approved items, mark lost.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ...config import load_settings
from ...intake.process import receipt_date
from ...intake.states import audit
from ...store.masterdata_models import OrgUnit
from ...store.models import IntakeItem, ItemState, ParsedInvoice
from ...store.routing_models import ApprovalCase, Assignment, CaseStatus, InvoiceDeadline, SkontoStatus
from ...store.types import utcnow
from ..clock import BERLIN, SYSTEM_CLOCK, Clock, today
from .calendar import land_for
from .compute import Term, best_offered, best_term, cents, compute, interest_weight_cents

ACTOR = "system:deadlines"
NO_DEADLINES_STATES = (ItemState.RECEIVED, ItemState.VALIDATED, ItemState.REJECTED, ItemState.DUPLICATE,
                       ItemState.FAILED)


def latest_model(session: Session, item_id: int) -> dict[str, Any] | None:
    row = session.scalars(select(ParsedInvoice).where(ParsedInvoice.item_id == item_id)
                          .order_by(ParsedInvoice.id.desc()).limit(1)).first()
    return row.model if row is not None else None


def approved_case(session: Session, item_id: int) -> ApprovalCase | None:
    """The case whose Anordnung was given (``approved`` with ``frozen_at``), latest first."""
    return session.scalars(select(ApprovalCase).where(
        ApprovalCase.item_id == item_id, ApprovalCase.status == CaseStatus.APPROVED.value,
        ApprovalCase.frozen_at.is_not(None)).order_by(ApprovalCase.frozen_at.desc()).limit(1)).first()


def item_land(session: Session, unit_id: int | None, settings: Any) -> str:
    unit = session.get(OrgUnit, unit_id) if unit_id is not None else None
    return land_for(unit.bundesland if unit is not None else None, settings)


def _terms(row: InvoiceDeadline) -> list[Term]:
    return [Term.from_json(t) for t in row.terms or []]


def _fallback_pay_by(row: InvoiceDeadline) -> date:
    return min(d for d in (row.due_date, row.legal_due_date) if d is not None)


def _show(row: InvoiceDeadline, term: Term | None) -> None:
    """Point the row at ``term`` (the best reachable one) or at the due dates."""
    row.skonto_deadline = term.deadline if term else None
    row.skonto_amount = term.discount if term else None
    row.pay_by = term.deadline if term else _fallback_pay_by(row)
    row.money_at_risk_cents = cents(term.discount) if term else interest_weight_cents(row.payable)


def _lose(session: Session, row: InvoiceDeadline, *, at, reason: str) -> None:
    offered = best_offered(_terms(row))
    row.skonto_status = SkontoStatus.LOST.value
    row.outcome_amount = offered.discount if offered else None
    row.outcome_at = at
    item = session.get(IntakeItem, row.item_id)
    audit(item, actor=ACTOR, event="skonto-lost", reason=reason,
          details={"offered": row.outcome_amount, "deadline": offered.deadline if offered else None})


def compute_for_item(session: Session, item: IntakeItem, *, clock: Clock = SYSTEM_CLOCK,
                     settings: Any = None) -> InvoiceDeadline:
    """Create or update the item's `InvoiceDeadline` (see the module docstring)."""
    settings = settings or load_settings()
    model = latest_model(session, item.id)
    if model is None:
        raise LookupError(f"item {item.id} has no parsed invoice: no deadlines")
    assignment = session.get(Assignment, item.id)
    unit_id = assignment.unit_id if assignment is not None else None
    facts = compute(model, receipt_date(item.received_at), settings, land=item_land(session, unit_id, settings))
    on = today(clock)
    row = session.get(InvoiceDeadline, item.id)
    if row is None:
        row = InvoiceDeadline(item_id=item.id, skonto_status=SkontoStatus.NONE.value)
        session.add(row)
    settled = row.skonto_status in (SkontoStatus.CAPTURED.value, SkontoStatus.LOST.value)
    row.unit_id, row.receipt_date, row.issue_date = unit_id, facts.receipt_date, facts.issue_date
    row.due_date, row.legal_due_date, row.currency = facts.due_date, facts.legal_due_date, facts.currency
    row.payable = facts.payable
    row.terms = [t.to_json() for t in facts.terms]
    row.notes = facts.notes
    offered = facts.offered
    row.offered_amount = offered.discount if offered else None
    row.updated_at = utcnow()
    if settled and offered is not None:
        session.flush()
        return row
    status = facts.status(on)
    row.outcome_amount, row.outcome_at = None, None
    row.skonto_status = SkontoStatus.OPEN.value if status == SkontoStatus.LOST else status.value
    _show(row, facts.best_term(on))
    if not facts.is_payable:
        row.money_at_risk_cents = 0
    session.flush()
    if status in (SkontoStatus.OPEN, SkontoStatus.LOST) and approved_case(session, item.id) is not None:
        return settle(session, item.id, clock=clock, settings=settings)
    if status == SkontoStatus.LOST:
        _lose(session, row, at=clock.now(), reason="Skontofrist bei Eingang/Berechnung bereits abgelaufen")
        session.flush()
    return row


def settle(session: Session, item_id: int, *, clock: Clock = SYSTEM_CLOCK, settings: Any = None) -> InvoiceDeadline:
    """Record captured or lost Skonto once the Anordnung is given (see the module docstring)."""
    row = session.get(InvoiceDeadline, item_id)
    if row is None:
        item = session.get(IntakeItem, item_id)
        if item is None:
            raise LookupError(f"no item {item_id}")
        return compute_for_item(session, item, clock=clock, settings=settings)  # settles if approved
    case = approved_case(session, item_id)
    if case is None:
        raise ValueError(f"item {item_id} has no Anordnung yet: nothing to settle")
    row.money_at_risk_cents = 0  # ordered: nothing left at risk in the approval workflow
    row.updated_at = utcnow()
    if row.skonto_status not in (SkontoStatus.OPEN.value, SkontoStatus.LOST.value):
        return row  # none / manual / captured already
    frozen_day = case.frozen_at.astimezone(BERLIN).date()
    terms = _terms(row)
    chosen = best_term(terms, frozen_day)
    if chosen is not None and row.skonto_status == SkontoStatus.OPEN.value:
        row.skonto_status = SkontoStatus.CAPTURED.value
        row.outcome_amount, row.outcome_at = chosen.discount, case.frozen_at
        row.skonto_deadline, row.skonto_amount, row.pay_by = chosen.deadline, chosen.discount, chosen.deadline
        audit(session.get(IntakeItem, item_id), actor=ACTOR, event="skonto-captured",
              reason=f"Anordnung am {frozen_day:%d.%m.%Y} rechtzeitig vor der Skontofrist {chosen.deadline:%d.%m.%Y}",
              details={"discount": chosen.discount, "deadline": chosen.deadline, "percent": chosen.percent})
    elif row.skonto_status == SkontoStatus.OPEN.value:
        row.skonto_deadline, row.skonto_amount, row.pay_by = None, None, _fallback_pay_by(row)
        _lose(session, row, at=case.frozen_at,
              reason=f"Anordnung erst am {frozen_day:%d.%m.%Y}, nach dem letzten Tag für den Zahllauf")
    session.flush()
    return row


def mark_lost_deadlines(session: Session, *, clock: Clock = SYSTEM_CLOCK, settings: Any = None) -> dict[str, list[int]]:
    """Open rows without an Anordnung: move to the next reachable term, or mark lost. Returns the item
    ids per outcome (``lost``, ``moved``)."""
    on = today(clock)
    done: dict[str, list[int]] = {"lost": [], "moved": []}
    approved = exists().where(ApprovalCase.item_id == InvoiceDeadline.item_id,
                              ApprovalCase.status == CaseStatus.APPROVED.value, ApprovalCase.frozen_at.is_not(None))
    rows = session.scalars(select(InvoiceDeadline).where(
        InvoiceDeadline.skonto_status == SkontoStatus.OPEN.value, ~approved).order_by(InvoiceDeadline.item_id))
    for row in rows:
        term = best_term(_terms(row), on)
        if term is not None and term.deadline == row.skonto_deadline:
            continue
        _show(row, term)
        row.updated_at = utcnow()
        if term is None:
            _lose(session, row, at=clock.now(), reason="Skontofrist ohne Zahlungsanordnung abgelaufen")
            done["lost"].append(row.item_id)
        else:
            done["moved"].append(row.item_id)
    session.flush()
    return done


def refresh(session: Session, *, clock: Clock = SYSTEM_CLOCK, settings: Any = None) -> dict[str, Any]:
    """Compute rows for parsed items that have none, settle approved open ones, mark lost ones."""
    settings = settings or load_settings()
    missing = session.scalars(select(IntakeItem).where(
        IntakeItem.state.not_in([s.value for s in NO_DEADLINES_STATES]),
        exists().where(ParsedInvoice.item_id == IntakeItem.id),
        ~exists().where(InvoiceDeadline.item_id == IntakeItem.id)).order_by(IntakeItem.id)).all()
    for item in missing:
        compute_for_item(session, item, clock=clock, settings=settings)
    moved = session.scalars(select(IntakeItem).join(InvoiceDeadline, InvoiceDeadline.item_id == IntakeItem.id)
                            .join(Assignment, Assignment.item_id == IntakeItem.id)
                            .where(Assignment.unit_id.is_distinct_from(InvoiceDeadline.unit_id))).all()
    for item in moved:  # assigned to another unit since: its Land's working days count
        compute_for_item(session, item, clock=clock, settings=settings)
    to_settle = session.scalars(select(InvoiceDeadline.item_id).where(
        InvoiceDeadline.skonto_status == SkontoStatus.OPEN.value,
        exists().where(ApprovalCase.item_id == InvoiceDeadline.item_id,
                       ApprovalCase.status == CaseStatus.APPROVED.value,
                       ApprovalCase.frozen_at.is_not(None)))).all()
    for item_id in to_settle:
        settle(session, item_id, clock=clock, settings=settings)
    marked = mark_lost_deadlines(session, clock=clock, settings=settings)
    return {"computed": len(missing), "reassigned": len(moved), "settled": len(to_settle),
            **{k: len(v) for k, v in marked.items()}}


def recompute_all(session: Session, *, clock: Clock = SYSTEM_CLOCK, settings: Any = None) -> int:
    """`compute_for_item` for every parsed item (after a settings or master data change); returns the count."""
    settings = settings or load_settings()
    items = session.scalars(select(IntakeItem).where(
        IntakeItem.state.not_in([s.value for s in NO_DEADLINES_STATES]),
        exists().where(ParsedInvoice.item_id == IntakeItem.id)).order_by(IntakeItem.id)).all()
    for item in items:
        compute_for_item(session, item, clock=clock, settings=settings)
    mark_lost_deadlines(session, clock=clock, settings=settings)
    return len(items)
