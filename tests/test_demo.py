"""`einvoice demo`: the newcomer's one command, run as a newcomer would (a subprocess, a fresh folder)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PASSWORD_LINE = re.compile(r"^\s+(m\.mueller|e\.schneider|r\.schmidt|k\.weber|admin)\s+(\S{12})\s", re.M)


def _run_demo(data_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EINVOICE_")}
    return subprocess.run([sys.executable, "-m", "einvoice.cli", "demo", "--no-serve", "--data-dir", str(data_dir)],
                          cwd=cwd, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    data_dir = base / "einvoice-demo"
    first = _run_demo(data_dir, base)
    assert first.returncode == 0, first.stdout + first.stderr
    return data_dir, first


def _rows(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "einvoice.db") as connection:
        return connection.execute(sql).fetchall()


def test_prints_passwords_summary_and_url(demo):
    _, run = demo
    assert dict(PASSWORD_LINE.findall(run.stdout)).keys() == {"m.mueller", "e.schneider", "r.schmidt", "k.weber",
                                                             "admin"}
    assert "http://127.0.0.1:8000/login" in run.stdout
    assert "API-Token" in run.stdout and "Manuelle Zuordnung" in run.stdout


def test_states_of_the_demo_invoices(demo):
    data_dir, _ = demo
    states = dict(_rows(data_dir, "SELECT state, count(*) FROM intake_items GROUP BY state"))
    assert states.get("in_approval", 0) >= 8, states
    assert states.get("rejected") == 1, states
    assert states.get("failed", 0) == 0, states
    manual = _rows(data_dir, "SELECT i.id FROM intake_items i LEFT JOIN assignments a ON a.item_id = i.id "
                             "WHERE i.state = 'parsed' AND (a.item_id IS NULL OR a.status = 'manual')")
    assert len(manual) == 1
    channels = dict(_rows(data_dir, "SELECT channel, count(*) FROM intake_items GROUP BY channel"))
    assert channels.get("smtp", 0) >= 2 and channels.get("api", 0) >= 8, channels
    assert _rows(data_dir, "SELECT count(*) FROM intake_items WHERE kind LIKE '%pdf%' OR file_name LIKE '%.pdf'")[0][0] >= 1
    assert len(list((data_dir / "outbox").glob("*.eml"))) >= 2  # receipts of the mail invoices


def test_a_printed_password_logs_in(demo, monkeypatch):
    from fastapi.testclient import TestClient

    from einvoice.config import load_settings
    from einvoice.store.db import Database
    from einvoice.web.app import create_app

    from ui_helpers import login

    data_dir, run = demo
    password = dict(PASSWORD_LINE.findall(run.stdout))["m.mueller"]
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EINVOICE_DATABASE_URL", f"sqlite:///{data_dir / 'einvoice.db'}")
    db = Database(settings=load_settings())
    try:
        app = create_app(settings=db.settings, db=db)
        with TestClient(app, follow_redirects=False) as client:
            response = login(client, "m.mueller", password)
            assert response.status_code == 303, response.text
            inbox = client.get("/aufgaben")
            assert inbox.status_code == 200
            assert "RE-" in inbox.text  # Musterbau invoices wait for his "sachlich richtig"
        with TestClient(app, follow_redirects=False) as stranger:
            assert login(stranger, "m.mueller", "falsch-falsch-falsch").status_code != 303
    finally:
        db.dispose()


def test_second_run_starts_fresh_and_foreign_folders_are_left_alone(demo, tmp_path):
    data_dir, first = demo
    before = _rows(data_dir, "SELECT count(*) FROM intake_items")[0][0]
    (data_dir / "left-over.txt").write_text("from the first run")
    second = _run_demo(data_dir, tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert not (data_dir / "left-over.txt").exists()
    assert _rows(data_dir, "SELECT count(*) FROM intake_items")[0][0] == before
    assert dict(PASSWORD_LINE.findall(second.stdout)) != dict(PASSWORD_LINE.findall(first.stdout))

    foreign = tmp_path / "not-a-demo"
    foreign.mkdir()
    (foreign / "important.txt").write_text("keep me")
    refused = _run_demo(foreign, tmp_path)
    assert refused.returncode == 1 and "kein Demo-Ordner" in refused.stderr
    assert (foreign / "important.txt").read_text() == "keep me"
