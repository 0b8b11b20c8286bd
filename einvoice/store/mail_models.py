"""The database model of the mail channels: the ledger of received messages and of sent notices.

Created by the Alembic revision ``0002_mail_ledger``. These classes use the same ``Base`` (and so the
same metadata) as `einvoice.store.models`; ``models.py`` imports this module at its end so that the
metadata is complete wherever the store is used (migrations, the model/migration comparison test).

- `MailMessage`: one row per received message (IMAP or SMTP): where it came from (for IMAP the
  mailbox, UIDVALIDITY and UID: unique, so two poll runs can never import the same UID twice), its
  Message-ID and SHA-256 (the .eml is a blob), what came of it (``outcome``) and, for IMAP, whether
  and where it was moved. Written in the same transaction as the intake items of the message.
- `MailKey`: ``sha256:<hex>`` / ``message-id:<id>`` → the first message that had it; a message that
  arrives again (the same bytes, or the same Message-ID through another channel or after a
  UIDVALIDITY change) is recorded as ``already-imported`` and makes no new items. Like
  `DuplicateKey`, the primary key decides races between concurrent importers.
- `MailNotification`: one row per (subject, kind) of notice sent by mail (receipt, rejection,
  duplicate, no-invoice): ``sending`` is committed before the SMTP transaction and ``sent`` after
  it, so a retried job never sends the same notice twice (see `einvoice.handoff.mail`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, _in
from .types import utcnow


class MailOutcome(StrEnum):
    INVOICES = "invoices"  # one or more intake items were created
    NO_INVOICE = "no-invoice"  # no invoice attachment (e.g. an invoice only in the body): a notice says so
    ALREADY_IMPORTED = "already-imported"  # the same message (bytes or Message-ID) came before
    FAILING = "failing"  # IMAP: importing failed, retried at the next poll (attempts counts)
    ERROR = "error"  # IMAP: gave up (too large, or failed too often): moved to the error folder


FINAL_OUTCOMES = frozenset({MailOutcome.INVOICES, MailOutcome.NO_INVOICE, MailOutcome.ALREADY_IMPORTED,
                            MailOutcome.ERROR})
MAIL_CHANNELS = ("imap", "smtp")


class NoticeKind(StrEnum):
    RECEIPT = "receipt"  # Eingangsbestätigung with the intake id and the status link
    REJECTION = "rejection"  # invalid: the readable validation report attached
    DUPLICATE = "duplicate"  # the same invoice came before
    NO_INVOICE = "no-invoice"  # the mail had no invoice attachment
    WORKFLOW_REJECTION = "workflow-rejection"  # rejected in approval, with the approver's reason


class NoticeState(StrEnum):
    SENDING = "sending"  # committed before the SMTP transaction; left behind only by a crash
    SENT = "sent"  # the relay accepted the message
    FAILED = "failed"  # definitely not sent (refused, unreachable): the job retries
    UNKNOWN = "unknown"  # a crash or lost connection during the transfer: not sent again (at most once)


class MailMessage(Base):
    __tablename__ = "mail_messages"
    __table_args__ = (
        CheckConstraint(_in("channel", MAIL_CHANNELS), name="channel"),
        CheckConstraint(_in("outcome", MailOutcome), name="outcome"),
        UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_mail_messages_mailbox_uid"),
        Index("ix_mail_messages_mailbox_outcome", "mailbox", "outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    mailbox: Mapped[str | None] = mapped_column(String(512))  # IMAP: imap://user@host:port/FOLDER
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), index=True)  # None: not fetched
    size: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[str | None] = mapped_column(String(1024))  # header From (address)
    reply_to: Mapped[str | None] = mapped_column(String(1024))  # where notices go (None: none are sent)
    envelope_from: Mapped[str | None] = mapped_column(String(1024))  # SMTP MAIL FROM
    recipients: Mapped[list[Any] | None]  # SMTP RCPT TO
    subject: Mapped[str | None] = mapped_column(String(1024))
    received_at: Mapped[datetime]  # IMAP internal date / SMTP time of DATA
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(24))
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    first_id: Mapped[int | None] = mapped_column(ForeignKey("mail_messages.id"))  # already-imported: the first
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed import attempts (IMAP)
    error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None]  # parts (name, role, sha256, size), zip notes, pairings
    moved_to: Mapped[str | None] = mapped_column(String(512))  # IMAP: folder it was moved to
    moved_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        where = f"{self.mailbox} {self.uidvalidity}/{self.uid}" if self.uid is not None else self.channel
        return f"<MailMessage #{self.id} {where} {self.outcome} items={self.item_count}>"


class MailKey(Base):
    __tablename__ = "mail_keys"

    key: Mapped[str] = mapped_column(String(1100), primary_key=True)
    mail_message_id: Mapped[int] = mapped_column(ForeignKey("mail_messages.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailNotification(Base):
    __tablename__ = "mail_notifications"
    __table_args__ = (
        CheckConstraint(_in("kind", NoticeKind), name="kind"),
        CheckConstraint(_in("state", NoticeState), name="state"),
        UniqueConstraint("subject", "kind", name="uq_mail_notifications_subject_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(64))  # "item:<id>" or "mail:<id>"
    kind: Mapped[str] = mapped_column(String(24))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("intake_items.id"), index=True)
    mail_message_id: Mapped[int | None] = mapped_column(ForeignKey("mail_messages.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(1024))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(998))  # Message-ID of the notice
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<MailNotification #{self.id} {self.kind} {self.subject} {self.state}>"
