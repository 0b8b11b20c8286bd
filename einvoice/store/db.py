"""Engine and sessions from the settings: SQLite file by default, PostgreSQL via a URL.

``EINVOICE_DATABASE_URL`` selects the database (default ``sqlite:///<data_dir>/einvoice.db``).
``postgresql://`` URLs use psycopg 3.

SQLite is opened with WAL, foreign keys on, ``synchronous=FULL`` (a commit is on disk when it
returns) and a busy timeout; every transaction starts with ``BEGIN IMMEDIATE`` so that two writers
queue on the lock instead of failing with "database is locked" when a read turns into a write.

Use `Database` as the one handle that service functions take: its ``transaction()`` is a session
in one transaction (committed on success, rolled back on error), ``read()`` one for reading only
(no write lock on SQLite), ``blobs`` is the blob store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings, load_settings
from .blobs import BlobStore
from .types import _json_default

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str | URL) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):  # noqa: ARG001
        dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, emits BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get("einvoice_read_only"):
            connection.exec_driver_sql("BEGIN DEFERRED")  # a reader: takes no write lock (WAL)
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    parsed = normalize_url(url)
    serializer = partial(json.dumps, ensure_ascii=False, default=_json_default)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, json_serializer=serializer,
                               connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _sqlite_setup(engine)
        return engine
    return create_engine(parsed, echo=echo, json_serializer=serializer, pool_pre_ping=True)


class Database:
    """Engine + session factory + blob store of one einvoice installation."""

    def __init__(self, url: str | URL | None = None, *, settings: Settings | None = None,
                 blobs: BlobStore | None = None, echo: bool = False):
        self.settings = settings or load_settings()
        self.url = normalize_url(url or self.settings.effective_database_url)
        self.engine = make_engine(self.url, echo=echo)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(self.engine.execution_options(einvoice_read_only=True), expire_on_commit=False)
        self.blobs = blobs or BlobStore(self.settings.blobs_dir)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One session in one transaction: commit on success, roll back on an exception."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction for reading only (lists, pages): on SQLite it takes no write lock, so it
        never waits for a worker. Do not write in it (on SQLite a write may then fail as busy)."""
        with self._readers() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"<Database {self.url.render_as_string(hide_password=True)}>"


def open_database(settings: Settings | None = None) -> Database:
    return Database(settings=settings)
