"""The database model of intake: items, their audit trail, blobs, reports, parsed invoices, jobs.

Every table is created by the Alembic migrations in ``einvoice/store/migrations`` (never by
``create_all`` in production code); `tests/test_store_models.py` checks that the migrations and
these classes agree.

- `Blob`: one row per stored raw input (the bytes live in the `BlobStore`, named by SHA-256).
- `IntakeItem`: one received document with its channel, sender, time, hash and current state
  (the state machine is `einvoice.intake.states`). ``duplicate_of_id`` links a duplicate to the
  first item; ``envelope_sha256`` names the whole message (.eml) an attachment came in.
- `AuditEvent`: append-only (the ORM refuses updates and deletes, and database triggers do too).
- `ValidationReport`: `ValidationResult.to_dict()` of one validation run.
- `ParsedInvoice`: `einvoice.formats.export.to_dict` of the EN 16931 model (amounts as strings).
- `DuplicateKey`: the first item for a file hash or a seller + invoice number + year; the unique
  key decides races between concurrent workers.
- `Job`: database-backed work queue (`einvoice.jobs.queue`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, MetaData, String, Text, event, text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .types import JSONDocument, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ItemState(StrEnum):
    RECEIVED = "received"
    VALIDATED = "validated"
    REJECTED = "rejected"
    PARSED = "parsed"
    MATCHED = "matched"
    IN_APPROVAL = "in_approval"
    APPROVED = "approved"
    EXPORTED = "exported"
    ARCHIVED = "archived"
    DUPLICATE = "duplicate"
    FAILED = "failed"


class Channel(StrEnum):
    UPLOAD = "upload"
    API = "api"
    IMAP = "imap"
    SMTP = "smtp"
    FOLDER = "folder"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONDocument(), list[Any]: JSONDocument()}


class Blob(Base):
    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeItem(Base):
    __tablename__ = "intake_items"
    __table_args__ = (
        CheckConstraint(_in("state", ItemState), name="state"),
        CheckConstraint(_in("channel", Channel), name="channel"),
        Index("ix_intake_items_state_received_at", "state", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: uuid.uuid4().hex)
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str | None] = mapped_column(String(1024))
    file_name: Mapped[str | None] = mapped_column(String(1024))
    received_at: Mapped[datetime]
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    envelope_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    extra: Mapped[dict[str, Any] | None]  # channel details: mail subject, Message-ID, upload user agent ...

    state: Mapped[str] = mapped_column(String(20), default=ItemState.RECEIVED)
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)  # the traceback / error of `failed`

    # outcome of validation and parsing (denormalised for lists and duplicate messages)
    kind: Mapped[str | None] = mapped_column(String(32))
    valid: Mapped[bool | None] = mapped_column(Boolean)
    triage: Mapped[str | None] = mapped_column(String(16))
    invoice_number: Mapped[str | None] = mapped_column(String(256))
    issue_date: Mapped[date | None] = mapped_column(Date)
    seller_name: Mapped[str | None] = mapped_column(String(512))
    seller_vat_id: Mapped[str | None] = mapped_column(String(64))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("intake_items.id"), index=True)

    version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic lock: concurrent writers fail
    __mapper_args__ = {"version_id_col": version}

    duplicate_of: Mapped[IntakeItem | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<IntakeItem #{self.id} {self.state} {self.channel} {self.file_name!r}>"


class AuditEvent(Base):
    """Who/what changed an item, when, from which state to which, and why. Never updated or deleted.
    Hash-chained per item (``seq``, ``prev_hash``, ``hash``: `einvoice.store.audit_chain`)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("uq_audit_events_item_id_seq", "item_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("intake_items.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(256))
    event: Mapped[str] = mapped_column(String(32), default="transition")
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None]
    seq: Mapped[int] = mapped_column(Integer)  # 1..n per item
    prev_hash: Mapped[str] = mapped_column(String(64))  # hash of seq-1 (seq 1: the item's genesis value)
    hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the canonical event (audit_verify_standalone)


class ValidationReport(Base):
    __tablename__ = "validation_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("intake_items.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    valid: Mapped[bool] = mapped_column(Boolean)
    triage: Mapped[str] = mapped_column(String(16))
    pack: Mapped[str | None] = mapped_column(String(256))
    report: Mapped[dict[str, Any]]  # ValidationResult.to_dict()


class ParsedInvoice(Base):
    __tablename__ = "parsed_invoices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("intake_items.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    model: Mapped[dict[str, Any]]  # einvoice.formats.export.to_dict(result)


class DuplicateKey(Base):
    """``sha256:<hex>`` or ``invoice:<seller>|<number>|<year>`` → the first item that had it."""

    __tablename__ = "duplicate_keys"

    key: Mapped[str] = mapped_column(String(700), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("intake_items.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_in("state", JobState), name="state"),
        Index("ix_jobs_state_run_after", "state", "run_after"),
        # the claim query scans only pending jobs, however many are done
        Index("ix_jobs_pending", "id", postgresql_where=text("state IN ('queued', 'running')"),
              sqlite_where=text("state IN ('queued', 'running')")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("intake_items.id"), index=True)
    payload: Mapped[dict[str, Any] | None]
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(256))
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)  # traceback of the last failed attempt

    def __repr__(self) -> str:
        return f"<Job #{self.id} {self.kind} item={self.item_id} {self.state} attempts={self.attempts}>"


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(mapper, connection, target):  # noqa: ARG001
    raise AppendOnlyError("audit events are append-only: an update was refused")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(mapper, connection, target):  # noqa: ARG001
    raise AppendOnlyError("audit events are append-only: a delete was refused")


# the mail ledger tables (einvoice/store/mail_models.py) share this metadata: imported here so that
# Alembic autogenerate and the model/migration comparison always see them
from . import mail_models  # noqa: E402,F401
from . import handoff_models, masterdata_models, routing_models  # noqa: E402,F401
from . import audit_chain  # noqa: E402,F401  (links each new AuditEvent into its item's hash chain at flush)
