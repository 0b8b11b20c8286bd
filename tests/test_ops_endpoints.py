"""Liveness, health and readiness (einvoice.web.ops): /livez without the database; /readyz 200 only when
the database answers, its schema is at head and the blob folder is writable, else 503 with the reason;
the /metrics access rule (token, or loopback only). Over SQLite and PostgreSQL (tests/pg.py).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import replace

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from einvoice.store import Database
from einvoice.store.migrate import alembic_config
from einvoice.web import create_app
from einvoice.web.ops import METRICS_TOKEN_ENV

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_metrics_token(monkeypatch):
    monkeypatch.delenv(METRICS_TOKEN_ENV, raising=False)


def client_for(db, address: str = "testclient") -> TestClient:
    return TestClient(create_app(db=db), client=(address, 50000))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ready_when_database_schema_and_blobs_are_fine(db):
    with client_for(db) as client:
        response = client.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ok", "checks": {"database": "ok", "schema": "ok", "blobs": "ok"}}
        assert response.headers["cache-control"] == "no-store"
        assert client.get("/livez").json() == {"status": "ok"}
        assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}  # unchanged behaviour
    assert not [p for p in db.blobs.root.iterdir() if p.name.startswith(".readyz-")]  # the probe is removed


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_database_unreachable_is_not_ready_but_alive(backend, tmp_path):
    if backend == "sqlite":
        (tmp_path / "db-is-a-folder").mkdir()
        url = f"sqlite:///{tmp_path / 'db-is-a-folder'}"
    else:  # nothing listens on that port: connection refused at once
        url = f"postgresql://einvoice@127.0.0.1:{_free_port()}/einvoice"
    from pg import make_settings

    db = Database(settings=make_settings(tmp_path / "data", url))
    try:
        with client_for(db) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503
            body = ready.json()
            assert body["status"] == "error" and body["checks"]["database"] == "error"
            assert body["checks"]["schema"] == "unknown" and body["checks"]["blobs"] == "ok"
            assert len(body["reasons"]) == 1 and body["reasons"][0].startswith("database unreachable (")
            assert "password" not in ready.text and "einvoice@" not in ready.text  # no connection details
            assert client.get("/healthz").status_code == 503
            live = client.get("/livez")  # liveness does not depend on the database
            assert live.status_code == 200 and live.json() == {"status": "ok"}
    finally:
        db.dispose()


def test_schema_behind_head_is_not_ready_with_the_reason(db):
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_revision(script.get_current_head())
    with db.transaction() as session:
        session.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": head.down_revision})
    with client_for(db) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["checks"] == {"database": "ok", "schema": "outdated", "blobs": "ok"}
        assert body["reasons"] == [f"database schema at revision {head.down_revision}, this einvoice needs "
                                   f"{head.revision}: run `einvoice db upgrade` (or start the matching einvoice "
                                   f"version)"]
        assert client.get("/healthz").status_code == 200  # healthz only asks whether the database answers


def test_blob_folder_not_writable_is_not_ready(db, tmp_path):
    data_dir = tmp_path / "other-data"
    data_dir.mkdir()
    (data_dir / "blobs").write_text("a file where the blob folder should be")
    broken = Database(db.url, settings=replace(db.settings, data_dir=data_dir))
    try:
        with client_for(broken) as client:
            response = client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["checks"] == {"database": "ok", "schema": "ok", "blobs": "error"}
            assert body["reasons"][0].startswith("blob store folder not writable (")
    finally:
        broken.dispose()


def test_stopped_in_process_worker_is_not_ready(db):
    app = create_app(db=db)
    with TestClient(app) as client:
        finished = threading.Thread(target=lambda: None)
        finished.start()
        finished.join()
        app.state.web.worker = finished
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json()["checks"]["worker"] == "stopped"
        assert client.get("/healthz").json()["worker"] == "stopped"
        app.state.web.worker = None


@pytest.mark.parametrize("address, allowed", [("127.0.0.1", True), ("::1", True), ("127.0.0.53", True),
                                              ("::ffff:127.0.0.1", True), ("10.0.0.5", False),
                                              ("203.0.113.9", False), ("testclient", False)])
def test_metrics_without_token_only_from_loopback(db, address, allowed):
    with client_for(db, address) as client:
        response = client.get("/metrics")
    if allowed:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "einvoice_database_up 1.0" in response.text
    else:
        assert response.status_code == 403
        assert response.json()["error"].startswith("metrics are served to localhost only")
        assert "einvoice_" not in response.text


def test_metrics_with_token_needs_it_from_everywhere(db, monkeypatch):
    monkeypatch.setenv(METRICS_TOKEN_ENV, TOKEN)
    with client_for(db, "127.0.0.1") as local, client_for(db, "198.51.100.7") as remote:
        missing = local.get("/metrics")
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        assert local.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
        assert remote.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        ok = remote.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and "einvoice_intake_items" in ok.text
        assert ok.headers["x-content-type-options"] == "nosniff"  # the security headers as everywhere


def test_ops_paths_answer_json_errors_and_are_not_in_the_schema(db):
    with client_for(db) as client:
        assert client.post("/readyz").json() == {"error": "Method Not Allowed"}
        paths = client.get("/api/v1/openapi.json").json()["paths"]
        assert not {"/livez", "/healthz", "/readyz", "/metrics"} & set(paths)
