"""Migration 0005 on a database with audit events written before the chain existed (SQLite and
PostgreSQL): the backfill chains them per item in the order they were written, the append-only
triggers are back afterwards (plus the link check on INSERT), and the downgrade returns to 0004."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from einvoice.store.audit_chain import verify_database
from einvoice.store.audit_verify_standalone import genesis
from einvoice.store.migrate import current_revision, downgrade, upgrade

pytest_plugins = ["pg"]

OLD_EVENTS = [  # (item, to_state, reason, details) in the order written, the items interleaved
    (1, "received", "received via upload", {"size": 10, "sha256": "a" * 64}),
    (2, "received", "received via api", None),
    (1, "validated", "valid", {"z": 1.0, "a": [1e20, "ü"], "amount": "12.30"}),
    (2, "rejected", "ungültig: BR-CO-15", {"rules": ["BR-CO-15"]}),
    (1, "parsed", "read", None),
]


def _columns(db) -> set[str]:
    with db.engine.connect() as connection:
        return {c["name"] for c in sa.inspect(connection).get_columns("audit_events")}


def _old_database(db) -> None:
    downgrade(db.url, "0004")
    assert "hash" not in _columns(db) and current_revision(db.url) == "0004"
    with db.engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO blobs (sha256, size, created_at) VALUES (:s, 1, :t)"),
                           {"s": "a" * 64, "t": "2026-11-03 09:00:00"})
        for item_id, state in ((1, "parsed"), (2, "rejected")):
            connection.execute(sa.text(
                "INSERT INTO intake_items (id, uid, channel, received_at, sha256, size, state, state_changed_at, "
                "version) "
                "VALUES (:id, :uid, 'upload', :t, :s, 1, :state, :t, 1)"),
                {"id": item_id, "uid": f"uid{item_id}", "t": "2026-11-03 09:00:00", "s": "a" * 64, "state": state})
        json_value = "CAST(:d AS JSONB)" if db.dialect == "postgresql" else ":d"
        for n, (item_id, to_state, reason, details) in enumerate(OLD_EVENTS):
            connection.execute(sa.text(
                "INSERT INTO audit_events (item_id, at, actor, event, from_state, to_state, reason, details) "
                f"VALUES (:item, :at, 'system:old', 'transition', NULL, :to, :reason, {json_value})"),
                {"item": item_id, "at": f"2026-11-03 09:00:0{n}.12345{n}", "to": to_state, "reason": reason,
                 "d": json.dumps(details)})


def test_the_backfill_chains_old_events_and_the_triggers_come_back(db):
    _old_database(db)
    upgrade(db.url)
    assert {"seq", "prev_hash", "hash"} <= _columns(db)
    with db.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT item_id, seq, prev_hash, hash FROM audit_events ORDER BY id")).all()
    assert [(r.item_id, r.seq) for r in rows] == [(1, 1), (2, 1), (1, 2), (2, 2), (1, 3)]
    assert rows[0].prev_hash == genesis(1) and rows[2].prev_hash == rows[0].hash and rows[4].prev_hash == rows[2].hash
    with db.read() as session:
        check = verify_database(session)
    assert check.ok, check.problems
    assert (check.items, check.events) == (2, 5)
    for statement in ("UPDATE audit_events SET reason = 'x'", "DELETE FROM audit_events",
                      "INSERT INTO audit_events (item_id, at, actor, event, seq, prev_hash, hash) "
                      f"VALUES (1, CURRENT_TIMESTAMP, 'x', 'x', 9, '{'0' * 64}', '{'0' * 64}')"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only|audit chain"):
            with db.engine.begin() as connection:
                connection.exec_driver_sql(statement)


def test_downgrade_to_0004_and_up_again(db):
    _old_database(db)
    upgrade(db.url)
    downgrade(db.url, "0004")
    assert "hash" not in _columns(db)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):  # 0001's triggers survive the round trip
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM audit_events")
    upgrade(db.url)
    with db.read() as session:
        assert verify_database(session).ok
