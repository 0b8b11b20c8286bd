"""One poll run per mailbox at a time: a PostgreSQL advisory lock, or a lock file next to SQLite.

``with poll_lock(db, name) as acquired:`` never waits: ``acquired`` is False when another run (in
this or another process, on this or — with PostgreSQL — another machine) holds the lock; that run
then simply skips. Both kinds of lock die with their holder (the advisory lock with its database
session, the ``flock`` with the process), so a killed poll run never blocks the next one.

The lock is an optimisation, not the guarantee: the ledger's unique (mailbox, UIDVALIDITY, UID)
makes a second import of the same message impossible even when two runs overlap without it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from ...store.db import Database

log = logging.getLogger("einvoice.intake.mail")


def lock_key(name: str) -> int:
    """A signed 64-bit key for pg_try_advisory_lock, from the mailbox name."""
    return int.from_bytes(hashlib.sha256(f"einvoice-imap:{name}".encode()).digest()[:8], "big", signed=True)


def lock_file_path(db: Database, name: str) -> Path:
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    database = db.url.database
    if database and database != ":memory:":
        path = Path(database)
        return path.with_name(f"{path.name}.imap-{digest}.lock")
    return Path(db.settings.data_dir) / "locks" / f"imap-{digest}.lock"


@contextmanager
def _advisory(db: Database, name: str) -> Iterator[bool]:
    key = lock_key(name)
    connection = db.engine.connect()
    acquired = False
    try:
        acquired = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        connection.commit()  # the lock belongs to the session, not to a transaction: nothing stays open
        yield acquired
    finally:
        try:
            if acquired:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
        except Exception:
            log.exception("releasing the poll lock of %s failed (it ends with the connection)", name)
        finally:
            connection.invalidate()  # close the session for sure: a pooled session must not keep the lock
            connection.close()


@contextmanager
def _lock_file(db: Database, name: str) -> Iterator[bool]:
    path = lock_file_path(db, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def poll_lock(db: Database, name: str):
    """Context manager yielding True if this run holds the lock of mailbox ``name``."""
    if db.dialect == "postgresql":
        return _advisory(db, name)
    return _lock_file(db, name)
