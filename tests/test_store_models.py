"""The database: migrations match the models, UTC times, JSON without floats for money, append-only audit."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from einvoice.config import load_settings
from einvoice.intake.receive import receive
from einvoice.store import AuditEvent, Database, IntakeItem, Job
from einvoice.store.db import normalize_url
from einvoice.store.migrate import check_current, current_revision, downgrade, head_revision, upgrade
from einvoice.store.models import AppendOnlyError, Base

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL


def test_migrations_match_the_models(db):
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    assert current_revision(db.url) == head_revision()
    check_current(db.url)


def test_downgrade_and_upgrade_again(db):
    downgrade(db.url, "base")
    with db.engine.connect() as connection:
        assert "intake_items" not in sa.inspect(connection).get_table_names()
    upgrade(db.url)
    with db.engine.connect() as connection:
        assert {"intake_items", "audit_events", "jobs", "blobs", "duplicate_keys"} <= set(
            sa.inspect(connection).get_table_names())


def test_sqlite_pragmas(db):
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_default_url_is_sqlite_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("EINVOICE_DATABASE_URL", raising=False)
    database = Database()
    assert database.url.render_as_string() == f"sqlite:///{tmp_path / 'einvoice.db'}"
    assert database.blobs.root == tmp_path / "blobs"
    database.dispose()
    monkeypatch.setenv("EINVOICE_DATABASE_URL", "postgresql://u:p@db.example:5432/einvoice")
    assert load_settings().effective_database_url == "postgresql://u:p@db.example:5432/einvoice"
    assert normalize_url("postgresql://u:p@h/x").drivername == "postgresql+psycopg"


def test_times_are_utc_aware_and_naive_times_refused(db):
    berlin = timezone(timedelta(hours=1))
    item = receive(db, b"<x/>", channel="upload", sender="a", file_name="a.xml",
                   received_at=datetime(2026, 3, 1, 9, 30, tzinfo=berlin))
    with db.transaction() as session:
        stored = session.get(IntakeItem, item.id)
        assert stored.received_at == datetime(2026, 3, 1, 8, 30, tzinfo=timezone.utc)
        assert stored.received_at.tzinfo is not None and stored.received_at.utcoffset() == timedelta(0)
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == item.id)).one()
        assert event.at.tzinfo is not None
    with pytest.raises(ValueError, match="naive"):
        receive(db, b"<x/>", channel="upload", sender="a", file_name="a.xml", received_at=datetime(2026, 3, 1))


def test_money_in_json_stays_exact(db):
    item = receive(db, b"<x/>", channel="api", sender="a", file_name="a.xml",
                   extra={"amount": Decimal("0.10") + Decimal("0.20"), "when": datetime(2026, 1, 1, tzinfo=timezone.utc)})
    with db.transaction() as session:
        extra = session.get(IntakeItem, item.id).extra
    assert extra == {"amount": "0.30", "when": "2026-01-01T00:00:00+00:00"}


def test_channel_and_state_are_checked_by_the_database(db):
    item = receive(db, b"<x/>", channel="upload", sender="a", file_name="a.xml")
    with pytest.raises(sa.exc.IntegrityError):
        with db.transaction() as session:
            session.execute(sa.text("UPDATE intake_items SET state = 'bogus' WHERE id = :id"), {"id": item.id})
    with pytest.raises(ValueError):
        receive(db, b"<x/>", channel="fax", sender="a", file_name="a.xml")


def test_audit_events_are_append_only_in_the_orm(db):
    item = receive(db, b"<x/>", channel="upload", sender="a", file_name="a.xml")
    with pytest.raises(AppendOnlyError):
        with db.transaction() as session:
            event = session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == item.id)).one()
            event.reason = "rewritten history"
    with pytest.raises(AppendOnlyError):
        with db.transaction() as session:
            session.delete(session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == item.id)).one())


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET reason = 'rewritten history'",
    "DELETE FROM audit_events",
])
def test_audit_events_are_append_only_in_the_database(db, statement):
    receive(db, b"<x/>", channel="upload", sender="a", file_name="a.xml")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with db.transaction() as session:
            session.execute(sa.text(statement))
    with db.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 1
        assert session.scalars(sa.select(AuditEvent.reason)).one().startswith("received via upload")


def test_receive_is_one_transaction_with_blob_item_event_and_job(db):
    data = b"<Invoice>raw</Invoice>"
    item = receive(db, data, channel="folder", sender="/srv/in", file_name="x.xml")
    assert db.blobs.get(item.sha256) == data
    with db.transaction() as session:
        assert session.get(IntakeItem, item.id).state == "received"
        job = session.scalars(sa.select(Job).where(Job.item_id == item.id)).one()
        assert (job.kind, job.state, job.attempts) == ("process", "queued", 0)


def test_readers_do_not_wait_for_a_writer(db):
    receive(db, b"<x/>", channel="upload", sender="a", file_name="a.xml")
    with db.transaction() as writer:
        writer.execute(sa.update(IntakeItem).values(sender="b"))  # holds the write lock (SQLite) / row locks
        started = time.monotonic()
        with db.read() as reader:
            assert reader.scalar(sa.select(IntakeItem.sender)) == "a"  # the committed state, at once
        assert time.monotonic() - started < 2
    with db.read() as reader:
        assert reader.scalar(sa.select(IntakeItem.sender)) == "b"
