"""kill -9 of ``einvoice export bookings`` at points inside the export (SQLite and PostgreSQL).

The CLI runs under the hooks of tests/procs.py and hangs, to be killed -9, at one of four points:
while the batch file is being written into the blob store (before its rename), after the file is
stored but before the batch rows, after every row and state change is written but before the commit,
and after the commit before the file is handed out. Afterwards either nothing happened (no batch,
every invoice still ``approved``, no half-written blob under a final name) and the next export takes
them all, or the one batch is complete; never an invoice in two batches, nor ``exported`` without a
batch; the batch file is intact and its Kontrollsumme is the sum of the invoices.
"""

from __future__ import annotations

import hashlib
import time

import pytest
import sqlalchemy as sa

import procs
from bookings_data import approved_invoice, load_town, signed_payable_total
from einvoice.handoff.bookings.batches import create_batch
from einvoice.store.handoff_models import ExportBatch, ExportRecord
from einvoice.store.models import AuditEvent, IntakeItem

pytest_plugins = ["pg"]  # tests/pg.py: the db fixture over SQLite and PostgreSQL

POINTS = {  # where the export hangs → whether the batch was committed when it was killed
    "writing-file": ("os:replace:before:1", False),
    "file-stored": ("einvoice.store.blobs:BlobStore.put:after:1", False),
    "before-commit": ("einvoice.handoff.bookings.batches:transition_many:after:1", False),
    "after-commit": ("einvoice.handoff.bookings.cli:_write:before:1", True),
}
SUPPLIERS = ("musterbau", "gruenpflege", "schreibwerk", "nordlicht", "musterbau")


def _no_open_transactions(db) -> None:
    """PostgreSQL: wait until the killed client's backend has rolled back (its row locks would make the
    next export skip the invoices: SKIP LOCKED)."""
    if db.dialect != "postgresql":
        return
    deadline = time.monotonic() + 30
    while True:
        with db.read() as session:
            open_ = session.scalar(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"))
        if open_ == 0:
            return
        assert time.monotonic() < deadline, "the killed export's transaction is still open"
        time.sleep(0.05)


def _blob_files(db) -> tuple[list, list]:
    files = [path for path in db.blobs.root.rglob("*") if path.is_file()]
    return [p for p in files if not p.name.startswith(".")], [p for p in files if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("point", list(POINTS))
def test_export_killed_9_inside_leaves_no_batch_or_one_complete_batch(db, tmp_path, point):
    hang, committed = POINTS[point]
    town = load_town(db)
    ids = [approved_invoice(town, supplier=supplier, credit_note=n == 4) for n, supplier in enumerate(SUPPLIERS)]
    marker, log, out = tmp_path / "hanging", tmp_path / "export.log", tmp_path / "batch.csv"
    export = procs.start(["export", "bookings", "--out", str(out)], procs.db_env(db), log, hang=hang, marker=marker)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert export.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.02)
    finally:
        procs.kill9(export)
    assert export.returncode == -9 and not out.exists()  # killed before it handed out a file
    _no_open_transactions(db)

    with db.read() as session:
        batches = session.scalars(sa.select(ExportBatch)).all()
        states = set(session.scalars(sa.select(IntakeItem.state).where(IntakeItem.id.in_(ids))))
    finals, partial = _blob_files(db)
    assert all(db.blobs.verify(path.name) for path in finals)  # no half-written blob under its final name
    assert bool(partial) == (point == "writing-file")  # the kill did land while the file was written
    if committed:
        assert len(batches) == 1 and states == {"exported"}
        with db.transaction() as session:  # the next export finds nothing left to take
            assert create_batch(session, db.blobs, actor="system:test") is None
    else:
        assert batches == [] and states == {"approved"}
        with db.transaction() as session:  # the next export takes all of them
            again = create_batch(session, db.blobs, actor="system:test")
        assert again is not None and again.invoice_count == len(ids)

    with db.read() as session:
        (batch,) = session.scalars(sa.select(ExportBatch)).all()
        records = session.execute(sa.select(ExportRecord.item_id, ExportRecord.batch_id)
                                  .where(ExportRecord.active.is_(True))).all()
        items = dict(session.execute(sa.select(IntakeItem.id, IntakeItem.invoice_number)
                                     .where(IntakeItem.id.in_(ids), IntakeItem.state == "exported")).all())
        exported_events = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.item_id.in_(ids), AuditEvent.to_state == "exported"))
    assert sorted({item for item, _ in records}) == sorted(ids) == sorted(items)  # every invoice exported ...
    assert {batch_id for _, batch_id in records} == {batch.id}  # ... in the one batch
    assert exported_events == len(ids)  # ... once
    data = db.blobs.get(batch.sha256)  # checks the hash
    assert hashlib.sha256(data).hexdigest() == batch.sha256
    assert all(number.encode() in data for number in items.values())
    assert batch.invoice_count == len(ids) and batch.control_total == signed_payable_total(db, ids)
