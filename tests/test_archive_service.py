"""Archiving finished invoices: exported / rejected / duplicate → delivered package + archived (once),
an export batch not yet booked waits, failures are recorded and retried, verify re-checks hashes and
compares the originals with the blob store, and blobs have no delete path (retention)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

import archive_data as data
from einvoice.handoff.archive import (
    ArchiveError, HotFolderTarget, archive_due, archive_item, due_items, retained_until, verify_all,
)
from einvoice.handoff.archive.manifest import MANIFEST, manifest_bytes
from einvoice.intake.receive import receive
from einvoice.store.blobs import BlobStore
from einvoice.store.handoff_models import ArchivePackage, ExportBatch, ExportRecord
from einvoice.store.models import AuditEvent, Blob, IntakeItem

pytest_plugins = ["pg"]


@pytest.fixture
def town(db):
    return data.town(db)


def packages(db, item_id=None) -> list[ArchivePackage]:
    with db.read() as session:
        stmt = sa.select(ArchivePackage).order_by(ArchivePackage.id)
        return list(session.scalars(stmt if item_id is None else stmt.where(ArchivePackage.item_id == item_id)))


def test_finished_items_are_archived_once_and_verify(town, tmp_path):
    db = town
    target = HotFolderTarget(tmp_path / "dms")
    xml = data.xml()
    exported = data.exported(db, xml, "rechnung.xml")
    rejected, bad = data.rejected(db)
    duplicate = receive(db, xml, channel="upload", sender="again", file_name="nochmal.xml").id
    data.work(db)
    waiting = receive(db, data.xml(), channel="upload", sender="x", file_name="offen.xml").id
    data.work(db)
    assert data.state(db, duplicate) == "duplicate" and data.state(db, waiting) == "in_approval"
    with db.read() as session:
        assert due_items(session) == [exported, rejected, duplicate]

    run = archive_due(db, target=target)
    assert run.archived == [exported, rejected, duplicate] and not run.failed
    assert [data.state(db, i) for i in (exported, rejected, duplicate, waiting)] == [
        "archived", "archived", "archived", "in_approval"]
    rows = packages(db)
    assert [r.status for r in rows] == ["delivered"] * 3 and {r.retention_until for r in rows} == {date(2036, 12, 31)}
    folder = Path(rows[0].location)
    assert (folder / "original" / "rechnung.xml").read_bytes() == xml  # byte-identical to the input
    assert (Path(rows[1].location) / "original" / "kaputt.xml").read_bytes() == bad
    with db.read() as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == exported,
                                                            AuditEvent.to_state == "archived")).one()
        assert event.details["package"] == rows[0].package_name and event.details["outcome"] == "exported"

    assert archive_due(db, target=target).archived == []  # nothing twice
    with pytest.raises(ArchiveError, match="bereits archiviert"):
        archive_item(db, exported, target=target)
    with pytest.raises(ArchiveError, match="nicht abgeschlossen"):
        archive_item(db, waiting, target=target)
    assert len(packages(db)) == 3

    assert verify_all(db, targets=target) == {r.id: [] for r in rows}
    assert all(r.verified_ok and r.verified_at for r in packages(db))


def test_verify_finds_tampering_and_originals_that_differ_from_the_blob_store(town, tmp_path):
    db = town
    target = HotFolderTarget(tmp_path / "dms")
    first, _ = data.rejected(db)
    second, _ = data.rejected(db, "zwei.xml")
    third, _ = data.rejected(db, "drei.xml")
    archive_due(db, target=target)
    one, two, three = (Path(r.location) for r in packages(db))

    original = one / "original" / "kaputt.xml"
    original.write_bytes(original.read_bytes().replace(b"Musterbau", b"Musterbaw"))
    # a forger who also rewrites the manifest: caught by the recorded manifest hash and the blob store
    forged = two / "original" / "zwei.xml"
    forged.write_bytes(b"<Invoice>anders</Invoice>")
    files = {p.relative_to(two).as_posix(): p.read_bytes() for p in two.rglob("*") if p.is_file()}
    (two / MANIFEST).write_bytes(manifest_bytes(sorted(files.items())))
    shutil.rmtree(three)

    outcome = verify_all(db, targets={"hotfolder": target})
    rows = packages(db)
    assert outcome[rows[0].id] == ["Prüfsumme stimmt nicht (Datei verändert): original/kaputt.xml",
                                   "Original weicht von den empfangenen Bytes ab: original/kaputt.xml",
                                   f"Original fehlt im Paket (SHA-256 {data_sha(db, first)})"]
    assert "Manifest weicht vom bei der Ablage festgehaltenen Manifest ab (Prüfsumme)" in outcome[rows[1].id]
    assert "Original weicht von den empfangenen Bytes ab: original/zwei.xml" in outcome[rows[1].id]
    assert "nicht gefunden" in outcome[rows[2].id][0]
    assert [r.verified_ok for r in rows] == [False, False, False]
    assert verify_all(db, targets={}, item_id=second)[rows[1].id] == ["Archivziel 'hotfolder' ist nicht konfiguriert"]


def data_sha(db, item_id) -> str:
    with db.read() as session:
        return session.get(IntakeItem, item_id).sha256


def test_two_archivers_at_once_archive_each_invoice_once(town, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    db = town
    ids = [data.rejected(db, f"r{n}.xml")[0] for n in range(3)]
    target = HotFolderTarget(tmp_path / "dms")
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: archive_due(db, target=target), range(2)))
    assert sorted(runs[0].archived + runs[1].archived) == ids and not runs[0].failed and not runs[1].failed
    assert len(packages(db)) == 3 and len(list((tmp_path / "dms").iterdir())) == 3


def test_failed_delivery_is_recorded_and_retried(town, tmp_path):
    db = town
    item_id, _ = data.rejected(db)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the hot folder should be")
    with pytest.raises(Exception):
        archive_item(db, item_id, target=HotFolderTarget(blocked))
    assert data.state(db, item_id) == "rejected"
    (row,) = packages(db, item_id)
    assert row.status == "failed" and row.error
    with db.read() as session:
        assert session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == item_id,
                                                           AuditEvent.event == "archive-failed")).one()
    run = archive_due(db, target=HotFolderTarget(tmp_path / "dms"))
    assert run.archived == [item_id] and data.state(db, item_id) == "archived"
    # the failed attempt is not in the package (a retry must give the same bytes as the first try)
    events = json.loads((Path(packages(db, item_id)[1].location) / "audit.json").read_text())["events"]
    assert "archive-failed" not in [e["event"] for e in events]


def test_crash_between_delivery_and_commit_is_repaired_by_the_next_run(town, tmp_path, monkeypatch):
    db = town
    item_id, _ = data.rejected(db)
    target = HotFolderTarget(tmp_path / "dms")
    import einvoice.handoff.archive.service as service

    def crash(*args, **kwargs):
        raise RuntimeError("power cut after the delivery")

    monkeypatch.setattr(service, "transition", crash)
    with pytest.raises(RuntimeError):
        archive_item(db, item_id, target=target)
    assert data.state(db, item_id) == "rejected" and len(list((tmp_path / "dms").iterdir())) == 1
    monkeypatch.undo()
    row = archive_item(db, item_id, target=target)  # the identical package is accepted, not duplicated
    assert data.state(db, item_id) == "archived" and len(list((tmp_path / "dms").iterdir())) == 1
    assert verify_all(db, targets=target)[row.id] == []


def test_exported_invoice_waits_until_its_batch_is_booked(town, tmp_path):
    db = town
    item_id = data.exported(db, data.xml(), "rechnung.xml")
    sha = db.blobs.put(b"Buchungssatz;...")
    with db.transaction() as session:
        session.add(Blob(sha256=sha, size=16))
        session.flush()
        batch = ExportBatch(created_by="user:k.weber", format="csv", mapping="standard", file_name="b.csv",
                            sha256=sha, record_count=1, invoice_count=1, control_total=Decimal("1115.86"))
        session.add(batch)
        session.flush()
        session.add(ExportRecord(batch_id=batch.id, item_id=item_id, gross_amount=Decimal("1115.86"), record={}))
        batch_id = batch.id
    target = HotFolderTarget(tmp_path)
    with db.read() as session:
        assert due_items(session) == []
    with pytest.raises(ArchiveError, match="noch nicht als gebucht"):
        archive_item(db, item_id, target=target)
    with db.transaction() as session:
        session.get(ExportBatch, batch_id).status = "booked"
    assert archive_due(db, target=target).archived == [item_id]
    approval = json.loads((Path(packages(db)[0].location) / "approval.json").read_text())
    assert approval["booking_export"][0]["batch_id"] == batch_id


def test_blobs_have_no_delete_path_and_retention_is_known(town, tmp_path):
    assert not [name for name in dir(BlobStore) if any(w in name.lower() for w in ("delete", "remove", "unlink",
                                                                                    "purge", "prune"))]
    db = town
    item_id, _ = data.rejected(db)
    sha = data_sha(db, item_id)
    assert not (db.blobs.path_for(sha).stat().st_mode & 0o222)  # read-only on disk
    with db.read() as session:
        assert retained_until(session, sha) == date.max  # not archived yet: keep
        assert retained_until(session, "0" * 64) is None
    archive_due(db, target=HotFolderTarget(tmp_path))
    with db.read() as session:
        assert retained_until(session, sha) == date(2036, 12, 31)
    assert db.blobs.verify(sha)  # archiving leaves the original where it was
