"""Which approved invoices may go into a payment run, with the data the Anordnung froze.

An invoice is payable when all of these hold (otherwise it is skipped with a German reason and a
code, never silently):

- its item is ``approved``, ``exported`` or ``archived`` (payment does not change the item state:
  an invoice may be paid before or after its booking export) — code ``state``;
- it has an Anordnung: an ``approved`` `ApprovalCase` with ``frozen_at`` (a reopened Anordnung is
  not) — ``not-approved``;
- it is not a credit note (negative gross amount, or the model's direction says the seller pays):
  a Gutschrift is offset, not paid — ``credit-note``; the payable amount is above zero — ``zero``;
- the frozen ``payee_iban`` is there — ``no-iban`` — and no IBAN alert is still open — ``iban-alert``;
- the currency is EUR (SEPA) — ``currency``;
- it is in no *active* `PaymentEntry` (a cancelled run frees its invoices) — ``in-run``.

Nothing is recomputed that routing decided: payee name, IBAN and payable amount come from the case,
the Skonto terms from ``InvoiceDeadline.terms`` (computed with `einvoice.routing.deadlines.compute`
from the stored model only when the row is missing). The creditor's BIC is optional in SEPA: taken
from the supplier's master data when its IBAN is the frozen one, else from the invoice (BT-86) when
given for that IBAN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ...intake.process import receipt_date
from ...routing.deadlines.compute import Term, compute
from ...routing.deadlines.service import approved_case, latest_model
from ...routing.workflow.facts import normalize_iban
from ...store.handoff_models import PaymentEntry
from ...store.masterdata_models import Supplier
from ...store.models import IntakeItem, ItemState
from ...store.routing_models import ApprovalCase, Assignment, CaseStatus, InvoiceDeadline

PAYABLE_STATES = (ItemState.APPROVED.value, ItemState.EXPORTED.value, ItemState.ARCHIVED.value)


@dataclass
class Candidate:
    """One invoice that may be paid, with the frozen payment data."""

    item_id: int
    case_id: int
    invoice_number: str
    payee_name: str | None
    payee_iban: str
    payee_bic: str | None
    payable: Decimal
    gross: Decimal
    currency: str
    terms: list[Term] = field(default_factory=list)


@dataclass(frozen=True)
class Skipped:
    item_id: int
    code: str
    reason: str  # German

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "code": self.code, "reason": self.reason}


def _active_run(session: Session, item_id: int) -> int | None:
    return session.scalar(select(PaymentEntry.run_id).where(PaymentEntry.item_id == item_id,
                                                            PaymentEntry.active.is_(True)))


def _terms(session: Session, item: IntakeItem, model: dict[str, Any] | None) -> list[Term]:
    row = session.get(InvoiceDeadline, item.id)
    if row is not None:
        return [Term.from_json(t) for t in row.terms or []]
    if model is None:
        return []
    return compute(model, receipt_date(item.received_at)).skonto_terms


def _bic(session: Session, item_id: int, iban: str, model: dict[str, Any] | None) -> str | None:
    assignment = session.get(Assignment, item_id)
    supplier = session.get(Supplier, assignment.supplier_id) if assignment and assignment.supplier_id else None
    if supplier is not None and supplier.bic and normalize_iban(supplier.iban) == iban:
        return supplier.bic.strip().upper()
    transfers = ((model or {}).get("invoice") or {}).get("payment_instructions") or {}
    for transfer in transfers.get("credit_transfers") or []:
        if normalize_iban(transfer.get("account_id")) == iban and transfer.get("service_provider_id"):
            return str(transfer["service_provider_id"]).strip().upper()
    return None


def _is_credit(model: dict[str, Any] | None) -> bool:
    direction = (model or {}).get("direction") or {}
    return bool(direction.get("is_credit_note")) or direction.get("direction") == "seller-pays"


def check_item(session: Session, item_id: int) -> Candidate | Skipped:
    """The `Candidate` for one item, or why it is `Skipped`."""
    item = session.get(IntakeItem, item_id)
    if item is None:
        return Skipped(item_id, "not-found", "Rechnung nicht gefunden")
    if item.state not in PAYABLE_STATES:
        return Skipped(item_id, "state", f"Status „{item.state}“: erst nach der Anordnung zahlbar")
    case = approved_case(session, item_id)
    if case is None:
        return Skipped(item_id, "not-approved", "Keine Zahlungsanordnung (fehlt oder wurde wieder geöffnet)")
    model = latest_model(session, item_id)
    if case.gross_amount < 0 or case.payable_amount < 0 or _is_credit(model):
        return Skipped(item_id, "credit-note", "Gutschrift: wird verrechnet, nicht überwiesen")
    if case.payable_amount == 0:
        return Skipped(item_id, "zero", "Zahlbetrag 0,00 EUR: nichts zu überweisen")
    iban = normalize_iban(case.payee_iban)
    if iban is None:
        return Skipped(item_id, "no-iban", "Keine IBAN des Zahlungsempfängers in der Anordnung festgeschrieben")
    if case.iban_alert == "open":
        return Skipped(item_id, "iban-alert", "IBAN-Warnung ist noch nicht von einer zweiten Person freigegeben")
    currency = ((model or {}).get("terms") or {}).get("BT-5") or "EUR"
    if currency != "EUR":
        return Skipped(item_id, "currency", f"Währung {currency}: SEPA-Überweisungen nur in EUR")
    run_id = _active_run(session, item_id)
    if run_id is not None:
        return Skipped(item_id, "in-run", f"Bereits im Zahllauf #{run_id}")
    number = item.invoice_number or ((model or {}).get("terms") or {}).get("BT-1") or f"Beleg {item.id}"
    return Candidate(item_id=item.id, case_id=case.id, invoice_number=str(number),
                     payee_name=case.payee_name or item.seller_name, payee_iban=iban,
                     payee_bic=_bic(session, item.id, iban, model), payable=case.payable_amount,
                     gross=case.gross_amount, currency=currency, terms=_terms(session, item, model))


def open_item_ids(session: Session) -> list[int]:
    """Items with an Anordnung in a payable state and in no active payment run, oldest first."""
    active = exists().where(PaymentEntry.item_id == IntakeItem.id, PaymentEntry.active.is_(True))
    ordered = exists().where(ApprovalCase.item_id == IntakeItem.id,
                             ApprovalCase.status == CaseStatus.APPROVED.value, ApprovalCase.frozen_at.is_not(None))
    return list(session.scalars(select(IntakeItem.id).where(IntakeItem.state.in_(PAYABLE_STATES), ordered, ~active)
                                .order_by(IntakeItem.id)))


def select_payable(session: Session, item_ids: list[int] | None = None) -> tuple[list[Candidate], list[Skipped]]:
    """The payable invoices among ``item_ids`` (None: every open one) and the skipped ones with reasons."""
    ids = open_item_ids(session) if item_ids is None else list(dict.fromkeys(item_ids))
    candidates: list[Candidate] = []
    skipped: list[Skipped] = []
    for item_id in ids:
        outcome = check_item(session, item_id)
        (candidates if isinstance(outcome, Candidate) else skipped).append(outcome)
    return candidates, skipped

