"""Rejecting an invoice to the supplier before its approval started (the Rechnungseingangsstelle).

An item in the manual queue (``parsed``) or assigned but without an approval (``matched``) is rejected
by a person with a reason, like an approver's rejection in the workflow
(`einvoice.routing.workflow.decisions.reject_to_supplier`): the item goes ``parsed|matched →
rejected`` (a `MANUAL` transition: only ``user:…`` actors) with the reason in the audit event (details
``to_supplier`` and ``reason``), and the ``workflow-rejection`` notice to the supplier is queued in
the same transaction (recipient: `einvoice.handoff.mail.workflow_rejection_recipient`; none found: an
audit note ``notice-skipped`` says so). The notice reads the reason from that audit event, since the
item has no approval step that carries it. An item with an open approval case is rejected in the
workflow instead (refused here).

The caller owns the transaction and checks the role.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..handoff.mail import enqueue_notice, workflow_rejection_recipient
from ..intake.states import audit, transition
from ..store.mail_models import NoticeKind
from ..store.models import AuditEvent, IntakeItem, ItemState
from ..store.routing_models import ApprovalCase, CaseStatus
from ..store.types import utcnow

REJECTABLE = (ItemState.PARSED.value, ItemState.MATCHED.value)
MAX_REASON = 4000


class RejectionError(ValueError):
    """A refused rejection, with a German message for the person (``status`` for the UI)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message, self.status = message, status


def reject_before_approval(session: Session, item: IntakeItem, *, actor: str, reason: str | None) -> str | None:
    """Reject ``item`` (parsed or matched, no open approval) to its supplier; returns the notice's
    recipient (None: nobody known, an audit note says so)."""
    reason = (reason or "").strip()
    if not reason:
        raise RejectionError("Bitte geben Sie eine Begründung für den Lieferanten an.")
    if len(reason) > MAX_REASON:
        raise RejectionError(f"Die Begründung ist zu lang (höchstens {MAX_REASON} Zeichen).")
    if not (actor or "").startswith("user:"):
        raise RejectionError("Nur eine Person kann eine Rechnung ablehnen.", status=403)
    if item.state not in REJECTABLE:
        raise RejectionError(f"Eingang {item.id} ist nicht mehr offen (Stand: {item.state}) – bitte neu laden.",
                             status=409)
    running = session.scalar(select(ApprovalCase.id).where(
        ApprovalCase.item_id == item.id, ApprovalCase.status.in_((CaseStatus.OPEN.value, CaseStatus.PARKED.value))))
    if running is not None:
        raise RejectionError("Diese Rechnung ist bereits in der Freigabe: bitte dort ablehnen.", status=409)
    now = utcnow()
    transition(item, ItemState.REJECTED, actor, f"An den Lieferanten abgelehnt: {reason}",
               details={"to_supplier": True, "reason": reason}, at=now)
    recipient = workflow_rejection_recipient(session, item)
    if recipient:
        enqueue_notice(session, NoticeKind.WORKFLOW_REJECTION, item_id=item.id)
    else:
        audit(item, actor=actor, event="notice-skipped", at=now,
              reason="Ablehnung: keine E-Mail-Adresse des Lieferanten bekannt (weder Absender noch BT-43/BT-34), "
                     "bitte auf anderem Weg mitteilen", details={"kind": NoticeKind.WORKFLOW_REJECTION.value})
    session.flush()
    return recipient


def rejection_reason(session: Session, item_id: int) -> str | None:
    """The reason of the latest rejection before approval (`reject_before_approval`), if any."""
    events = session.scalars(select(AuditEvent).where(AuditEvent.item_id == item_id,
                                                      AuditEvent.event == "transition",
                                                      AuditEvent.to_state == ItemState.REJECTED.value)
                             .order_by(AuditEvent.id.desc()))
    for event in events:
        details = event.details or {}
        if details.get("to_supplier"):
            return str(details.get("reason") or "") or None
    return None
