"""The decisions people take on an approval case: approve, return, reject to the supplier, park,
unpark, forward a step, reassign the invoice, comment. (Payable amount, IBAN alert and reopening the
Anordnung: `payment.py`.)

Every function takes ``(session, case_id, *, user, expected_version, reason=…, clock=…)`` in the
caller's transaction and returns the updated `ApprovalCase`:

- ``expected_version`` must equal the case's version (the one the user saw), else `Conflict`
  ("… inzwischen von X bearbeitet – bitte neu laden"); a concurrent commit in between is caught by
  the version counter at flush (`cases.run_decision` turns it into the same `Conflict`). Comments
  do not change the case and need no version.
- The rules (`checks.py`) are checked first; nothing changes when one refuses.
- Every decision appends an ``approval`` audit event on the item (actor ``user:<name>``; details:
  case, step kind and position, decision, user, acting_for — the absent person a substitute acts
  for —, the new version, warnings), besides the item's ``transition`` events.
- A reason is mandatory for return, reject, park, forward, reassign and comments (`ReasonRequired`).
- Approving the last step closes the case as ``approved``: payee, IBAN and payable amount are
  frozen (``frozen_at``/``frozen_by``) and the item goes ``in_approval → approved``.
- Rejecting closes the case as ``rejected``, the item goes ``in_approval → rejected`` and the
  ``workflow-rejection`` notice to the supplier is queued in the same transaction (recipient:
  `einvoice.handoff.mail.workflow_rejection_recipient`; none found: an audit note says so).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...handoff.mail import enqueue_notice, workflow_rejection_recipient
from ...intake.states import audit, transition
from ...store.mail_models import NoticeKind
from ...store.masterdata_models import CostCentre, OrgUnit, User
from ...store.models import IntakeItem, ItemState
from ...store.routing_models import ApprovalCase, ApprovalStep, Assignment, CaseStatus, Comment, StepState
from ..clock import SYSTEM_CLOCK, Clock, today
from ..deadlines.service import settle as settle_skonto
from .cases import current_step, last_editor, open_next, steps_of, touch
from .checks import Permit, actor_of, may_comment, may_decide, may_handle, require_open, require_reason
from .errors import Conflict, InvalidInput, NotAllowed, NotFound

OPEN_STATES = (StepState.OPEN.value, StepState.WAITING.value, StepState.RETURNED.value)


def load(session: Session, case_id: int, user: User, expected_version: int | None):
    """The case, its item, its steps and the acting user as rows of this session; checks the version."""
    case = session.get(ApprovalCase, case_id)
    if case is None:
        raise NotFound(f"Freigabe #{case_id} nicht gefunden")
    if expected_version is not None and case.version != int(expected_version):
        raise Conflict.stale(last_editor(session, case.item_id))
    acting = session.get(User, user.id)
    if acting is None or not acting.active:
        raise NotAllowed("Unbekannte oder deaktivierte Person")
    return case, session.get(IntakeItem, case.item_id), steps_of(session, case), acting


def open_step(case: ApprovalCase, steps: list[ApprovalStep]) -> ApprovalStep:
    require_open(case)
    step = current_step(steps)
    if step is None:
        raise Conflict("Diese Freigabe hat keinen offenen Schritt")
    return step


def record(session: Session, case: ApprovalCase, item: IntakeItem, user: User, *, decision: str, reason: str | None,
           clock: Clock, step: ApprovalStep | None = None, permit: Permit | None = None, **details) -> ApprovalCase:
    """Bump the case version and append the ``approval`` audit event."""
    touch(case)
    session.flush()
    acting_for = permit.acting_for if permit else None
    if permit and permit.warnings:
        details["warnings"] = permit.warnings
    audit(item, actor=actor_of(user), event="approval", reason=reason, at=clock.now(),
          details={"case_id": case.id, "step": step.kind if step else None, "position": step.position if step else None,
                   "decision": decision, "user": user.username,
                   "acting_for": acting_for.username if acting_for else None, "version": case.version, **details})
    return case


def _decide(step: ApprovalStep, user: User, permit: Permit, decision: str, reason: str | None, state: str,
            clock: Clock) -> None:
    step.state, step.decision, step.decided_at = state, decision, clock.now()
    step.decided_by_id = user.id
    step.acting_for_id = permit.acting_for.id if permit.acting_for else None
    step.reason = " | ".join(text for text in [reason, *permit.warnings] if text) or None


def approve(session: Session, case_id: int, *, user: User, expected_version: int, reason: str | None = None,
            clock: Clock = SYSTEM_CLOCK) -> ApprovalCase:
    case, item, steps, user = load(session, case_id, user, expected_version)
    step = open_step(case, steps)
    permit = may_decide(session, case, steps, step, user, today(clock), approving=True)
    _decide(step, user, permit, "approve", reason, StepState.DONE.value, clock)
    now = clock.now()
    if open_next(case, steps, step.position, now) is None:
        case.status, case.closed_at = CaseStatus.APPROVED.value, now
        case.frozen_at, case.frozen_by = now, actor_of(user)  # payee, IBAN and payable amount fixed
        transition(item, ItemState.APPROVED, actor_of(user), f"Anordnung erteilt: {reason or 'ohne Bemerkung'}",
                   details={"case_id": case.id}, at=now)
    case = record(session, case, item, user, decision="approve", reason=reason, clock=clock, step=step, permit=permit,
                  closed=case.status == CaseStatus.APPROVED)
    if case.status == CaseStatus.APPROVED:
        settle_skonto(session, item.id, clock=clock)  # captured or lost, in the same transaction
    return case


def return_to_previous(session: Session, case_id: int, *, user: User, expected_version: int, reason: str | None = None,
                       clock: Clock = SYSTEM_CLOCK) -> ApprovalCase:
    reason = require_reason(reason, "Zurückgeben")
    case, item, steps, user = load(session, case_id, user, expected_version)
    step = open_step(case, steps)
    permit = may_decide(session, case, steps, step, user, today(clock), approving=False)
    previous = [s for s in steps if s.position < step.position and s.state == StepState.DONE]
    if not previous:
        raise Conflict("Es gibt keinen vorherigen, von einer Person entschiedenen Schritt")
    _decide(step, user, permit, "return", reason, StepState.RETURNED.value, clock)
    target = previous[-1]
    target.state = StepState.WAITING.value
    open_next(case, steps, target.position - 1, clock.now())
    return record(session, case, item, user, decision="return", reason=reason, clock=clock, step=step, permit=permit,
                  returned_to=target.kind)


def reject_to_supplier(session: Session, case_id: int, *, user: User, expected_version: int,
                       reason: str | None = None, clock: Clock = SYSTEM_CLOCK) -> ApprovalCase:
    reason = require_reason(reason, "Ablehnen")
    case, item, steps, user = load(session, case_id, user, expected_version)
    step = open_step(case, steps)
    permit = may_decide(session, case, steps, step, user, today(clock), approving=False)
    _decide(step, user, permit, "reject", reason, StepState.DONE.value, clock)
    for other in steps:
        if other.state in OPEN_STATES:
            other.state = StepState.CANCELLED.value
    now = clock.now()
    case.status, case.closed_at = CaseStatus.REJECTED.value, now
    transition(item, ItemState.REJECTED, actor_of(user), f"An den Lieferanten abgelehnt: {reason}",
               details={"case_id": case.id}, at=now)
    recipient = workflow_rejection_recipient(session, item)
    if recipient:
        enqueue_notice(session, NoticeKind.WORKFLOW_REJECTION, item_id=item.id)
    else:
        audit(item, actor=actor_of(user), event="notice-skipped", at=now,
              reason="Ablehnung: keine E-Mail-Adresse des Lieferanten bekannt (weder Absender noch BT-43/BT-34), "
                     "bitte auf anderem Weg mitteilen", details={"kind": NoticeKind.WORKFLOW_REJECTION.value})
    return record(session, case, item, user, decision="reject", reason=reason, clock=clock, step=step, permit=permit,
                  notice_to=recipient)


def park(session: Session, case_id: int, *, user: User, expected_version: int, reason: str | None = None,
         clock: Clock = SYSTEM_CLOCK) -> ApprovalCase:
    reason = require_reason(reason, "Parken")
    case, item, steps, user = load(session, case_id, user, expected_version)
    require_open(case)
    step = current_step(steps)
    permit = may_handle(session, case, step, user, today(clock))
    case.status, case.parked_reason, case.parked_at = CaseStatus.PARKED.value, reason, clock.now()
    return record(session, case, item, user, decision="park", reason=reason, clock=clock, step=step, permit=permit)


def unpark(session: Session, case_id: int, *, user: User, expected_version: int, reason: str | None = None,
           clock: Clock = SYSTEM_CLOCK) -> ApprovalCase:
    case, item, steps, user = load(session, case_id, user, expected_version)
    if case.status != CaseStatus.PARKED:
        raise Conflict("Diese Rechnung ist nicht geparkt")
    step = current_step(steps)
    permit = may_handle(session, case, step, user, today(clock))
    parked_reason = case.parked_reason
    case.status, case.parked_reason, case.parked_at = CaseStatus.OPEN.value, None, None
    return record(session, case, item, user, decision="unpark", reason=reason, clock=clock, step=step, permit=permit,
                  parked_reason=parked_reason)


def _unit(session: Session, unit: str | int | None) -> OrgUnit:
    if unit is None or not str(unit).strip():
        raise InvalidInput("Bitte die Organisationseinheit angeben")
    row = session.scalars(select(OrgUnit).where(OrgUnit.code == str(unit).strip())).first()
    if row is None and str(unit).isdigit():
        row = session.get(OrgUnit, int(unit))
    if row is None or not row.active:
        raise InvalidInput(f"Organisationseinheit {unit!r} unbekannt oder nicht aktiv")
    return row


def forward(session: Session, case_id: int, *, user: User, expected_version: int, reason: str | None = None,
            unit: str | int | None = None, clock: Clock = SYSTEM_CLOCK) -> ApprovalCase:
    """Hand the open step to another unit (the rest of the chain stays)."""
    reason = require_reason(reason, "Weiterleiten")
    case, item, steps, user = load(session, case_id, user, expected_version)
    require_open(case)
    step = open_step(case, steps)
    permit = may_handle(session, case, step, user, today(clock))
    target = _unit(session, unit)
    if target.id == step.unit_id:
        raise InvalidInput("Der Schritt liegt bereits bei dieser Organisationseinheit")
    previous_unit, step.unit_id, step.opened_at = step.unit_id, target.id, clock.now()
    return record(session, case, item, user, decision="forward", reason=reason, clock=clock, step=step, permit=permit,
                  from_unit_id=previous_unit, to_unit=target.code)


def reassign(session: Session, case_id: int, *, user: User, expected_version: int, reason: str | None = None,
             unit: str | int | None = None, clock: Clock = SYSTEM_CLOCK) -> ApprovalCase:
    """Cancel the case, send the item back to ``matched`` with a new assignment (``unit`` if given,
    else the same); the caller starts a new case (`cases.start_case`)."""
    reason = require_reason(reason, "Neu zuordnen")
    case, item, steps, user = load(session, case_id, user, expected_version)
    require_open(case)
    step = current_step(steps)
    permit = may_handle(session, case, step, user, today(clock))
    assignment = session.get(Assignment, case.item_id)
    if assignment is None:
        raise Conflict("Die Rechnung hat keine Zuordnung")
    now = clock.now()
    if unit is not None:
        target = _unit(session, unit)
        centre = session.get(CostCentre, assignment.cost_centre_id) if assignment.cost_centre_id else None
        if centre is not None and centre.unit_id != target.id:
            assignment.cost_centre_id = None  # the old cost centre belongs to the old unit
        assignment.unit_id = target.id
    assignment.manual, assignment.assigned_by, assignment.assigned_at = True, actor_of(user), now
    assignment.reason = reason
    for other in steps:
        if other.state in OPEN_STATES:
            other.state = StepState.CANCELLED.value
    case.status, case.closed_at = CaseStatus.CANCELLED.value, now
    transition(item, ItemState.MATCHED, actor_of(user), f"Neu zugeordnet: {reason}", details={"case_id": case.id},
               at=now)
    return record(session, case, item, user, decision="reassign", reason=reason, clock=clock, step=step,
                  permit=permit, unit_id=assignment.unit_id)


def comment(session: Session, case_id: int, *, user: User, expected_version: int | None = None,
            reason: str | None = None, clock: Clock = SYSTEM_CLOCK) -> ApprovalCase:
    """A remark on the invoice (``reason`` is the text); needs no version and leaves the case as it is."""
    text = require_reason(reason, "Kommentar")
    case, item, steps, user = load(session, case_id, user, None)
    may_comment(session, case, steps, user, today(clock))
    session.add(Comment(item_id=case.item_id, user_id=user.id, author=user.display_name, at=clock.now(), text=text))
    audit(item, actor=actor_of(user), event="comment", reason=text, at=clock.now(),
          details={"case_id": case.id, "user": user.username})
    return case
