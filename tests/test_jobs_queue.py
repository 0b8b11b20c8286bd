"""The job queue: leases, retries with attempts counted, dead jobs, SKIP LOCKED on PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from einvoice.intake.receive import receive
from einvoice.jobs import queue
from einvoice.jobs.registry import KINDS, job_kind
from einvoice.store import AuditEvent, IntakeItem, Job
from einvoice.store.types import utcnow

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL


def _enqueue(db, kind="test-noop", n=1, **kwargs):
    with db.transaction() as session:
        return [queue.enqueue(session, kind, **kwargs).id for _ in range(n)]


def _job(db, job_id) -> Job:
    with db.transaction() as session:
        return session.get(Job, job_id)


def test_claim_leases_the_oldest_due_job_once(db):
    first, second = _enqueue(db, n=2)
    _enqueue(db, run_after=utcnow() + timedelta(hours=1))  # not due
    a = queue.claim(db, "worker-a")
    b = queue.claim(db, "worker-b")
    assert (a.id, b.id) == (first, second)
    assert (a.state, a.attempts, a.locked_by) == ("running", 1, "worker-a")
    assert a.locked_until > utcnow()
    assert queue.claim(db, "worker-c") is None
    assert queue.complete(db, a.id, "worker-a")
    assert _job(db, a.id).state == "done"


def test_claim_by_kind(db):
    _enqueue(db, kind="other")
    [wanted] = _enqueue(db, kind="wanted")
    assert queue.claim(db, "w", kinds=["wanted"]).id == wanted
    assert queue.claim(db, "w", kinds=["wanted"]) is None


def test_an_expired_lease_makes_the_job_claimable_again(db):
    [job_id] = _enqueue(db)
    t0 = utcnow()
    assert queue.claim(db, "killed-worker", now=t0, lease_seconds=10).id == job_id
    assert queue.claim(db, "other", now=t0 + timedelta(seconds=5)) is None  # still leased
    taken = queue.claim(db, "other", now=t0 + timedelta(seconds=11), lease_seconds=10)
    assert (taken.id, taken.attempts, taken.locked_by) == (job_id, 2, "other")
    # the old worker cannot finish or fail a job it lost, nor renew its lease
    assert not queue.complete(db, job_id, "killed-worker")
    assert queue.fail(db, job_id, "killed-worker", "late") is None
    assert not queue.extend_lease(db, job_id, "killed-worker")
    assert queue.extend_lease(db, job_id, "other")
    assert queue.complete(db, job_id, "other")
    assert _job(db, job_id).state == "done"


def test_failures_are_retried_with_backoff_then_dead(db):
    [job_id] = _enqueue(db, max_attempts=3)
    db.settings = replace(db.settings, job_retry_seconds=10.0)
    job = queue.claim(db, "w")
    assert queue.fail(db, job.id, "w", "Traceback: first") == "queued"
    stored = _job(db, job_id)
    assert stored.last_error == "Traceback: first" and stored.locked_by is None
    assert timedelta(seconds=9) < stored.run_after - utcnow() <= timedelta(seconds=10)
    assert queue.claim(db, "w") is None  # not yet due
    later = utcnow() + timedelta(seconds=11)
    job = queue.claim(db, "w", now=later)
    assert job.attempts == 2
    assert queue.fail(db, job.id, "w", "Traceback: second") == "queued"
    assert timedelta(seconds=19) < _job(db, job_id).run_after - utcnow() <= timedelta(seconds=20)  # doubled
    job = queue.claim(db, "w", now=later + timedelta(seconds=60))
    assert queue.fail(db, job.id, "w", "Traceback: third") == "dead"
    dead = _job(db, job_id)
    assert (dead.state, dead.attempts, dead.last_error) == ("dead", 3, "Traceback: third")
    with db.transaction() as session:
        assert [j.id for j in queue.dead_jobs(session)] == [job_id]
        queue.retry(session, job_id)
    assert queue.claim(db, "w").attempts == 1


def test_backoff_is_capped():
    assert queue.backoff_seconds(30, 1) == 30 and queue.backoff_seconds(30, 3) == 120
    assert queue.backoff_seconds(30, 50) == queue.MAX_BACKOFF_SECONDS


def test_a_dead_process_job_sends_its_item_to_failed_with_the_traceback(db):
    import einvoice.intake.process  # noqa: F401  registers the process kind and its on_dead hook

    item = receive(db, b"<x/>", channel="upload", sender="a", file_name="a.xml")
    for attempt in range(db.settings.job_max_attempts):
        job = queue.claim(db, "w")
        assert job.item_id == item.id and job.attempts == attempt + 1
        queue.fail(db, job.id, "w", f"Traceback (most recent call last):\nRuntimeError: boom {attempt}")
    with db.transaction() as session:
        stored = session.get(IntakeItem, item.id)
        assert stored.state == "failed"
        assert stored.error.endswith("RuntimeError: boom 2")
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == item.id)
                                .order_by(AuditEvent.id.desc())).first()
        assert (event.from_state, event.to_state, event.actor) == ("received", "failed", "worker:w")
        assert "3 times" in event.reason and "boom 2" in event.reason


def test_a_job_whose_workers_keep_dying_is_dead_too(db):
    import einvoice.intake.process  # noqa: F401

    item = receive(db, b"<x/>", channel="upload", sender="a", file_name="a.xml")
    now = utcnow()
    for attempt in range(db.settings.job_max_attempts):
        now += timedelta(seconds=100)
        assert queue.claim(db, f"w{attempt}", now=now, lease_seconds=10) is not None
    assert queue.claim(db, "survivor", now=now + timedelta(seconds=100)) is None
    with db.transaction() as session:
        job = session.scalars(sa.select(Job).where(Job.item_id == item.id)).one()
        assert job.state == "dead" and "lease expired" in job.last_error
        stored = session.get(IntakeItem, item.id)
        assert stored.state == "failed" and "w2 stopped" in stored.error


def test_parallel_claims_never_hand_out_a_job_twice(db):
    job_ids = _enqueue(db, n=40)
    claimed: list[int] = []
    lock = threading.Lock()
    errors = []

    def worker(name):
        try:
            while (job := queue.claim(db, name)) is not None:
                with lock:
                    claimed.append(job.id)
                queue.complete(db, job.id, name)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(claimed) == job_ids


def test_postgresql_skips_locked_rows_instead_of_waiting(db):
    if db.dialect != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serializes claims with BEGIN IMMEDIATE")
    first, second = _enqueue(db, n=2)
    with db.transaction() as holder:
        holder.execute(sa.select(Job).where(Job.id == first).with_for_update())  # another worker mid-claim
        result = {}
        claimer = threading.Thread(target=lambda: result.update(job=queue.claim(db, "w")), daemon=True)
        claimer.start()
        claimer.join(10)
        assert not claimer.is_alive(), "claim waited for the locked row"
        assert result["job"].id == second


@pytest.fixture
def flaky_kind():
    calls = []

    @job_kind("test-flaky")
    def handler(ctx, job):
        calls.append(job.attempts)
        if job.attempts < 2:
            raise RuntimeError("transient")

    yield calls
    KINDS.pop("test-flaky", None)


def test_worker_retries_a_transient_failure(db, flaky_kind):
    from einvoice.jobs.worker import run_worker

    [job_id] = _enqueue(db, kind="test-flaky")
    assert run_worker(once=True, db=db, modules=(), worker_id="w") == 2
    assert flaky_kind == [1, 2]
    job = _job(db, job_id)
    assert (job.state, job.attempts) == ("done", 2) and "RuntimeError: transient" in job.last_error


def test_a_broken_on_dead_hook_does_not_keep_a_job_alive(db):
    def broken_hook(session, job, error, actor):
        session.execute(sa.text("UPDATE jobs SET kind = 'changed-by-hook'"))  # rolled back with the savepoint
        raise RuntimeError("hook bug")

    job_kind("test-broken-hook", on_dead=broken_hook)(lambda ctx, job: None)
    try:
        [job_id] = _enqueue(db, kind="test-broken-hook", max_attempts=1)
        job = queue.claim(db, "w")
        assert queue.fail(db, job.id, "w", "boom") == "dead"
        stored = _job(db, job_id)
        assert (stored.state, stored.kind) == ("dead", "test-broken-hook")
    finally:
        KINDS.pop("test-broken-hook", None)
