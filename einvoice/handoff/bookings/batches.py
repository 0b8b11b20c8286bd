"""Booking export batches: create (approved → exported), mark booked, cancel (exported → approved).

The caller owns the transaction (functions take a `Session`); `batch_file` reads on its own.

- `create_batch(session, blobs, *, actor, format, mapping, item_ids=None)`: takes the approved
  invoices that are in no active record (all, or the given ids), locks them (``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers anyway), builds their
  records (`records.build_records`), writes the file (`writers.render`) into the blob store, adds the
  `ExportBatch` with its control total (Kontrollsumme: Σ signed ``payable``, per currency and VAT
  group in ``totals``) and one `ExportRecord` per record, and moves each invoice approved → exported
  with an audit event. Nothing to export: no batch (None). Given ids that cannot be exported:
  `Conflict` naming them. Two exports at once cannot take an invoice twice: the rows are locked, and
  the partial unique index on active records refuses a second one (`Conflict`).
- `mark_booked(session, batch_id, *, actor)`: created → booked (the Kämmerei booked the file).
- `cancel_batch(session, batch_id, *, actor, reason)`: a person, with a reason: created →
  cancelled, its records inactive, its invoices exported → approved (ready for the next export). A
  booked batch cannot be cancelled: the correction is a Storno in the finance system.
- Batches are immutable: the file never changes, records change only their ``active`` flag (ORM
  guards below refuse anything else, and deletes).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, exists, func, inspect, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...intake.receive import insert_ignore
from ...intake.states import audit, transition_many
from ...routing.clock import BERLIN, SYSTEM_CLOCK, Clock
from ...store.blobs import BlobStore
from ...store.handoff_models import BatchStatus, ExportBatch, ExportRecord
from ...store.models import Blob, IntakeItem, ItemState
from .errors import Conflict, InvalidInput, NotFound
from .mapping import load_mapping
from .records import build_records, money
from .sources import load_sources
from .totals import control_totals
from .writers import render

FORMATS = ("csv", "json")
_BATCH_MUTABLE = {"status", "booked_at", "booked_by", "cancelled_at", "cancelled_by", "cancel_reason"}


class ImmutableBatchError(RuntimeError):
    pass


@event.listens_for(ExportBatch, "before_update")
def _guard_batch(mapper, connection, target):  # noqa: ARG001
    changed = {a.key for a in inspect(target).attrs if a.history.has_changes()} - _BATCH_MUTABLE
    if changed:
        raise ImmutableBatchError(f"export batch {target.id} is immutable: refused change of {sorted(changed)}")


@event.listens_for(ExportRecord, "before_update")
def _guard_record(mapper, connection, target):  # noqa: ARG001
    changed = {a.key for a in inspect(target).attrs if a.history.has_changes()} - {"active"}
    if changed:
        raise ImmutableBatchError(f"export record {target.id} is immutable: refused change of {sorted(changed)}")


@event.listens_for(ExportBatch, "before_delete")
@event.listens_for(ExportRecord, "before_delete")
def _refuse_delete(mapper, connection, target):  # noqa: ARG001
    raise ImmutableBatchError("export batches and records are never deleted (cancel the batch instead)")


# --- selection and loading ---------------------------------------------------------------------------

def _active_record():
    return exists().where(ExportRecord.item_id == IntakeItem.id, ExportRecord.active.is_(True))


def _select_items(session: Session, item_ids: list[int] | None) -> list[IntakeItem]:
    query = select(IntakeItem).where(IntakeItem.state == ItemState.APPROVED.value, ~_active_record())
    if item_ids is not None:
        query = query.where(IntakeItem.id.in_(item_ids))
    query = query.order_by(IntakeItem.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=IntakeItem)
    return list(session.scalars(query))


def _not_ready(session: Session, ids: list[int]) -> str:
    rows = session.execute(select(IntakeItem.id, IntakeItem.state).where(IntakeItem.id.in_(ids))).all()
    known = dict(rows)
    texts = []
    for item_id in ids[:10]:
        state = known.get(item_id)
        texts.append(f"#{item_id} ({'unbekannt' if state is None else 'Status ' + state})")
    more = f" und {len(ids) - 10} weitere" if len(ids) > 10 else ""
    return ", ".join(texts) + more


# --- the operations ----------------------------------------------------------------------------------

def _next_batch_id(session: Session) -> int:
    """The id the new batch gets, known before its row exists (the file names its batch)."""
    if session.get_bind().dialect.name == "postgresql":
        return int(session.scalar(text("SELECT nextval(pg_get_serial_sequence('export_batches', 'id'))")))
    return int(session.scalar(select(func.coalesce(func.max(ExportBatch.id), 0))) or 0) + 1  # writers serialised


def create_batch(session: Session, blobs: BlobStore, *, actor: str, format: str = "csv",  # noqa: A002
                 mapping: str = "generic", item_ids: list[int] | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> ExportBatch | None:
    """Export the approved, not yet exported invoices as one batch (see the module docstring)."""
    if format not in FORMATS:
        raise InvalidInput(f"Unbekanntes Format {format!r} (möglich: {', '.join(FORMATS)})")
    if not actor:
        raise InvalidInput("Ein Export braucht einen Auslöser (actor)")
    columns = load_mapping(mapping) if format == "csv" else None  # JSON carries every field, no mapping
    wanted = sorted(set(item_ids)) if item_ids is not None else None
    if wanted is not None and not wanted:
        return None
    items = _select_items(session, wanted)
    if wanted is not None and len(items) != len(wanted):
        taken = {item.id for item in items}
        raise Conflict("Nicht exportierbar (nicht freigegeben, schon exportiert oder gerade in einem anderen "
                       f"Export): {_not_ready(session, [i for i in wanted if i not in taken])}")
    if not items:
        return None
    records = [record for src in load_sources(session, items) for record in build_records(src)]
    batch_id, now = _next_batch_id(session), clock.now()
    for record in records:
        record["batch_id"] = batch_id
    control_total, totals = control_totals(records)
    file_name = f"buchungsstapel-{batch_id:06d}-{now.astimezone(BERLIN):%Y-%m-%d}.{format}"
    header = {"batch_id": batch_id, "created_at": now.isoformat(), "created_by": actor, "file_name": file_name,
              "invoice_count": len(items), "record_count": len(records), "control_total": str(control_total),
              "totals": totals}
    data, content_type = render(format, records, columns, header)
    sha = blobs.put(data)
    insert_ignore(session, Blob, sha256=sha, size=len(data), created_at=now)
    totals["file"] = {"content_type": content_type, "size": len(data),
                      "mapping_sha256": columns.sha256 if columns else None,
                      "mapping_title": columns.title if columns else None}
    batch = ExportBatch(id=batch_id, created_at=now, created_by=actor, format=format,
                        mapping=mapping if format == "csv" else "json", status=BatchStatus.CREATED.value,
                        file_name=file_name, sha256=sha, record_count=len(records), invoice_count=len(items),
                        control_total=control_total, totals=totals)
    session.add(batch)
    try:
        session.flush()
        session.execute(insert(ExportRecord), [
            {"batch_id": batch_id, "item_id": r["item_id"], "split_index": r["split_index"], "active": True,
             "gross_amount": money(r["payable"]), "record": r} for r in records])
    except IntegrityError as exc:
        raise Conflict("Ein gleichzeitiger Export hat diese Rechnungen schon übernommen – bitte erneut "
                       "exportieren") from exc
    reason = f"Buchungsstapel {batch_id} ({file_name})"
    transition_many(session, items, ItemState.EXPORTED, actor, reason, details={"batch_id": batch_id}, at=now)
    return batch


def _batch_for_update(session: Session, batch_id: int) -> ExportBatch:
    query = select(ExportBatch).where(ExportBatch.id == batch_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    batch = session.scalars(query).one_or_none()
    if batch is None:
        raise NotFound(f"Buchungsstapel {batch_id} gibt es nicht")
    return batch


def _items_of(session: Session, batch_id: int) -> list[IntakeItem]:
    ids = select(ExportRecord.item_id).where(ExportRecord.batch_id == batch_id).distinct()
    return list(session.scalars(select(IntakeItem).where(IntakeItem.id.in_(ids)).order_by(IntakeItem.id)))


def mark_booked(session: Session, batch_id: int, *, actor: str, clock: Clock = SYSTEM_CLOCK) -> ExportBatch:
    """created → booked: the Kämmerei has booked the file in the finance system."""
    batch = _batch_for_update(session, batch_id)
    if batch.status != BatchStatus.CREATED.value:
        raise Conflict(f"Buchungsstapel {batch_id} ist {_status_text(batch)} und kann nicht als gebucht markiert "
                       "werden")
    now = clock.now()
    batch.status, batch.booked_at, batch.booked_by = BatchStatus.BOOKED.value, now, actor
    for item in _items_of(session, batch_id):
        audit(item, actor=actor, event="booked", reason=f"Buchungsstapel {batch_id} in der Finanzbuchhaltung gebucht",
              details={"batch_id": batch_id}, at=now)
    session.flush()
    return batch


def cancel_batch(session: Session, batch_id: int, *, actor: str, reason: str | None,
                 clock: Clock = SYSTEM_CLOCK) -> ExportBatch:
    """created → cancelled by a person with a reason; the invoices are approved (ready) again."""
    if not reason or not reason.strip():
        raise InvalidInput("Bitte einen Grund für die Stornierung des Buchungsstapels angeben")
    if not (actor or "").startswith("user:"):
        raise InvalidInput("Nur eine Person (user:…) kann einen Buchungsstapel stornieren")
    batch = _batch_for_update(session, batch_id)
    if batch.status == BatchStatus.BOOKED.value:
        raise Conflict(f"Buchungsstapel {batch_id} ist bereits gebucht: eine Korrektur ist eine Stornobuchung in "
                       "der Finanzbuchhaltung, der Stapel bleibt bestehen")
    if batch.status != BatchStatus.CREATED.value:
        raise Conflict(f"Buchungsstapel {batch_id} ist bereits storniert")
    items = _items_of(session, batch_id)
    moved_on = [item for item in items if item.state != ItemState.EXPORTED.value]
    if moved_on:
        raise Conflict("Buchungsstapel kann nicht storniert werden, Rechnungen sind schon weiter: "
                       + ", ".join(f"#{i.id} ({i.state})" for i in moved_on[:10]))
    now, reason = clock.now(), reason.strip()
    batch.status, batch.cancelled_at, batch.cancelled_by, batch.cancel_reason = (
        BatchStatus.CANCELLED.value, now, actor, reason)
    session.execute(update(ExportRecord).where(ExportRecord.batch_id == batch_id).values(active=False))
    transition_many(session, items, ItemState.APPROVED, actor, f"Buchungsstapel {batch_id} storniert: {reason}",
                    details={"batch_id": batch_id}, at=now)
    session.flush()
    return batch


def _status_text(batch: ExportBatch) -> str:
    texts = {"created": "erstellt", "booked": "bereits gebucht", "cancelled": "storniert"}
    return texts.get(batch.status, batch.status)


def get_batch(session: Session, batch_id: int) -> ExportBatch:
    batch = session.get(ExportBatch, batch_id)
    if batch is None:
        raise NotFound(f"Buchungsstapel {batch_id} gibt es nicht")
    return batch


def list_batches(session: Session, *, status: str | None = None, limit: int = 100) -> list[ExportBatch]:
    query = select(ExportBatch).order_by(ExportBatch.id.desc()).limit(limit)
    if status:
        query = query.where(ExportBatch.status == status)
    return list(session.scalars(query))


def batch_file(db, batch_id: int) -> bytes:
    """The batch's file exactly as created (the blob store checks its hash)."""
    with db.read() as session:
        sha = get_batch(session, batch_id).sha256
    return db.blobs.get(sha)


def content_type(batch: ExportBatch) -> str:
    return ((batch.totals or {}).get("file") or {}).get("content_type") or (
        "application/json" if batch.format == "json" else "text/csv; charset=utf-8")


def batch_dict(batch: ExportBatch) -> dict[str, Any]:
    """A batch as the API and ``einvoice export batches --format json`` show it."""
    return {"id": batch.id, "status": batch.status, "format": batch.format, "mapping": batch.mapping,
            "file_name": batch.file_name, "sha256": batch.sha256, "content_type": content_type(batch),
            "created_at": batch.created_at, "created_by": batch.created_by, "invoice_count": batch.invoice_count,
            "record_count": batch.record_count, "control_total": batch.control_total,
            "totals": {k: v for k, v in (batch.totals or {}).items() if k != "file"},
            "booked_at": batch.booked_at, "booked_by": batch.booked_by, "cancelled_at": batch.cancelled_at,
            "cancelled_by": batch.cancelled_by, "cancel_reason": batch.cancel_reason}
