"""The hash chain of the audit trail in the database (SQLite and PostgreSQL): every write path links
(audit, transition, transition_many, several pending events, savepoints), details hash the same after
the database round trip, the database refuses updates, deletes and inserts that break the chain,
concurrent writers of one invoice queue, and `einvoice audit verify --database` finds rows rewritten
behind the triggers' back."""

from __future__ import annotations

import threading
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from einvoice.cli import main
from einvoice.intake.receive import receive
from einvoice.intake.states import audit, transition, transition_many
from einvoice.store.audit_chain import hashed_fields, verify_database
from einvoice.store.audit_verify_standalone import check_events, event_hash, genesis
from einvoice.store.models import AuditEvent, IntakeItem

pytest_plugins = ["pg"]  # tests/pg.py: the db fixture over SQLite and PostgreSQL

DETAILS = {"zeta": 1, "alpha": {"b": [1.5, 1e20, -0.0, 2.50], "a": None}, "amount": Decimal("1234.50"),
           "day": date(2026, 11, 3), "text": "Grüße ✓ \"zitiert\"\n\tTab \u2028 \x01", "flag": True, "n": 10**20}


def new_item(db, name: str = "a.xml") -> int:
    return receive(db, f"<x>{name}</x>".encode(), channel="upload", sender="test", file_name=name).id


def events_of(db, item_id: int) -> list[AuditEvent]:
    with db.read() as session:
        return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == item_id)
                                    .order_by(AuditEvent.seq)))


def chain_problems(db, item_id: int) -> list[str]:
    return check_events(item_id, [{**hashed_fields(e), "hash": e.hash} for e in events_of(db, item_id)])


def tamper(db, *statements: str) -> None:
    """Run statements with the append-only triggers off, as a database superuser could."""
    with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")  # no user triggers
        else:
            for name in ("audit_events_no_update", "audit_events_no_delete", "audit_events_chain_link"):
                connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        for statement in statements:
            connection.exec_driver_sql(statement)


def test_events_of_every_write_path_are_chained_per_item(db):
    first, second = new_item(db, "a.xml"), new_item(db, "b.xml")
    with db.transaction() as session:  # several events of two items pending in one session, interleaved
        a, b = session.get(IntakeItem, first), session.get(IntakeItem, second)
        transition(a, "validated", "system:test", "valid")
        audit(b, actor="system:test", event="note", reason="eine Notiz", details=DETAILS)
        audit(a, actor="user:x", event="comment", reason="Kommentar", details={"k": [3, 2, 1]})
        transition(a, "parsed", "system:test", "read")
        transition(b, "validated", "system:test", "valid")
    with db.transaction() as session:
        items = [session.get(IntakeItem, first), session.get(IntakeItem, second)]
        audit(items[0], actor="system:test", event="note", reason="vor dem Sammelübergang")  # pending, then bulk
        transition(items[1], "parsed", "system:test", "read")
        for item in items:
            transition(item, "matched", "system:test", "matched")
        transition_many(session, items, "in_approval", "system:test", "gestartet", details={"batch": Decimal("1.0")})
        audit(session.get(IntakeItem, first), actor="system:test", event="note", reason="nach dem Sammelübergang")
    one, two = events_of(db, first), events_of(db, second)
    assert [e.seq for e in one] == list(range(1, 9)) and [e.seq for e in two] == list(range(1, 7))
    assert [e.to_state or e.event for e in one] == ["received", "validated", "comment", "parsed", "note", "matched",
                                                    "in_approval", "note"]
    assert [e.to_state or e.event for e in two] == ["received", "note", "validated", "parsed", "matched", "in_approval"]
    assert one[0].prev_hash == genesis(first) and two[0].prev_hash == genesis(second) != genesis(first)
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(one, one[1:]))
    assert chain_problems(db, first) == [] and chain_problems(db, second) == []
    assert len({e.hash for e in one + two}) == 14
    with db.read() as session:
        check = verify_database(session)
    assert check.ok and (check.items, check.events) == (2, 14)


def test_details_hash_the_same_after_the_database_round_trip(db):
    item_id = new_item(db)
    with db.transaction() as session:
        written = audit(session.get(IntakeItem, item_id), actor="system:test", event="note", reason="Zahlen",
                        details=DETAILS, at=datetime(2026, 11, 3, 10, 0, 0, 7, tzinfo=timezone.utc))
        assert written.hash is None  # given at flush
    stored_hash = written.hash
    assert len(stored_hash) == 64
    (_, event) = events_of(db, item_id)
    assert event.hash == stored_hash
    assert event.details["amount"] == "1234.50" and event.details["day"] == "2026-11-03"  # as JSONDocument stores
    assert event_hash(hashed_fields(event)) == stored_hash  # whatever key order / number form the backend returns
    assert hashed_fields(event)["at"] == "2026-11-03T10:00:00.000007Z"


def test_an_event_added_directly_is_linked_at_flush_too(db):
    item_id = new_item(db)
    with db.transaction() as session:  # as bench/workflow.py does; einvoice code goes through states.audit
        session.add(AuditEvent(item_id=item_id, actor="system:bench", event="note", reason="direkt"))
        session.add(AuditEvent(item_id=item_id, actor="system:bench", event="note", reason="direkt 2"))
    assert [e.seq for e in events_of(db, item_id)] == [1, 2, 3] and chain_problems(db, item_id) == []


