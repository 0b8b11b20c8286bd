"""The payment data of a case: partial acceptance (payable amount), the IBAN alert, and reopening
the Anordnung to change frozen data.

- `set_payable`: partial acceptance (Kürzung) with a corrected payable amount and a mandatory
  reason, while the sachlich or rechnerisch step is open, by whoever may decide it — the ones who
  certify the amount, never the person ordering it (who returns the case instead).
  0 <= |payable| <= |gross|, same sign as the gross amount.
- `clear_iban_alert`: a second person confirms the bank account (reason: how it was confirmed);
  who may, see `checks.may_clear_iban_alert`.
- `reopen_anordnung`: after the Anordnung, payee, IBAN and payable amount are frozen. Any change
  needs a new Anordnung: this reopens the Anordnung step(s) of an ``approved`` (not yet exported)
  case, applies the changes (payable amount, IBAN — checked against master data again —, payee
  name), clears the freeze and moves the item ``approved → in_approval`` (a person, with reason).
  Allowed to whoever may work on the Anordnung step (limit aside) and to ``kaemmerei``/``admin``.

All take ``(session, case_id, *, user, expected_version, reason, …, clock)`` like `decisions.py`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import iban as stdnum_iban

from ...intake.states import transition
from ...store.handoff_models import PaymentEntry
from ...store.masterdata_models import User
from ...store.models import ItemState
from ...store.routing_models import ApprovalCase, Assignment, CaseStatus, StepKind, StepState
from ..clock import SYSTEM_CLOCK, Clock, today
from .cases import check_iban, open_next
from .checks import actor_of, may_clear_iban_alert, may_handle, require_open, require_reason, supplier_conflict
from .decisions import load, open_step, record
from .errors import Conflict, InvalidInput, NotAllowed
from .facts import CENT, euro, normalize_iban

FROZEN = ("Nach der Anordnung sind Zahlbetrag, Zahlungsempfänger und IBAN festgeschrieben: Änderungen nur über "
          "„Anordnung wieder öffnen“ mit neuer Anordnung")


def _payable(case: ApprovalCase, value) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", ".") if isinstance(value, str) else str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"Zahlbetrag {value!r} ist kein Betrag") from None
    if isinstance(value, float) or not amount.is_finite():
        raise InvalidInput(f"Zahlbetrag {value!r} ist kein Betrag")
    amount = amount.quantize(CENT)
    gross = case.gross_amount
    if amount and (amount < 0) != (gross < 0) or abs(amount) > abs(gross):
        raise InvalidInput(f"Der Zahlbetrag muss zwischen 0 und dem Rechnungsbetrag {euro(gross)} liegen")
    return amount


def set_payable(session: Session, case_id: int, *, user: User, expected_version: int, reason: str | None = None,
                payable_amount=None, clock: Clock = SYSTEM_CLOCK) -> ApprovalCase:
    reason = require_reason(reason, "Teilannahme")
    case, item, steps, user = load(session, case_id, user, expected_version)
    if case.status == CaseStatus.APPROVED or case.frozen_at is not None:
        raise NotAllowed(FROZEN)
    require_open(case)
    step = open_step(case, steps)
    if step.kind == StepKind.ANORDNUNG or any(s.kind == StepKind.ANORDNUNG and s.state == StepState.DONE
                                              for s in steps):
        raise NotAllowed("Eine Teilannahme ist nur bei der sachlichen oder rechnerischen Prüfung möglich: "
                         "bitte an den vorherigen Schritt zurückgeben")
    if payable_amount is None:
        raise InvalidInput("Bitte den Zahlbetrag angeben")
    permit = may_handle(session, case, step, user, today(clock), roles=())
    supplier_conflict(session, case, user)
    amount = _payable(case, payable_amount)
    before, case.payable_amount, case.payable_reason = case.payable_amount, amount, reason
    return record(session, case, item, user, decision="payable", reason=reason, clock=clock, step=step,
                  permit=permit, payable_before=str(before), payable=str(amount))


def clear_iban_alert(session: Session, case_id: int, *, user: User, expected_version: int,
                     reason: str | None = None, clock: Clock = SYSTEM_CLOCK) -> ApprovalCase:
    reason = require_reason(reason, "IBAN-Warnung freigeben")
    case, item, steps, user = load(session, case_id, user, expected_version)
    may_clear_iban_alert(session, case, steps, user)
    case.iban_alert, case.iban_alert_cleared_by = "cleared", actor_of(user)
    return record(session, case, item, user, decision="clear-iban-alert", reason=reason, clock=clock,
                  iban=case.payee_iban, alert=case.iban_alert_reason)


def reopen_anordnung(session: Session, case_id: int, *, user: User, expected_version: int, reason: str | None = None,
                     payable_amount=None, payee_iban: str | None = None, payee_name: str | None = None,
                     clock: Clock = SYSTEM_CLOCK) -> ApprovalCase:
    reason = require_reason(reason, "Anordnung wieder öffnen")
    case, item, steps, user = load(session, case_id, user, expected_version)
    if case.status != CaseStatus.APPROVED or item.state != ItemState.APPROVED:
        raise Conflict("Nur eine angeordnete, noch nicht exportierte Rechnung kann wieder geöffnet werden")
    if session.scalar(select(PaymentEntry.id).where(PaymentEntry.item_id == item.id, PaymentEntry.active)):
        raise Conflict("Die Rechnung steht in einer Zahlungsdatei: erst den Zahllauf stornieren, dann die Anordnung "
                       "wieder öffnen")
    orders = [s for s in steps if s.kind == StepKind.ANORDNUNG]
    permit = may_handle(session, case, orders[-1], user, today(clock), roles=("kaemmerei", "admin"))
    supplier_conflict(session, case, user)
    changes: dict[str, str | None] = {}
    if payable_amount is not None:
        amount = _payable(case, payable_amount)
        changes["payable"] = f"{case.payable_amount} → {amount}"
        case.payable_amount, case.payable_reason = amount, reason
    new_iban = normalize_iban(payee_iban)
    if new_iban is not None and new_iban != case.payee_iban:
        if not stdnum_iban.is_valid(new_iban):
            raise InvalidInput(f"IBAN {payee_iban!r} ist ungültig (Prüfziffer)")
        changes["iban"] = f"{case.payee_iban} → {new_iban}"
        case.payee_iban = new_iban
        assignment = session.get(Assignment, case.item_id)
        check_iban(session, case, assignment.supplier_id if assignment else None)
    if payee_name is not None and payee_name.strip() and payee_name.strip() != case.payee_name:
        changes["payee"] = f"{case.payee_name} → {payee_name.strip()}"
        case.payee_name = payee_name.strip()
    for step in orders:
        step.state = StepState.WAITING.value
    now = clock.now()
    open_next(case, steps, orders[0].position - 1, now)
    case.status, case.frozen_at, case.frozen_by, case.closed_at = CaseStatus.OPEN.value, None, None, None
    transition(item, ItemState.IN_APPROVAL, actor_of(user), f"Anordnung wieder geöffnet: {reason}",
               details={"case_id": case.id, **changes}, at=now)
    return record(session, case, item, user, decision="reopen", reason=reason, clock=clock, step=orders[0],
                  permit=permit, changes=changes, iban_alert=case.iban_alert)
