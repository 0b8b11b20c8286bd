"""deploy/backup.sh and deploy/restore.sh for real: invoices received and processed, backup, the database
and the data folder wiped, restore: items, reports, blobs and the status-link key are back and verified.
Refusals: a damaged backup, a database that holds invoices (without --replace), a missing blob. On the
throwaway PostgreSQL (pg_dump/pg_restore of the same cluster version) and on SQLite (tests/pg.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from einvoice.intake.receive import receive
from einvoice.jobs.worker import run_worker
from einvoice.samples import generate as g
from einvoice.store import Blob, Database, IntakeItem, ValidationReport
from einvoice.web.auth import StatusTokens

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _env(db) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("EINVOICE_", "PG"))}
    env.update(EINVOICE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               EINVOICE_DATA_DIR=str(db.settings.data_dir), EINVOICE_VENV=sys.prefix)
    if db.dialect == "postgresql":
        from pg import find_pg_bin

        env["PG_BIN"] = str(find_pg_bin())
    return env


def run(script: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(DEPLOY / script), *args], env=env, capture_output=True, text=True, timeout=120)


def _state(db) -> dict:
    with db.read() as session:
        return {"items": session.execute(sa.select(IntakeItem.id, IntakeItem.state, IntakeItem.sha256)
                                         .order_by(IntakeItem.id)).all(),
                "reports": session.scalar(sa.select(sa.func.count()).select_from(ValidationReport)),
                "blobs": session.scalars(sa.select(Blob.sha256).order_by(Blob.sha256)).all()}


def _wipe(db, request) -> None:
    """The database emptied (PostgreSQL: dropped and created again, empty) and the data folder gone."""
    db.dispose()
    if db.dialect == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        cluster.drop_database(db.url.database)
        cluster.create_database(db.url.database)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(db.url.database + suffix).unlink(missing_ok=True)
    shutil.rmtree(db.settings.data_dir)


def _backup(db, tmp_path) -> Path:
    done = run("backup.sh", str(tmp_path / "backups"), env=_env(db))
    assert done.returncode == 0, done.stdout + done.stderr
    [folder] = [p for p in (tmp_path / "backups").iterdir() if not p.name.startswith(".")]
    assert done.stdout.strip() == f"einvoice backup: {folder}"
    return folder


def test_backup_wipe_restore_round_trip(db, tmp_path, request):
    for number in ("BK-1", "BK-2"):
        receive(db, g.ubl_invoice(number=number), channel="api", sender=None, file_name=f"{number}.xml")
    receive(db, g.ubl_invoice(number="BK-3", defect="amount-due"), channel="upload", sender=None, file_name="x.xml")
    run_worker(once=True, db=db)
    before = _state(db)
    assert len(before["items"]) == 3 and before["reports"] == 3 and len(before["blobs"]) == 3
    first = before["items"][0]
    token = StatusTokens(db.settings.data_dir).token("status-of-BK-1")  # the key file is in the data folder

    folder = _backup(db, tmp_path)
    names = {p.name for p in folder.iterdir()}
    assert names == {"SHA256SUMS", "data.tar", "schema-revision.txt",
                     "database.dump" if db.dialect == "postgresql" else "einvoice.db"}
    assert "(newest:" in (folder / "schema-revision.txt").read_text()

    _wipe(db, request)
    done = run("restore.sh", str(folder), env=_env(db))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "einvoice restore: 3 invoices, 3 of 3 blobs present and intact, schema " in done.stdout

    restored = Database(db.url, settings=db.settings)
    try:
        assert _state(restored) == before
        assert restored.blobs.get(first.sha256)  # the bytes, hash-checked
        with restored.read() as session:
            assert session.get(IntakeItem, first.id).state == first.state
    finally:
        restored.dispose()
    assert StatusTokens(db.settings.data_dir).token("status-of-BK-1") == token  # old status links still work
    current = subprocess.run([str(Path(sys.executable).parent / "einvoice"), "db", "current"], env=_env(db),
                             capture_output=True, text=True, timeout=60)
    assert current.returncode == 0, current.stdout + current.stderr


def test_restore_refuses_damage_populated_databases_and_reports_missing_blobs(db, tmp_path, request):
    item = receive(db, g.ubl_invoice(number="RF-1"), channel="api", sender=None, file_name="rf.xml")
    lost = db.blobs.path_for(item.sha256)
    lost.chmod(0o644)
    lost.unlink()  # a blob lost on disk before the backup was taken
    folder = _backup(db, tmp_path)

    refused = run("restore.sh", str(folder), env=_env(db))  # the database still holds the invoice
    assert refused.returncode == 2 and "use --replace" in refused.stderr

    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    with (damaged / "data.tar").open("ab") as tar:
        tar.write(b"x")
    broken = run("restore.sh", "--replace", str(damaged), env=_env(db))
    assert broken.returncode == 2 and "SHA256SUMS do not match" in broken.stderr

    _wipe(db, request)
    done = run("restore.sh", str(folder), env=_env(db))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 invoices, 0 of 1 blobs present and intact" in done.stdout
    assert f"blob {item.sha256} missing or damaged" in done.stderr

    usage = run("restore.sh", env=_env(db))
    assert usage.returncode == 2 and usage.stderr.startswith("usage:")