def test_a_rolled_back_savepoint_leaves_no_gap(db):
    item_id = new_item(db)
    with db.transaction() as session:
        item = session.get(IntakeItem, item_id)
        audit(item, actor="system:test", event="note", reason="bleibt")
        savepoint = session.begin_nested()
        audit(item, actor="system:test", event="note", reason="zurückgenommen")
        session.flush()
        savepoint.rollback()
        audit(item, actor="system:test", event="note", reason="danach")
    assert [(e.seq, e.reason) for e in events_of(db, item_id)][1:] == [(2, "bleibt"), (3, "danach")]
    assert chain_problems(db, item_id) == []


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET hash = prev_hash",
    "DELETE FROM audit_events WHERE seq = 1",
    "TRUNCATE audit_events",
    "INSERT INTO audit_events (item_id, at, actor, event, seq, prev_hash, hash) VALUES "
    "({item}, CURRENT_TIMESTAMP, 'x', 'forged', 3, '{zeros}', '{zeros}')",  # a gap: seq 2 missing
    "INSERT INTO audit_events (item_id, at, actor, event, seq, prev_hash, hash) VALUES "
    "({item}, CURRENT_TIMESTAMP, 'x', 'forged', 2, '{zeros}', '{zeros}')",  # prev_hash is not seq 1's hash
    "INSERT INTO audit_events (item_id, at, actor, event, seq, prev_hash, hash) VALUES "
    "({item}, CURRENT_TIMESTAMP, 'x', 'forged', 1, '{zeros}', '{zeros}')",  # seq 1 again
])
def test_the_database_refuses_rewriting_and_broken_links(db, statement):
    if statement.startswith("TRUNCATE") and db.dialect != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    item_id = new_item(db)
    with pytest.raises((sa.exc.DBAPIError, sa.exc.IntegrityError),
                       match="append-only|audit chain|UNIQUE|unique|duplicate"):
        with db.transaction() as session:
            session.execute(sa.text(statement.format(item=item_id, zeros="0" * 64)))
    assert len(events_of(db, item_id)) == 1 and chain_problems(db, item_id) == []


def test_the_database_accepts_a_correct_link_written_by_hand(db):
    item_id = new_item(db)
    (first,) = events_of(db, item_id)
    fields = {"item_id": item_id, "seq": 2, "at": "2026-11-03T10:00:00.000000Z", "actor": "x", "event": "by-hand",
              "from_state": None, "to_state": None, "reason": None, "details": None, "prev_hash": first.hash}
    with db.transaction() as session:
        session.execute(sa.insert(AuditEvent).values(
            item_id=item_id, at=datetime(2026, 11, 3, 10, tzinfo=timezone.utc), actor="x", event="by-hand", seq=2,
            prev_hash=first.hash, hash=event_hash(fields), details=None))
    assert chain_problems(db, item_id) == []


def test_concurrent_writers_of_one_invoice_queue_instead_of_forking(db):
    item_id = new_item(db)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            start.wait()
            for k in range(8):
                with db.transaction() as session:
                    item = session.get(IntakeItem, item_id)
                    audit(item, actor=f"system:w{n}", event="note", reason=f"{n}/{k}")
                    audit(item, actor=f"system:w{n}", event="note", reason=f"{n}/{k} zweite")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    events = events_of(db, item_id)
    assert [e.seq for e in events] == list(range(1, 66)) and chain_problems(db, item_id) == []


def test_verify_database_finds_rows_rewritten_behind_the_triggers(db, monkeypatch, capsys):
    changed, deleted, truncated, fine = (new_item(db, f"{n}.xml") for n in "abcd")
    for item_id in (changed, deleted, truncated, fine):
        with db.transaction() as session:
            item = session.get(IntakeItem, item_id)
            transition(item, "validated", "system:test", "valid")
            audit(item, actor="system:test", event="note", reason="Original")
            transition(item, "parsed", "system:test", "read")
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(db.settings.data_dir))
    assert main(["audit", "verify", "--database"]) == 0
    assert "4 Rechnungen, 16 Audit-Ereignisse geprüft, 0 mit Abweichungen" in capsys.readouterr().err

    tamper(db, f"UPDATE audit_events SET reason = 'geschönt' WHERE item_id = {changed} AND seq = 3",
           f"DELETE FROM audit_events WHERE item_id = {deleted} AND seq = 2",
           f"DELETE FROM audit_events WHERE item_id = {truncated} AND seq = 4")
    with db.read() as session:
        check = verify_database(session)
    assert sorted(check.problems) == [changed, deleted, truncated] and check.events == 14
    assert check.problems[changed] == [
        "Ereignis seq 3: Hash stimmt nicht – der Inhalt wurde nach dem Schreiben verändert"]
    assert check.problems[deleted] == ["Ereignis seq 2 fehlt (gelöscht oder nie exportiert)"]
    assert check.problems[truncated][0].startswith("Status „parsed“ passt nicht zum letzten Übergang (seq 2")
    assert main(["audit", "verify", "--database", "--item", str(fine)]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--database"]) == 1
    out = capsys.readouterr()
    assert f"Rechnung #{changed}:\n  - Ereignis seq 3: Hash stimmt nicht" in out.out
    assert "3 mit Abweichungen" in out.err
