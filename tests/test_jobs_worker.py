"""Worker processes: kill -9 mid-job, retried exactly once; two workers share 50 items; the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from einvoice.intake import process as process_module
from einvoice.intake.receive import receive
from einvoice.jobs.worker import run_worker
from einvoice.samples.generate import ubl_invoice
from einvoice.store import AuditEvent, IntakeItem, Job, ParsedInvoice, ValidationReport

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL

# Runs a worker in a subprocess; TEST_MODE makes it hang at one point of a job (to be killed there)
# or slows every validation down (so that two workers overlap).
WORKER_SCRIPT = r'''
import os, pathlib, sys, time
import einvoice.intake.process as process
import einvoice.jobs.queue as queue

mode = os.environ.get("TEST_MODE", "")
marker = pathlib.Path(os.environ.get("TEST_MARKER", "/nonexistent"))

def hang():
    marker.write_text(str(os.getpid()))
    time.sleep(600)

def wrap(module, name, before=None, after=None):
    original = getattr(module, name)
    def wrapper(*args, **kwargs):
        if before:
            before()
        result = original(*args, **kwargs)
        if after:
            after()
        return result
    setattr(module, name, wrapper)

if mode == "hang-in-validate":
    wrap(process, "validate_bytes", after=hang)
elif mode == "hang-in-parse":
    wrap(process, "parse_bytes", after=hang)
elif mode == "hang-before-complete":
    wrap(queue, "complete", before=hang)
elif mode == "slow":
    wrap(process, "validate_bytes", before=lambda: time.sleep(0.05))

go = os.environ.get("TEST_GO")
while go and not pathlib.Path(go).exists():
    time.sleep(0.01)
from einvoice.jobs.worker import run_worker
print("RAN", run_worker(once=bool(os.environ.get("TEST_ONCE"))), flush=True)
'''


def _env(db, **extra) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "EINVOICE_DATABASE_URL": db.url.render_as_string(hide_password=False),
        "EINVOICE_DATA_DIR": str(db.settings.data_dir),
        "EINVOICE_JOB_LEASE_SECONDS": "1",
        "EINVOICE_JOB_RETRY_SECONDS": "0",
        "EINVOICE_WORKER_POLL_SECONDS": "0.1",
        "EINVOICE_JOB_MAX_ATTEMPTS": "3",
    })
    env.update(extra)
    return env


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "worker_script.py"
    path.write_text(WORKER_SCRIPT)
    return path


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _path(db, item_id):
    with db.transaction() as session:
        return session.execute(sa.select(AuditEvent.from_state, AuditEvent.to_state, AuditEvent.actor)
                               .where(AuditEvent.item_id == item_id, AuditEvent.event == "transition")
                               .order_by(AuditEvent.id)).all()


def _job_of(db, item_id) -> Job:
    with db.transaction() as session:
        return session.scalars(sa.select(Job).where(Job.item_id == item_id, Job.kind == "process")).one()


def _count(db, model, item_id) -> int:
    with db.transaction() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(model.item_id == item_id))


PARSED_PATH = [(None, "received"), ("received", "validated"), ("validated", "parsed")]


@pytest.mark.parametrize("mode", ["hang-in-validate", "hang-in-parse", "hang-before-complete"])
def test_kill_9_mid_job_then_another_worker_finishes_it_exactly_once(db, tmp_path, mode):
    item = receive(db, ubl_invoice(number="RE-KILL-1"), channel="upload", sender="a", file_name="a.xml")
    marker = tmp_path / "hanging"
    victim = subprocess.Popen([sys.executable, str(_script(tmp_path))], env=_env(db, TEST_MODE=mode,
                              TEST_MARKER=str(marker)), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(marker.exists, 60, f"the first worker to reach {mode}")
        job = _job_of(db, item.id)
        assert (job.state, job.attempts) == ("running", 1)
        victim_id = job.locked_by
        assert victim_id.split(":")[1] == str(victim.pid)
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(10) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
    expected_before = {"hang-in-validate": "received", "hang-in-parse": "validated",
                       "hang-before-complete": "parsed"}[mode]
    with db.transaction() as session:
        assert session.get(IntakeItem, item.id).state == expected_before

    rescuer = subprocess.Popen([sys.executable, "-m", "einvoice.jobs.cli", "worker"], env=_env(db),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _job_of(db, item.id).state == "done", 60, "the second worker to finish the job")
        rescuer.send_signal(signal.SIGTERM)  # a graceful stop
        out, err = rescuer.communicate(timeout=30)
        assert rescuer.returncode == 0, err
    finally:
        if rescuer.poll() is None:
            rescuer.kill()

    job = _job_of(db, item.id)
    assert (job.state, job.attempts) == ("done", 2)
    assert job.locked_by is None
    path = _path(db, item.id)
    assert [(frm, to) for frm, to, _ in path] == PARSED_PATH  # final state reached once, one set of events
    with db.transaction() as session:
        assert session.get(IntakeItem, item.id).state == "parsed"
    assert _count(db, ValidationReport, item.id) == 1
    assert _count(db, ParsedInvoice, item.id) == 1
    if mode == "hang-in-validate":  # all the work was the rescuer's
        assert all(victim_id not in actor for _, _, actor in path[1:])
    if mode == "hang-before-complete":  # all the work was the victim's; the rescuer changed nothing
        assert all(victim_id in actor for _, _, actor in path[1:])


def test_two_worker_processes_share_50_items_each_processed_once(db, tmp_path):
    items = [receive(db, ubl_invoice(number=f"RE-PAR-{n:03d}", lines=1 + n % 3), channel="api", sender="bulk",
                     file_name=f"{n}.xml") for n in range(50)]
    go = tmp_path / "go"
    script = _script(tmp_path)
    # a lease long enough that no job changes hands on a busy machine: nobody is killed here
    env = _env(db, TEST_MODE="slow", TEST_GO=str(go), TEST_ONCE="1", EINVOICE_JOB_LEASE_SECONDS="120")
    workers = [subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        time.sleep(0.5)
        go.write_text("go")
        outputs = [w.communicate(timeout=300) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err
    ran = [int(out.split("RAN")[1]) for out, _ in outputs]
    assert sum(ran) == 100  # a process job and then a route job per item
    if db.dialect == "postgresql":
        assert all(n > 0 for n in ran), f"both workers should have had work (SKIP LOCKED): {ran}"

    actors = set()
    for item in items:
        path = _path(db, item.id)
        assert [(frm, to) for frm, to, _ in path] == PARSED_PATH, item
        actors.update(actor for _, _, actor in path[1:])
        job = _job_of(db, item.id)
        assert (job.state, job.attempts) == ("done", 1)
        assert _count(db, ValidationReport, item.id) == 1 and _count(db, ParsedInvoice, item.id) == 1
    assert len(actors) == sum(1 for n in ran if n)


def test_run_worker_in_process_and_a_job_that_keeps_failing(db, engine, monkeypatch):
    ok = receive(db, ubl_invoice(number="RE-W-1"), channel="upload", sender="a", file_name="ok.xml")
    bad = receive(db, ubl_invoice(number="RE-W-2"), channel="upload", sender="a", file_name="bad.xml")
    original = process_module.validate_bytes

    def explode_on_bad(engine_, data, file_name, received):
        if file_name == "bad.xml":
            raise RuntimeError("validator exploded")
        return original(engine_, data, file_name, received)

    monkeypatch.setattr(process_module, "validate_bytes", explode_on_bad)
    assert run_worker(once=True, db=db, worker_id="w1") == 2 + db.settings.job_max_attempts  # ok: process + route

    with db.transaction() as session:
        assert session.get(IntakeItem, ok.id).state == "parsed"
        failed = session.get(IntakeItem, bad.id)
        assert failed.state == "failed"
        assert "Traceback (most recent call last)" in failed.error and "RuntimeError: validator exploded" in failed.error
    job = _job_of(db, bad.id)
    assert (job.state, job.attempts) == ("dead", db.settings.job_max_attempts)
    assert "validator exploded" in job.last_error
    assert [(f, t) for f, t, _ in _path(db, bad.id)] == [(None, "received"), ("received", "failed")]

    # an admin fixes the cause and reprocesses: a person only
    monkeypatch.setattr(process_module, "validate_bytes", original)
    from einvoice.intake.process import reprocess
    from einvoice.intake.states import IllegalTransition

    with pytest.raises(IllegalTransition):
        reprocess(db, bad.id, actor="system:cron", reason="retry")
    reprocess(db, bad.id, actor="user:admin", reason="validator fixed")
    assert run_worker(once=True, db=db, worker_id="w2") == 2  # process + route
    assert [(f, t) for f, t, _ in _path(db, bad.id)] == [
        (None, "received"), ("received", "failed"), ("failed", "received"), ("received", "validated"),
        ("validated", "parsed")]
    with db.transaction() as session:
        assert session.get(IntakeItem, bad.id).error is None


def test_cli_worker_once(db):
    item = receive(db, ubl_invoice(number="RE-CLI-1"), channel="upload", sender="a", file_name="a.xml")
    done = subprocess.run([sys.executable, "-m", "einvoice.jobs.cli", "worker", "--once"], env=_env(db),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "worker ran 2 jobs" in done.stderr  # process, then route
    with db.transaction() as session:
        assert session.get(IntakeItem, item.id).state == "parsed"


def test_cli_worker_refuses_an_unmigrated_database(tmp_path):
    env = dict(os.environ, EINVOICE_DATABASE_URL=f"sqlite:///{tmp_path}/empty.db", EINVOICE_DATA_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "einvoice.jobs.cli", "worker", "--once"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "einvoice db upgrade" in done.stderr


def test_cli_db_upgrade(tmp_path):
    env = dict(os.environ, EINVOICE_DATABASE_URL=f"sqlite:///{tmp_path}/new.db", EINVOICE_DATA_DIR=str(tmp_path))
    current = [sys.executable, "-m", "einvoice.store.cli", "db", "current"]
    assert subprocess.run(current, env=env, capture_output=True, timeout=60).returncode == 1
    done = subprocess.run([sys.executable, "-m", "einvoice.store.cli", "db", "upgrade"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert subprocess.run(current, env=env, capture_output=True, timeout=60).returncode == 0
