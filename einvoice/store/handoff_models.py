"""The database model of hand-off: booking export batches, payment runs, archive packages.

Created by the Alembic revision ``0004_handoff``; same ``Base`` as `einvoice.store.models`.

- `ExportBatch`: one immutable booking export for the Kämmerei (the file is a blob, its SHA-256
  here); ``status`` created → booked, or cancelled (its records stop counting, the invoices are
  ready again). `ExportRecord`: one booking record per invoice and cost-centre split; the partial
  unique index on (item, split) over *active* records keeps an invoice in exactly one
  non-cancelled batch, also against two exports at once.
- `PaymentRun`: one SEPA credit transfer file (pain.001) for chosen approved invoices;
  `PaymentEntry`: one transaction per invoice (amount after Skonto if paid within the deadline);
  partial unique index: an invoice is in at most one active payment run.
- `ArchivePackage`: one delivered DMS package of a finished invoice (where, manifest hash, retention
  date, last verification).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, _in
from .types import Money, utcnow


class BatchStatus(StrEnum):
    CREATED = "created"
    BOOKED = "booked"
    CANCELLED = "cancelled"


class ArchiveStatus(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


class ExportBatch(Base):
    __tablename__ = "export_batches"
    __table_args__ = (CheckConstraint(_in("status", BatchStatus), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(256))
    format: Mapped[str] = mapped_column(String(32))  # csv / json
    mapping: Mapped[str] = mapped_column(String(128))  # name of the column mapping file
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.CREATED)
    file_name: Mapped[str] = mapped_column(String(256))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))  # the exported file, unchanged forever
    record_count: Mapped[int] = mapped_column(Integer)
    invoice_count: Mapped[int] = mapped_column(Integer)
    control_total: Mapped[Decimal] = mapped_column(Money())  # Kontrollsumme: sum of gross amounts (signed)
    totals: Mapped[dict[str, Any] | None]  # per currency, per VAT category and rate
    booked_at: Mapped[datetime | None]
    booked_by: Mapped[str | None] = mapped_column(String(256))
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(256))
    cancel_reason: Mapped[str | None] = mapped_column(Text)


class ExportRecord(Base):
    __tablename__ = "export_records"
    __table_args__ = (
        Index("uq_export_records_active_item_split", "item_id", "split_index", unique=True,
              postgresql_where=text("active"), sqlite_where=text("active")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("export_batches.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("intake_items.id"), index=True)
    split_index: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # False once the batch is cancelled
    gross_amount: Mapped[Decimal] = mapped_column(Money())  # signed: credit notes negative
    record: Mapped[dict[str, Any]]  # the booking record as written (amounts as strings)


class PaymentRun(Base):
    __tablename__ = "payment_runs"
    __table_args__ = (CheckConstraint(_in("status", ("created", "cancelled")), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(256))
    execution_date: Mapped[date] = mapped_column(Date)
    message_id: Mapped[str] = mapped_column(String(35), unique=True)  # pain.001 MsgId
    file_name: Mapped[str] = mapped_column(String(256))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    transaction_count: Mapped[int] = mapped_column(Integer)
    control_sum: Mapped[Decimal] = mapped_column(Money())
    skonto_total: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(16), default="created")
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(256))


class PaymentEntry(Base):
    __tablename__ = "payment_entries"
    __table_args__ = (
        Index("uq_payment_entries_active_item", "item_id", unique=True,
              postgresql_where=text("active"), sqlite_where=text("active")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payment_runs.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("intake_items.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    creditor_name: Mapped[str] = mapped_column(String(140))
    creditor_iban: Mapped[str] = mapped_column(String(34))
    creditor_bic: Mapped[str | None] = mapped_column(String(11))
    amount: Mapped[Decimal] = mapped_column(Money())  # transferred
    skonto_deducted: Mapped[Decimal] = mapped_column(Money())
    remittance: Mapped[str] = mapped_column(String(140))


class ArchivePackage(Base):
    __tablename__ = "archive_packages"
    __table_args__ = (CheckConstraint(_in("status", ArchiveStatus), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("intake_items.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(256))
    target: Mapped[str] = mapped_column(String(64))  # name of the archive target (hot folder …)
    location: Mapped[str] = mapped_column(String(1024))  # where it was delivered (path, URL)
    package_name: Mapped[str] = mapped_column(String(256))
    manifest_sha256: Mapped[str] = mapped_column(String(64))  # hash of the manifest file
    file_count: Mapped[int] = mapped_column(Integer)
    retention_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=ArchiveStatus.DELIVERED)
    error: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[datetime | None]
    verified_ok: Mapped[bool | None] = mapped_column(Boolean)
