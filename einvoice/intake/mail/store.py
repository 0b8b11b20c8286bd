"""Keep a received e-mail durably: the .eml and every attachment as blobs, the ledger row, the items.

``store_mail(db, raw, channel=..., ...)`` is what the IMAP poller and the SMTP receiver call. Order:

1. `parse_mail` splits the message (no database, no network);
2. the .eml and every stored part go into the blob store (fsynced);
3. ONE transaction writes the ledger row (`MailMessage`), claims the message's keys (`MailKey`:
   SHA-256 of the .eml, Message-ID), the blob rows, one intake item per candidate (``received``,
   first audit event, ``process`` job — the same rows `einvoice.intake.receive_message` writes) and
   the ``notify`` jobs of the receipts (or of the no-invoice notice), and commits.

When `store_mail` returns, everything is durable: only then may the IMAP poller move the message or
the SMTP receiver answer 250. The ledger row and the items commit together, so a crash leaves either
both or neither. A message whose keys another row already owns (the same bytes, or the same
Message-ID) is recorded as ``already-imported`` and makes no items and no notices; for IMAP, the
unique (mailbox, UIDVALIDITY, UID) makes a second import of the same UID impossible even without the
poll lock.

The items are written with `receive._new_item` (not `receive_message`) because the ledger row must be
in the same transaction as the items.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...store.db import Database
from ...store.mail_models import FINAL_OUTCOMES, MailKey, MailMessage, MailOutcome, NoticeKind
from ...store.models import Channel
from ...store.types import as_utc, utcnow
from ..receive import _blob_row, _new_item, insert_ignore
from .message import MailLimits, ParsedMail, parse_mail

log = logging.getLogger("einvoice.intake.mail")
MAX_TEXT = 1024


def _clip(text: str | None, size: int = MAX_TEXT) -> str | None:
    return None if text is None else text[:size]


@dataclass
class StoredMail:
    ledger_id: int
    outcome: str
    created: bool  # False: this delivery (IMAP UID) was recorded before; nothing was written now
    item_ids: list[int] = field(default_factory=list)
    first_id: int | None = None  # already-imported: the ledger row of the first import
    notices: list[str] = field(default_factory=list)


def normalize_message_id(message_id: str | None) -> str | None:
    if not message_id:
        return None
    text = "".join(message_id.split())
    if not text.startswith("<"):
        text = f"<{text}>"
    return text[:998] if len(text) > 2 else None


def message_keys(sha256: str, message_id: str | None) -> list[str]:
    keys = [f"sha256:{sha256}"]
    normalized = normalize_message_id(message_id)
    if normalized:
        keys.append(f"message-id:{normalized}")
    return keys


def find_delivery(session: Session, mailbox: str, uidvalidity: int, uid: int, *, lock: bool = False):
    query = select(MailMessage).where(MailMessage.mailbox == mailbox, MailMessage.uidvalidity == uidvalidity,
                                      MailMessage.uid == uid)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def _claim_keys(session: Session, keys: list[str], row_id: int) -> int | None:
    """Claim all keys for the row; returns the id of an earlier owner (then nothing stays claimed)."""
    owners = {key: session.scalar(select(MailKey.mail_message_id).where(MailKey.key == key)) for key in keys}
    earlier = [owner for owner in owners.values() if owner is not None and owner != row_id]
    if earlier:
        return min(earlier)
    claimed = []
    for key in keys:
        result = insert_ignore(session, MailKey, key=key, mail_message_id=row_id, created_at=utcnow())
        if result.rowcount:
            claimed.append(key)
    owners = {key: session.scalar(select(MailKey.mail_message_id).where(MailKey.key == key)) for key in keys}
    earlier = [owner for owner in owners.values() if owner is not None and owner != row_id]
    if earlier:  # a concurrent import committed one of the keys meanwhile: give back what we took
        for key in claimed:
            session.execute(MailKey.__table__.delete().where(MailKey.key == key, MailKey.mail_message_id == row_id))
        return min(earlier)
    return None


def _item_extra(parsed: ParsedMail, row: MailMessage, candidate, channel: str) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "mail": {"ledger_id": row.id, "channel": channel, "message_id": parsed.message_id,
                 "subject": _clip(parsed.subject), "from": parsed.sender, "notify_to": parsed.notify_to,
                 "origin": candidate.part.origin},
    }
    if candidate.companion is not None:
        extra["companion"] = {"file_name": candidate.companion.file_name, "sha256": candidate.companion.sha256,
                              "size": len(candidate.companion.data), "pairing": candidate.pairing,
                              "origin": candidate.companion.origin}
    return extra


def store_mail(db: Database, raw: bytes, *, channel: Channel | str, received_at: datetime | None = None,
               mailbox: str | None = None, uidvalidity: int | None = None, uid: int | None = None,
               envelope_from: str | None = None, recipients: list[str] | None = None,
               limits: MailLimits | None = None, actor: str | None = None) -> StoredMail:
    """Keep the message, its ledger row, its items and their receipts, durably (see the module doc).

    Raises `MailTooLarge` (nothing stored) above the size limit.
    """
    channel = Channel(channel).value
    raw = bytes(raw)
    received_at = as_utc(received_at) if received_at else utcnow()
    imap = uid is not None
    if imap:
        with db.read() as session:
            known = find_delivery(session, mailbox, uidvalidity, uid)
            if known is not None and known.outcome in FINAL_OUTCOMES:
                return StoredMail(known.id, known.outcome, created=False, first_id=known.first_id)

    parsed = parse_mail(raw, limits, envelope_from=envelope_from)
    message_sha = db.blobs.put(raw)
    for part in parsed.stored_parts():
        db.blobs.put(part.data)
    try:
        return _record(db, raw, parsed, message_sha, channel=channel, received_at=received_at, mailbox=mailbox,
                       uidvalidity=uidvalidity, uid=uid, envelope_from=envelope_from, recipients=recipients,
                       actor=actor)
    except IntegrityError:
        if not imap:
            raise
        with db.read() as session:  # a concurrent run recorded this UID first
            known = find_delivery(session, mailbox, uidvalidity, uid)
        if known is None or known.outcome not in FINAL_OUTCOMES:
            raise
        log.info("message %s/%s in %s was imported by a concurrent run", uidvalidity, uid, mailbox)
        return StoredMail(known.id, known.outcome, created=False, first_id=known.first_id)


def _record(db: Database, raw: bytes, parsed: ParsedMail, message_sha: str, *, channel: str, received_at: datetime,
            mailbox, uidvalidity, uid, envelope_from, recipients, actor) -> StoredMail:
    from ...handoff.mail import enqueue_notice

    actor = actor or f"intake:{channel}"
    with db.transaction() as session:
        row = find_delivery(session, mailbox, uidvalidity, uid, lock=True) if uid is not None else None
        if row is not None and row.outcome in FINAL_OUTCOMES:
            return StoredMail(row.id, row.outcome, created=False, first_id=row.first_id)
        _blob_row(session, message_sha, len(raw))
        for part in parsed.stored_parts():
            _blob_row(session, part.sha256, len(part.data))
        if row is None:
            row = MailMessage(channel=channel, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, attempts=0)
            session.add(row)
        row.message_id = _clip(parsed.message_id, 998)
        row.sha256, row.size = message_sha, len(raw)
        row.sender = _clip(parsed.sender)
        row.reply_to = _clip(parsed.notify_to)
        row.envelope_from = _clip(envelope_from)
        row.recipients = list(recipients) if recipients else None
        row.subject = _clip(parsed.subject)
        row.received_at, row.stored_at = received_at, utcnow()
        row.details = parsed.details()
        row.error = None
        row.item_count = 0
        row.outcome = MailOutcome.INVOICES.value  # settled below
        session.flush()

        first = _claim_keys(session, message_keys(message_sha, parsed.message_id), row.id)
        if first is not None:
            row.outcome, row.first_id = MailOutcome.ALREADY_IMPORTED.value, first
            log.info("mail %s (%s) was imported before as ledger row #%s", row.id, parsed.message_id, first)
            return StoredMail(row.id, row.outcome, created=True, first_id=first)

        result = StoredMail(row.id, MailOutcome.INVOICES.value, created=True)
        sender = parsed.sender or envelope_from
        for candidate in parsed.candidates:
            item = _new_item(session, db, data_sha=candidate.part.sha256, size=len(candidate.data),
                             channel=Channel(channel), sender=sender, file_name=candidate.file_name,
                             received_at=received_at, envelope_sha=message_sha,
                             extra=_item_extra(parsed, row, candidate, channel), actor=actor)
            result.item_ids.append(item.id)
            if parsed.notify_to:
                enqueue_notice(session, NoticeKind.RECEIPT, item_id=item.id,
                               max_attempts=db.settings.notice_max_attempts)
                result.notices.append(f"receipt:item:{item.id}")
        row.item_count = len(result.item_ids)
        if not parsed.candidates:
            row.outcome = result.outcome = MailOutcome.NO_INVOICE.value
            if parsed.notify_to:
                enqueue_notice(session, NoticeKind.NO_INVOICE, mail_message_id=row.id,
                               max_attempts=db.settings.notice_max_attempts)
                result.notices.append(f"no-invoice:mail:{row.id}")
        return result


def record_failure(db: Database, *, channel: str, mailbox: str, uidvalidity: int, uid: int, size: int,
                   received_at: datetime | None, message_id: str | None, error: str, max_attempts: int,
                   give_up: bool = False) -> MailMessage:
    """An IMAP import attempt failed: count it (``failing``); ``error`` once it failed too often or
    ``give_up`` (too large). Returns a detached copy of the row."""
    with db.transaction() as session:
        row = find_delivery(session, mailbox, uidvalidity, uid, lock=True)
        if row is not None and row.outcome in FINAL_OUTCOMES:
            return row
        if row is None:
            row = MailMessage(channel=channel, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, size=size,
                              received_at=as_utc(received_at) if received_at else utcnow(), stored_at=utcnow(),
                              message_id=_clip(message_id, 998), attempts=0, item_count=0,
                              outcome=MailOutcome.FAILING.value)
            session.add(row)
        row.attempts = (row.attempts or 0) + 1
        row.error = error[-20000:]
        if give_up or row.attempts >= max_attempts:
            row.outcome = MailOutcome.ERROR.value
        session.flush()
        return row


def record_moved(db: Database, ledger_id: int, folder: str) -> None:
    with db.transaction() as session:
        row = session.get(MailMessage, ledger_id, with_for_update=True)
        if row is not None:
            row.moved_to, row.moved_at = folder, utcnow()
