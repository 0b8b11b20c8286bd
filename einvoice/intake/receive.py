"""Receiving: keep the raw bytes, create the intake item, audit it, queue its processing.

``receive(db, data, channel=..., sender=..., file_name=...)`` is what every channel calls (upload,
API, IMAP, SMTP, watched folder). Order matters for durability:

1. the bytes go into the blob store (fsynced, renamed, folder fsynced) — they are on disk first;
2. one transaction then adds the blob row, the item in ``received``, its first audit event and a
   ``process`` job, and commits (SQLite ``synchronous=FULL`` / PostgreSQL commit).

`receive` returns only after both are durable, so a channel may acknowledge the sender then. A
crash between 1 and 2 leaves an unreferenced blob and no item: the sender got no acknowledgement
and sends again, and the blob is reused (same hash).

``receive_message`` does the same for an e-mail: the whole message (.eml) and each attachment are
kept; every attachment becomes an item whose ``envelope_sha256`` names the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..jobs.queue import enqueue
from ..store.db import Database
from ..store.models import Blob, Channel, IntakeItem, ItemState
from ..store.types import as_utc, utcnow
from .states import initial_event

MAX_TEXT = 1024


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_TEXT]


def insert_ignore(session: Session, model, **values):
    """INSERT … ON CONFLICT DO NOTHING on both backends."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return session.execute(insert(model).values(**values).on_conflict_do_nothing())


def _blob_row(session: Session, sha256: str, size: int) -> None:
    insert_ignore(session, Blob, sha256=sha256, size=size, created_at=utcnow())


def _new_item(session: Session, db: Database, *, data_sha: str, size: int, channel: Channel, sender: str | None,
              file_name: str | None, received_at: datetime, envelope_sha: str | None,
              extra: dict[str, Any] | None, actor: str | None) -> IntakeItem:
    now = utcnow()
    item = IntakeItem(channel=channel.value, sender=_clip(sender), file_name=_clip(file_name),
                      received_at=received_at, sha256=data_sha, size=size, envelope_sha256=envelope_sha,
                      extra=extra, state=ItemState.RECEIVED.value, state_changed_at=now)
    session.add(item)
    session.flush()
    initial_event(item, actor=actor or f"intake:{channel.value}",
                  reason=f"received via {channel.value} from {sender or 'unknown sender'}: "
                         f"{file_name or '(no file name)'}, {size} bytes",
                  details={"channel": channel.value, "sender": sender, "file_name": file_name, "sha256": data_sha,
                           "size": size, "envelope_sha256": envelope_sha,
                           "received_at": received_at.isoformat()})
    enqueue(session, "process", item_id=item.id, max_attempts=db.settings.job_max_attempts)
    return item


def receive(db: Database, data: bytes, *, channel: Channel | str, sender: str | None, file_name: str | None,
            received_at: datetime | None = None, envelope: bytes | None = None,
            extra: dict[str, Any] | None = None, actor: str | None = None) -> IntakeItem:
    """Keep the bytes, record the item in ``received`` and queue its processing; durable on return.

    ``received_at`` (aware; default now) is when the channel got it, e.g. the IMAP internal date.
    ``envelope``: the whole message an attachment came in (kept as a blob as well).
    ``actor``: who/what received it for the audit trail (default ``intake:<channel>``).
    Returns the item, detached from any session (its ``id``/``uid`` are set).
    """
    channel = Channel(channel)
    data = bytes(data)
    received_at = as_utc(received_at) if received_at else utcnow()
    data_sha = db.blobs.put(data)
    envelope_sha = db.blobs.put(envelope) if envelope is not None else None
    with db.transaction() as session:
        _blob_row(session, data_sha, len(data))
        if envelope_sha:
            _blob_row(session, envelope_sha, len(envelope))
        return _new_item(session, db, data_sha=data_sha, size=len(data), channel=channel, sender=sender,
                         file_name=file_name, received_at=received_at, envelope_sha=envelope_sha, extra=extra,
                         actor=actor)


def receive_message(db: Database, message: bytes, attachments: Sequence[tuple[str | None, bytes]], *,
                    channel: Channel | str, sender: str | None, received_at: datetime | None = None,
                    extra: dict[str, Any] | None = None, actor: str | None = None) -> tuple[str, list[IntakeItem]]:
    """An e-mail: keep the whole message and every attachment; one item per attachment, in one transaction.

    Returns (SHA-256 of the message, items). With no attachments only the message is kept.
    """
    channel = Channel(channel)
    received_at = as_utc(received_at) if received_at else utcnow()
    message_sha = db.blobs.put(message)
    stored = [(name, bytes(data), db.blobs.put(data)) for name, data in attachments]
    with db.transaction() as session:
        _blob_row(session, message_sha, len(message))
        items = []
        for name, data, sha in stored:
            _blob_row(session, sha, len(data))
            items.append(_new_item(session, db, data_sha=sha, size=len(data), channel=channel, sender=sender,
                                   file_name=name, received_at=received_at, envelope_sha=message_sha, extra=extra,
                                   actor=actor))
        return message_sha, items
