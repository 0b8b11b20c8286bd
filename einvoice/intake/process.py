"""The ``process`` job: received → validated/rejected → parsed, with duplicate detection.

Steps, each its own short transaction (nothing is held locked while validating or parsing):

1. ``received``: the same file (SHA-256) as an earlier item → ``duplicate``, linked to the first.
   Otherwise the stored bytes are validated with the `ValidationEngine`; the report
   (`ValidationResult.to_dict()`, with ``timings_ms``: per step and the wall time ``total``, which
   /metrics reads) is stored and the item goes to ``validated`` (official verdict valid) or
   ``rejected`` (findings kept; ``triage`` says whether a person should look: ``review``).
2. ``validated``: `read_invoice` builds the EN 16931 model, stored as JSON
   (`einvoice.formats.export.to_dict`); the same seller + invoice number + issue year as an earlier
   item → ``duplicate``, linked to the first; otherwise → ``parsed``, and the ``route`` job
   (`einvoice.routing.route`: matching, deadlines, start of the approval) is queued in the same
   transaction.

Idempotent: each step re-reads the item under a lock and does nothing if another run got there
first, and writes its outcome in the same transaction as the state change, so running the job
again — after a crash at any point, or twice — changes nothing the second time.

Duplicates are decided by the `DuplicateKey` table: the first item to commit a key owns it (a
unique primary key, so two workers racing on the same invoice cannot both win). Keys:
``sha256:<hex>`` (every non-empty file, registered when it is validated or rejected, so the same
bytes sent again are a duplicate even of a rejected item) and ``invoice:<seller>|<number>|<year>``
(registered when parsed; seller = VAT id BT-31, else tax number BT-32, else the name BT-27, folded).
A rejected invoice registers no invoice key: a corrected invoice with the same number is welcome.
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..formats.export import to_dict
from ..formats.read import FormatError, read_invoice
from ..handoff.mail import notify_item  # mail intake: queues supplier notices (and registers the notify job kind)
from ..jobs.queue import enqueue
from ..jobs.registry import JobContext, job_kind
from ..store.db import Database
from ..store.models import DuplicateKey, IntakeItem, ItemState, Job, ParsedInvoice, ValidationReport
from ..store.types import utcnow
from .receive import insert_ignore
from .states import can_transition, transition

S = ItemState
DEFAULT_ACTOR = "system:process"
GERMANY = "Europe/Berlin"
MAX_KEY = 700


class ItemNotFound(LookupError):
    pass


# ---------------------------------------------------------------------------- duplicate keys

def file_key(sha256: str) -> str:
    return f"sha256:{sha256}"


def seller_key(seller) -> str | None:
    if seller is None:
        return None
    if seller.vat_id and seller.vat_id.strip():
        return "vat:" + re.sub(r"[\s.\-/]", "", seller.vat_id).upper()
    if seller.tax_registration_id and seller.tax_registration_id.strip():
        return "tax:" + re.sub(r"[\s.\-/]", "", seller.tax_registration_id).upper()
    if seller.name and seller.name.strip():
        return "name:" + " ".join(seller.name.casefold().split())
    return None


def invoice_key(invoice) -> str | None:
    """``invoice:<seller>|<number>|<issue year>``, None when a part is missing."""
    seller = seller_key(invoice.seller)
    number = " ".join((invoice.number or "").split())
    if not seller or not number or invoice.issue_date is None:
        return None
    key = f"invoice:{seller}|{number}|{invoice.issue_date.year}"
    if len(key) > MAX_KEY:
        key = "invoice:sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def first_owner(session: Session, key: str) -> int | None:
    return session.scalar(select(DuplicateKey.item_id).where(DuplicateKey.key == key))


def claim_key(session: Session, key: str, item_id: int) -> int:
    """Register the key for the item unless an earlier item has it; returns the owner's id."""
    insert_ignore(session, DuplicateKey, key=key, item_id=item_id, created_at=utcnow())
    return first_owner(session, key)


# ---------------------------------------------------------------------------- steps

def _lock(session: Session, item_id: int) -> IntakeItem:
    item = session.get(IntakeItem, item_id, with_for_update=True, populate_existing=True)
    if item is None:
        raise ItemNotFound(f"no intake item #{item_id}")
    return item


