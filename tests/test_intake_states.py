"""The intake state machine: only listed transitions, each with one audit event; people for manual ones."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from einvoice.intake.receive import receive
from einvoice.intake.states import ALLOWED, MANUAL, TERMINAL, IllegalTransition, can_transition, transition
from einvoice.store import AuditEvent, IntakeItem, ItemState

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL

S = ItemState
HAPPY_PATH = [S.RECEIVED, S.VALIDATED, S.PARSED, S.MATCHED, S.IN_APPROVAL, S.APPROVED, S.EXPORTED, S.ARCHIVED]


def test_the_table_covers_every_state_and_the_issue_path():
    assert set(ALLOWED) == set(S)
    for before, after in zip(HAPPY_PATH, HAPPY_PATH[1:]):
        assert can_transition(before, after), (before, after)
    assert can_transition("received", "rejected")
    for state in (S.RECEIVED, S.VALIDATED, S.PARSED):
        assert can_transition(state, S.DUPLICATE)
    for state in (S.RECEIVED, S.VALIDATED, S.PARSED, S.MATCHED, S.IN_APPROVAL, S.APPROVED):
        assert can_transition(state, S.FAILED)
    assert TERMINAL == {S.ARCHIVED}
    assert all(to in ALLOWED[frm] for frm, to in MANUAL)


@pytest.mark.parametrize("frm,to", [
    ("received", "parsed"), ("received", "approved"), ("rejected", "parsed"), ("duplicate", "parsed"),
    ("archived", "received"), ("exported", "in_approval"), ("parsed", "validated"), ("received", "received"),
    ("received", "nonsense"),
])
def test_illegal_pairs(frm, to):
    assert not can_transition(frm, to)


def _events(db, item_id):
    with db.transaction() as session:
        return session.execute(
            sa.select(AuditEvent.from_state, AuditEvent.to_state, AuditEvent.actor, AuditEvent.reason)
            .where(AuditEvent.item_id == item_id).order_by(AuditEvent.id)).all()


def test_walk_the_whole_path_with_one_event_per_step(db):
    item = receive(db, b"<x/>", channel="upload", sender="alice@example.org", file_name="a.xml")
    for target in HAPPY_PATH[1:]:
        with db.transaction() as session:
            stored = session.get(IntakeItem, item.id)
            transition(stored, target, actor="system:test", reason=f"to {target}")
    events = _events(db, item.id)
    assert [(e.from_state, e.to_state) for e in events] == [(None, "received")] + [
        (a.value, b.value) for a, b in zip(HAPPY_PATH, HAPPY_PATH[1:])]
    assert events[0].actor == "intake:upload" and "alice@example.org" in events[0].reason
    assert all(e.actor == "system:test" for e in events[1:])


def test_illegal_transition_is_refused_and_nothing_is_written(db):
    item = receive(db, b"<x/>", channel="api", sender="client-1", file_name="a.xml")
    with pytest.raises(IllegalTransition, match="received → approved is not allowed"):
        with db.transaction() as session:
            transition(session.get(IntakeItem, item.id), S.APPROVED, actor="system:test", reason="skip ahead")
    with db.transaction() as session:
        assert session.get(IntakeItem, item.id).state == "received"
    assert len(_events(db, item.id)) == 1


def test_a_reason_and_an_actor_are_required(db):
    item = receive(db, b"<x/>", channel="api", sender="client-1", file_name="a.xml")
    with db.transaction() as session:
        stored = session.get(IntakeItem, item.id)
        with pytest.raises(ValueError, match="reason"):
            transition(stored, S.VALIDATED, actor="system:test", reason=" ")
        with pytest.raises(ValueError, match="actor"):
            transition(stored, S.VALIDATED, actor="", reason="why not")
    with db.transaction() as session:
        assert session.get(IntakeItem, item.id).state == "received"
    assert len(_events(db, item.id)) == 1
    detached = _item_detached(db, item.id)
    with pytest.raises(ValueError, match="not in a session"):
        transition(detached, S.VALIDATED, "system:test", "positional actor and reason")


def _item_detached(db, item_id):
    with db.transaction() as session:
        return session.get(IntakeItem, item_id)


def test_manual_transitions_need_a_person(db):
    item = receive(db, b"<x/>", channel="upload", sender="a", file_name="a.xml")
    with db.transaction() as session:
        transition(session.get(IntakeItem, item.id), S.REJECTED, actor="system:test", reason="invalid")
    with pytest.raises(IllegalTransition, match="only a person"):
        with db.transaction() as session:
            transition(session.get(IntakeItem, item.id), S.VALIDATED, actor="system:test", reason="override")
    with db.transaction() as session:
        transition(session.get(IntakeItem, item.id), S.VALIDATED, actor="user:kaemmerei-mueller",
                   reason="EN 16931-conform, only BR-DE-15 failing: accepted after review")
    assert [e.to_state for e in _events(db, item.id)] == ["received", "rejected", "validated"]


def test_failed_keeps_the_error_and_reprocessing_clears_it(db):
    item = receive(db, b"<x/>", channel="upload", sender="a", file_name="a.xml")
    with db.transaction() as session:
        transition(session.get(IntakeItem, item.id), S.FAILED, actor="system:test", reason="boom",
                   error="Traceback (most recent call last): ...")
    with db.transaction() as session:
        assert session.get(IntakeItem, item.id).error.startswith("Traceback")
        transition(session.get(IntakeItem, item.id), S.RECEIVED, actor="user:admin", reason="fixed")
    with db.transaction() as session:
        assert session.get(IntakeItem, item.id).error is None


def test_transition_many_checks_each_item_and_writes_one_event_each(db):
    items = []
    for n in range(3):
        item = receive(db, f"<x>{n}</x>".encode(), channel="upload", sender="a", file_name=f"{n}.xml")
        items.append(item.id)
    from einvoice.intake.states import transition_many

    with db.transaction() as session:
        rows = [session.get(IntakeItem, i) for i in items]
        with pytest.raises(IllegalTransition):
            transition_many(session, rows, S.PARSED, actor="system:test", reason="skips validation")
        versions = [row.version for row in rows]
        assert transition_many(session, rows, S.VALIDATED, actor="system:test", reason="checked") == 3
        assert [row.state for row in rows] == ["validated"] * 3  # expired and reloaded
        assert [row.version for row in rows] == [v + 1 for v in versions]
    with db.transaction() as session:
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id.in_(items),
                                                             AuditEvent.to_state == "validated")).all()
        assert sorted(e.item_id for e in events) == items and {e.from_state for e in events} == {"received"}
