"""Database connection loss and return (PostgreSQL): ``einvoice serve --no-worker`` and an ``einvoice
worker`` keep running while every connection to their database is terminated, first once (the pool
reconnects: the next upload is simply accepted) and then for a few seconds of outage (the database
refuses connections): /healthz answers 503, an upload 503 with a German message and nothing stored, the
worker logs and waits. When the database is back, everything posted before, during (re-sent) and after
is processed exactly once. And in process: a worker that cannot record a job's outcome because the
database is away records it when the database returns (einvoice.jobs.worker._record_outcome).
"""

from __future__ import annotations

import http.client
import re
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

import procs
from einvoice.jobs import queue
from einvoice.jobs.queue import enqueue
from einvoice.jobs.registry import JobContext, job_kind
from einvoice.jobs.worker import run_job
from einvoice.store.models import IntakeItem, Job

pytest_plugins = ["pg"]  # tests/pg.py: the db fixture over SQLite and PostgreSQL

TERMINATE = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE datname = '{name}' AND pid <> pg_backend_pid()")


def _admin(cluster, *statements: str) -> None:
    import psycopg

    with psycopg.connect(cluster.admin_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _post_all(port: int, files: list[tuple[str, bytes]]) -> dict[str, int]:
    ids = {}
    for name, data in files:
        status, body = procs.post(port, name, data)
        assert status == 202, (name, status, body)
        ids[name] = body["id"]
    return ids


def _upload_form(port: int, name: str, data: bytes) -> tuple[int, str]:
    boundary = "einvoice-outage-test"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/xml\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/upload", body=body,
                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_database_loss_and_return_nothing_lost_nothing_twice(db, tmp_path, request):
    if db.dialect != "postgresql":
        pytest.skip("connection loss is a PostgreSQL matter: SQLite is a file in the same process")
    cluster, name = request.getfixturevalue("pg_cluster"), db.url.database
    files = procs.invoices(30, "RE-OUTAGE")
    env, log = procs.db_env(db), tmp_path / "processes.log"
    port, server = procs.start_server(env, log)
    worker = procs.start(["worker"], env, log)
    try:
        ids = _post_all(port, files[:10])

        # 1. every connection is cut once: the pools notice (pre-ping) and reconnect, nobody sees an error
        _admin(cluster, TERMINATE.format(name=name))
        ids |= _post_all(port, files[10:15])

        # 2. an outage: the database refuses connections for a while
        _admin(cluster, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false', TERMINATE.format(name=name))
        try:
            status, health = procs.healthz(port)
            assert (status, health["database"]) == (503, "error")
            refused, data = files[15]
            status, body = procs.post(port, refused, data)
            assert status == 503, (status, body)
            assert "nichts gespeichert" in body["message_de"] and "Traceback" not in str(body)
            status, page = _upload_form(port, refused, data)  # the supplier's upload form: the same in German
            assert status == 503 and "Es wurde nichts gespeichert" in page and "Traceback" not in page, page
            time.sleep(2.0)  # the worker runs into the outage too
            assert worker.poll() is None and server.poll() is None
        finally:
            _admin(cluster, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

        # 3. back: the refused upload is sent again, and more
        procs.wait_http(port, timeout=30)
        ids |= _post_all(port, files[15:])
        counts = procs.wait_settled(db, len(files), timeout=120)
        assert worker.poll() is None, "the worker died during the outage"
    finally:
        codes = procs.stop([worker, server])
    output = log.read_text(errors="replace")
    assert codes[0] == 0, output[-3000:]  # the worker stops cleanly on SIGTERM: it never died
    # it noticed the outage and waited: in its loop, or holding a job whose outcome it had to record later
    assert re.search(r"database error, retrying|recording its outcome failed \(database unavailable\)", output)

    with db.read() as session:
        names = dict(session.execute(sa.select(IntakeItem.id, IntakeItem.file_name)).all())
    assert sorted(names.values()) == sorted(name for name, _ in files)  # the refused one once, from its re-send
    assert {names[item_id] for item_id in ids.values()} == set(ids) and len(ids) == len(files)
    assert counts == {"parsed": 30}  # no master data: all in the manual queue
    assert procs.exactly_once(db, max_attempts=3) == []  # a job in hand at a cut takes another attempt


@job_kind("fault-test-noop")
def _noop(ctx, job) -> None:
    pass


def test_a_job_outcome_that_cannot_be_recorded_is_recorded_when_the_database_returns(db, monkeypatch):
    """Without this, a job in hand when the connection was lost stays leased to its worker until the lease
    runs out (default 5 minutes) although the worker lives on."""
    with db.transaction() as session:
        job_id = enqueue(session, "fault-test-noop").id
    job = queue.claim(db, "w-outage")
    original, calls = queue.complete, []

    def database_away_twice(*args):
        calls.append(args)
        if len(calls) <= 2:
            raise OperationalError("UPDATE jobs ...", {}, Exception("server closed the connection unexpectedly"))
        return original(*args)

    monkeypatch.setattr(queue, "complete", database_away_twice)
    assert run_job(JobContext(db=db, worker_id="w-outage"), job) == "done"
    assert len(calls) == 3
    with db.read() as session:
        assert session.get(Job, job_id).state == "done"