def _mark_duplicate(session: Session, item: IntakeItem, first_id: int, *, actor: str, why: str, key: str) -> None:
    first = session.get(IntakeItem, first_id)
    item.duplicate_of_id = first_id
    received = f"{first.received_at:%Y-%m-%d %H:%M} UTC" if first else "earlier"
    transition(item, S.DUPLICATE, actor=actor,
               reason=f"duplicate of item #{first_id} (received {received}): {why}",
               details={"duplicate_of": first_id, "duplicate_of_uid": first.uid if first else None, "key": key,
                        "first_state": first.state if first else None})
    notify_item(session, item, "duplicate")  # mail intake: duplicate notice, queued in the transition's transaction


def receipt_date(received_at: datetime) -> date:
    """The day of receipt in Germany (rule-pack validity windows are calendar days)."""
    try:
        return received_at.astimezone(ZoneInfo(GERMANY)).date()
    except Exception:  # no time zone data on this machine
        return received_at.date()


def validate_bytes(engine, data: bytes, file_name: str, received: date):
    """The validation call (a seam for tests that simulate a slow or crashing worker)."""
    return engine.validate(data, file_name, receipt_date=received)


def parse_bytes(data: bytes, file_name: str):
    """The parsing call (a seam for tests, like `validate_bytes`)."""
    return read_invoice(data, file_name)


def _summary(report: dict) -> tuple[str, list[str]]:
    errors = [f["rule_id"] for f in report.get("findings", []) if f.get("severity") in ("error", "fatal")]
    return ", ".join(dict.fromkeys(errors)), errors


def _validate_step(db: Database, item_id: int, engine, actor: str) -> None:
    with db.transaction() as session:
        item = session.get(IntakeItem, item_id)
        if item is None:
            raise ItemNotFound(f"no intake item #{item_id}")
        if item.state != S.RECEIVED:
            return
        key = file_key(item.sha256) if item.size else None
        if key:
            owner = first_owner(session, key)
            if owner is not None and owner != item.id:
                item = _lock(session, item_id)
                if item.state == S.RECEIVED:
                    _mark_duplicate(session, item, owner, actor=actor, why="the same file (SHA-256) again", key=key)
                return
        sha, file_name, received_at = item.sha256, item.file_name or "", item.received_at

    data = db.blobs.get(sha)  # verifies the hash: a corrupt blob fails the job instead of validating wrong bytes
    if engine is None:
        from ..validation import ValidationEngine

        engine = ValidationEngine(db.settings)
    started = time.perf_counter()
    result = validate_bytes(engine, data, file_name, receipt_date(received_at))
    report = result.to_dict(timings=True)  # per step, and the wall time in "total" (einvoice.web.metrics)
    report.setdefault("timings_ms", {})["total"] = round((time.perf_counter() - started) * 1000, 3)

    with db.transaction() as session:
        item = _lock(session, item_id)
        if item.state != S.RECEIVED:
            return  # another run finished this step meanwhile
        if key:
            owner = claim_key(session, key, item.id)
            if owner != item.id:
                _mark_duplicate(session, item, owner, actor=actor, why="the same file (SHA-256) again", key=key)
                return
        session.add(ValidationReport(item_id=item.id, valid=result.valid, triage=result.triage, pack=result.pack,
                                     report=report, created_at=utcnow()))
        item.kind, item.valid, item.triage = result.kind, result.valid, result.triage
        summary, errors = _summary(report)
        details = {"valid": result.valid, "triage": result.triage, "scenario": result.scenario,
                   "pack": result.pack, "errors": errors}
        if result.valid:
            transition(item, S.VALIDATED, actor=actor, details=details,
                       reason=f"valid ({result.scenario or result.kind})")
        else:
            triage = {"review": "triage review: a person decides (EN 16931 core rules pass)",
                      "reject": "triage reject"}.get(result.triage, f"triage {result.triage}")
            transition(item, S.REJECTED, actor=actor, details=details,
                       reason=f"invalid: {len(errors)} error(s) {summary or '(none listed)'}; {triage}")
            notify_item(session, item, "rejection")  # mail intake: rejection notice, queued in the same transaction


