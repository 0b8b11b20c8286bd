"""Payment runs: make one pain.001 file for chosen approved invoices, list, fetch and cancel runs.

The caller owns the transaction (functions take a `Session`); the file goes into the blob store
(content-addressed, written durably before the rows that point to it).

- `create_run(session, blobs, *, actor, execution_date, item_ids=None, settings=None, clock)`:
  refuses at once (nothing written) without the debtor settings (`sepa.debtor_from`) or with an
  execution date before today (Europe/Berlin). Selects the payable invoices (`select.select_payable`;
  ``item_ids`` None: every open one), computes each amount on the execution date
  (`amounts.amount_on`: Skonto only up to its deadline), checks each creditor IBAN — an invalid
  one is refused with its reason and not written —, writes the file (`sepa.build_pain001`) and
  records a `PaymentRun` with one `PaymentEntry` per transfer and an audit event ``payment`` per
  invoice. The item state does not change. Nothing payable: `NothingToPay` with every reason.
  The partial unique index on active entries keeps an invoice in one active run even when two runs
  are made at once (PostgreSQL: the second fails with `RunConflict`; SQLite: runs queue on the
  write lock and the second skips the invoice).
- `cancel_run(session, run_id, *, actor, reason, clock)`: status ``cancelled``, entries inactive,
  so the invoices can be paid again; a ``payment-cancelled`` audit event per invoice holds the reason
  (only for a file the bank has not executed: einvoice cannot know that).
- `run_file`, `list_runs`, `run_entries`, `run_json`: reading back; the file is returned exactly
  as stored (its SHA-256 is verified by the blob store).

EndToEndId ``EI-<item id>-<run token>``, MsgId ``EINV-<YYYYMMDD-HHMMSS>-<run token>`` (Berlin time;
the token is 6 random hex digits), so a re-run after a cancellation gets new ids.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...config import load_settings
from ...intake.receive import insert_ignore
from ...intake.states import audit
from ...routing.clock import BERLIN, SYSTEM_CLOCK, Clock, today
from ...store.blobs import BlobStore
from ...store.handoff_models import PaymentEntry, PaymentRun
from ...store.models import Blob, IntakeItem
from ...store.types import utcnow
from .amounts import PaymentAmount, amount_on
from .charset import NAME_MAX, sepa_text
from .errors import InvalidRequest, NothingToPay, RunConflict, RunNotFound
from .select import Skipped, select_payable
from .sepa import Transfer, build_pain001, debtor_from, iban_problem, remittance, valid_bic

ZERO = Decimal("0.00")


@dataclass
class RunResult:
    run: PaymentRun
    entries: list[PaymentEntry]
    skipped: list[Skipped] = field(default_factory=list)
    amounts: dict[int, PaymentAmount] = field(default_factory=dict)  # per item: how the amount came about


def create_run(session: Session, blobs: BlobStore, *, actor: str, execution_date: date,
               item_ids: list[int] | None = None, settings: Any = None, clock: Clock = SYSTEM_CLOCK) -> RunResult:
    """Make a payment run (see the module docstring)."""
    settings = settings or load_settings()
    if not isinstance(execution_date, date):
        raise InvalidRequest("Bitte ein Ausführungsdatum angeben (JJJJ-MM-TT)")
    if execution_date < today(clock):
        raise InvalidRequest(f"Das Ausführungsdatum {execution_date:%d.%m.%Y} liegt in der Vergangenheit")
    debtor = debtor_from(settings)
    candidates, skipped = select_payable(session, item_ids)
    now = clock.now()
    token = secrets.token_hex(3).upper()
    message_id = f"EINV-{now.astimezone(BERLIN):%Y%m%d-%H%M%S}-{token}"
    planned: list[tuple[int, Transfer, PaymentAmount]] = []
    for c in candidates:
        problem = iban_problem(c.payee_iban)
        name = sepa_text(c.payee_name, NAME_MAX)
        if problem:
            skipped.append(Skipped(c.item_id, "invalid-iban", f"{problem}: nicht in die Zahlungsdatei geschrieben"))
        elif not name:
            skipped.append(Skipped(c.item_id, "no-name", "Kein Name des Zahlungsempfängers"))
        else:
            pay = amount_on(c.payable, c.gross, c.terms, execution_date)
            planned.append((c.item_id, Transfer(
                end_to_end_id=f"EI-{c.item_id}-{token}", creditor_name=name, creditor_iban=c.payee_iban,
                creditor_bic=valid_bic(c.payee_bic), amount=pay.amount,
                remittance=remittance(c.invoice_number, pay.skonto)), pay))
    if not planned:
        raise NothingToPay("Keine der gewählten Rechnungen ist zahlbar: keine Zahlungsdatei erstellt",
                           details=[s.to_json() for s in skipped])
    transfers = [t for _, t, _ in planned]
    xml = build_pain001(debtor, transfers, message_id=message_id, execution_date=execution_date, created_at=now)
    sha = blobs.put(xml)
    insert_ignore(session, Blob, sha256=sha, size=len(xml), created_at=utcnow())
    run = PaymentRun(created_at=now, created_by=actor, execution_date=execution_date, message_id=message_id,
                     file_name=f"pain.001-{message_id}.xml", sha256=sha, transaction_count=len(transfers),
                     control_sum=sum((t.amount for t in transfers), ZERO),
                     skonto_total=sum((p.skonto for _, _, p in planned), ZERO), status="created")
    session.add(run)
    session.flush()
    entries = [PaymentEntry(run_id=run.id, item_id=item_id, active=True, end_to_end_id=t.end_to_end_id,
                            creditor_name=t.creditor_name, creditor_iban=t.creditor_iban, creditor_bic=t.creditor_bic,
                            amount=t.amount, skonto_deducted=p.skonto, remittance=t.remittance)
               for item_id, t, p in planned]
    session.add_all(entries)
    try:
        session.flush()
    except IntegrityError as exc:
        raise RunConflict("Eine der Rechnungen wurde gleichzeitig in einen anderen Zahllauf aufgenommen: "
                          "bitte neu laden und erneut versuchen") from exc
    for item_id, t, p in planned:
        audit(session.get(IntakeItem, item_id), actor=actor, event="payment", at=now,
              reason=f"Im Zahllauf #{run.id} zur Ausführung am {execution_date:%d.%m.%Y}: {p.explanation}",
              details={"run_id": run.id, "message_id": message_id, "end_to_end_id": t.end_to_end_id,
                       "amount": t.amount, "skonto": p.skonto, "iban": t.creditor_iban,
                       "term": p.term.to_json() if p.term else None})
    session.flush()
    return RunResult(run=run, entries=entries, skipped=skipped, amounts={i: p for i, _, p in planned})


def cancel_run(session: Session, run_id: int, *, actor: str, reason: str | None,
               clock: Clock = SYSTEM_CLOCK) -> PaymentRun:
    """Cancel a run: its invoices are free for another run (see the module docstring)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("Bitte einen Grund für die Stornierung angeben")
    run = session.get(PaymentRun, run_id, with_for_update=True)
    if run is None:
        raise RunNotFound(f"Zahllauf #{run_id} nicht gefunden")
    if run.status == "cancelled":
        raise RunConflict(f"Zahllauf #{run_id} ist bereits storniert ({run.cancelled_by})")
    now = clock.now()
    run.status, run.cancelled_at, run.cancelled_by = "cancelled", now, actor
    for entry in run_entries(session, run_id):
        entry.active = False
        audit(session.get(IntakeItem, entry.item_id), actor=actor, event="payment-cancelled", at=now,
              reason=f"Zahllauf #{run_id} storniert: {reason}",
              details={"run_id": run_id, "message_id": run.message_id, "amount": entry.amount})
    session.flush()
    return run


