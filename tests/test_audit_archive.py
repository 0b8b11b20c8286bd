"""The hash chain in the DMS archive package: ``audit.json`` carries seq, prev_hash and hash and
verifies offline; a failed archiving attempt in the middle of the trail stays in it (only trailing
ones are left out); `verify_all` finds a database event rewritten after archiving, even when the forger recomputed the
database's chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

import archive_data as data
from einvoice.handoff.archive import HotFolderTarget, archive_item, verify_all
from einvoice.intake.states import audit
from einvoice.store.audit_chain import hashed_fields, verify_database
from einvoice.store.audit_verify_standalone import check_document, event_hash, genesis
from einvoice.store.handoff_models import ArchivePackage
from einvoice.store.models import AuditEvent, IntakeItem
from test_audit_chain import tamper

pytest_plugins = ["pg"]


@pytest.fixture
def town(db):
    return data.town(db)


def package_audit(db, item_id: int) -> dict:
    with db.read() as session:
        row = session.scalars(sa.select(ArchivePackage).where(ArchivePackage.item_id == item_id,
                                                              ArchivePackage.status == "delivered")).one()
    return json.loads((Path(row.location) / "audit.json").read_text(encoding="utf-8"))


def test_package_chain_verifies_and_exposes_a_rewritten_database(town, tmp_path):
    db = town
    item_id, _ = data.rejected(db)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the hot folder should be")
    with pytest.raises(Exception):
        archive_item(db, item_id, target=HotFolderTarget(blocked))  # recorded: event archive-failed
    with db.transaction() as session:
        audit(session.get(IntakeItem, item_id), actor="user:k.weber", event="comment", reason="Ablage repariert")
    target = HotFolderTarget(tmp_path / "dms")
    archive_item(db, item_id, target=target)
    trail = package_audit(db, item_id)
    events = trail["events"]
    assert [e["event"] for e in events][-2:] == ["archive-failed", "comment"]  # not trailing: it stays
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)) and events[0]["at"].endswith("Z")
    assert check_document(trail) == []
    assert list(verify_all(db, targets=target).values()) == [[]]

    tamper(db, f"UPDATE audit_events SET reason = 'umgeschrieben' WHERE item_id = {item_id} AND seq = 2")
    (problems,) = verify_all(db, targets=target).values()
    assert problems == ["audit.json: Ereignis seq 2 weicht vom Audit-Trail der Datenbank ab"]
    rehash_chain(db, item_id)  # a careful forger makes the database's own chain consistent again ...
    with db.read() as session:
        assert verify_database(session, item_id).ok
    (problems,) = verify_all(db, targets=target).values()  # ... but the archived package still tells
    assert problems == [f"audit.json: Ereignis seq {n} weicht vom Audit-Trail der Datenbank ab"
                        for n in range(2, len(events) + 1)]


def rehash_chain(db, item_id: int) -> None:
    with db.read() as session:
        rows = list(session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == item_id).order_by(AuditEvent.seq)))
    statements, prev = [], genesis(item_id)
    for row in rows:
        fields = {**hashed_fields(row), "prev_hash": prev}
        prev = event_hash(fields)
        statements.append(f"UPDATE audit_events SET prev_hash = '{fields['prev_hash']}', hash = '{prev}' "
                          f"WHERE id = {row.id}")
    tamper(db, *statements)


def test_trailing_failed_attempts_are_left_out_and_the_chain_still_verifies(town, tmp_path):
    db = town
    item_id, _ = data.rejected(db)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    with pytest.raises(Exception):
        archive_item(db, item_id, target=HotFolderTarget(blocked))
    archive_item(db, item_id, target=HotFolderTarget(tmp_path / "dms"))
    trail = package_audit(db, item_id)
    assert "archive-failed" not in [e["event"] for e in trail["events"]] and check_document(trail) == []