def _parse_step(db: Database, item_id: int, actor: str) -> None:
    with db.transaction() as session:
        item = session.get(IntakeItem, item_id)
        if item is None:
            raise ItemNotFound(f"no intake item #{item_id}")
        if item.state != S.VALIDATED:
            return
        sha, file_name = item.sha256, item.file_name or ""

    data = db.blobs.get(sha)
    try:
        result = parse_bytes(data, file_name)
    except FormatError as exc:  # deterministic: retrying cannot help
        with db.transaction() as session:
            item = _lock(session, item_id)
            if item.state == S.VALIDATED:
                transition(item, S.FAILED, actor=actor, error=f"{exc.code}: {exc}",
                           reason=f"valid, but not readable into the invoice model: {exc.code}",
                           details={"code": exc.code})
        return
    model = to_dict(result)
    invoice = result.invoice
    key = invoice_key(invoice)

    with db.transaction() as session:
        item = _lock(session, item_id)
        if item.state != S.VALIDATED:
            return
        session.add(ParsedInvoice(item_id=item.id, model=model, created_at=utcnow()))
        seller = invoice.seller
        item.invoice_number = (invoice.number or None) and invoice.number[:256]
        item.issue_date = invoice.issue_date
        item.seller_name = seller.name[:512] if seller and seller.name else None
        item.seller_vat_id = seller.vat_id[:64] if seller and seller.vat_id else None
        if key:
            owner = claim_key(session, key, item.id)
            if owner != item.id:
                _mark_duplicate(session, item, owner, actor=actor, key=key,
                                why=f"the same seller and invoice number {invoice.number} ({invoice.issue_date.year})")
                return
        transition(item, S.PARSED, actor=actor,
                   reason=f"invoice {invoice.number} of {item.seller_name or '?'} read "
                          f"({len(invoice.lines)} lines, amount due {invoice.amount_due})",
                   details={"invoice_number": invoice.number, "issue_date": invoice.issue_date,
                            "seller": item.seller_name, "seller_vat_id": item.seller_vat_id,
                            "signed_amount_due": str(invoice.signed_amount_due.value)
                            if invoice.signed_amount_due else None,
                            "currency": invoice.currency, "duplicate_key": key})
        # routing (matching, deadlines, approval start) is the next stage: its own job, same transaction
        enqueue(session, "route", item_id=item.id, max_attempts=db.settings.job_max_attempts)


def process_item(db: Database, item_id: int, *, engine=None, actor: str = DEFAULT_ACTOR) -> str:
    """Take the item as far as this stage goes (parsed, rejected, duplicate); returns its state.

    ``engine``: a `ValidationEngine` to reuse (made from ``db.settings`` if None).
    """
    for _ in range(10):  # each round moves the item forward or returns
        with db.transaction() as session:
            item = session.get(IntakeItem, item_id)
            if item is None:
                raise ItemNotFound(f"no intake item #{item_id}")
            state = item.state
        if state == S.RECEIVED:
            _validate_step(db, item_id, engine, actor)
        elif state == S.VALIDATED:
            _parse_step(db, item_id, actor)
        else:
            return state
    raise RuntimeError(f"item #{item_id} did not settle (state {state})")


# ---------------------------------------------------------------------------- the job

def _on_dead(session: Session, job: Job, error: str, actor: str) -> None:
    item = session.get(IntakeItem, job.item_id, with_for_update=True) if job.item_id is not None else None
    if item is not None and can_transition(item.state, S.FAILED):
        last = error.strip().splitlines()[-1] if error.strip() else "unknown error"
        transition(item, S.FAILED, actor=actor, error=error,
                   reason=f"processing failed {job.attempts} times, giving up: {last}",
                   details={"job_id": job.id, "attempts": job.attempts})


@job_kind("process", on_dead=_on_dead)
def process_job(ctx: JobContext, job: Job) -> None:
    from ..validation import ValidationEngine

    engine = ctx.cached("validation_engine", lambda: ValidationEngine(ctx.settings))
    process_item(ctx.db, job.item_id, engine=engine, actor=ctx.actor)


def reprocess(db: Database, item_id: int, *, actor: str, reason: str) -> Job:
    """A person sends a failed item through processing again (failed → received, a new job)."""
    with db.transaction() as session:
        item = _lock(session, item_id)
        transition(item, S.RECEIVED, actor=actor, reason=reason)
        return enqueue(session, "process", item_id=item.id, max_attempts=db.settings.job_max_attempts)