def get_run(session: Session, run_id: int) -> PaymentRun:
    run = session.get(PaymentRun, run_id)
    if run is None:
        raise RunNotFound(f"Zahllauf #{run_id} nicht gefunden")
    return run


def run_file(session: Session, blobs: BlobStore, run_id: int) -> tuple[PaymentRun, bytes]:
    """The run and its file, byte for byte as written."""
    run = get_run(session, run_id)
    return run, blobs.get(run.sha256)


def run_entries(session: Session, run_id: int) -> list[PaymentEntry]:
    return list(session.scalars(select(PaymentEntry).where(PaymentEntry.run_id == run_id).order_by(PaymentEntry.id)))


def list_runs(session: Session, *, status: str | None = None, limit: int = 100) -> list[PaymentRun]:
    """Runs, newest first."""
    query = select(PaymentRun).order_by(PaymentRun.id.desc()).limit(limit)
    if status:
        query = query.where(PaymentRun.status == status)
    return list(session.scalars(query))


def entry_json(entry: PaymentEntry) -> dict[str, Any]:
    return {"item_id": entry.item_id, "active": entry.active, "end_to_end_id": entry.end_to_end_id,
            "creditor_name": entry.creditor_name, "creditor_iban": entry.creditor_iban,
            "creditor_bic": entry.creditor_bic, "amount": entry.amount, "skonto_deducted": entry.skonto_deducted,
            "remittance": entry.remittance}


def run_json(run: PaymentRun, entries: list[PaymentEntry] | None = None) -> dict[str, Any]:
    data = {"id": run.id, "status": run.status, "created_at": run.created_at, "created_by": run.created_by,
            "execution_date": run.execution_date, "message_id": run.message_id, "file_name": run.file_name,
            "sha256": run.sha256, "transaction_count": run.transaction_count, "control_sum": run.control_sum,
            "skonto_total": run.skonto_total, "cancelled_at": run.cancelled_at, "cancelled_by": run.cancelled_by}
    if entries is not None:
        data["entries"] = [entry_json(e) for e in entries]
    return data
