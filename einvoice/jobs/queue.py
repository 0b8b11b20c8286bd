"""The database-backed job queue.

- `enqueue` adds a job in the caller's transaction (so a job exists exactly when its item does).
- `claim` takes the oldest due job in a short transaction and leases it to one worker:
  ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (any number of workers, none waits for another);
  on SQLite the transaction starts with ``BEGIN IMMEDIATE``, which serializes claims (run one
  worker there). The claim sets ``locked_by`` and ``locked_until = now + lease``; the worker renews
  the lease while the job runs (`extend_lease`). A job whose lease ran out (its worker was killed)
  is claimable again.
- ``attempts`` counts claims. A failed attempt is retried after ``retry_seconds × 2^(attempts−1)``
  (at most an hour); after ``max_attempts`` attempts — failures or lost workers — the job is
  ``dead``: its traceback stays in ``last_error`` and the kind's ``on_dead`` hook runs (a ``process``
  job's item goes to ``failed`` with the traceback). `dead_jobs` lists them for admins, `retry`
  puts one back in the queue.
- `complete` / `fail` only act while the worker still holds the lease, so a worker that lost its
  lease cannot overwrite the outcome of the worker that took over.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from ..store.db import Database
from ..store.models import Job, JobState
from ..store.types import as_utc, utcnow
from .registry import KINDS

log = logging.getLogger("einvoice.jobs")

MAX_BACKOFF_SECONDS = 3600.0
PENDING = (JobState.QUEUED.value, JobState.RUNNING.value)  # matches the partial index ix_jobs_pending


def enqueue(session: Session, kind: str, *, item_id: int | None = None, payload: dict[str, Any] | None = None,
            run_after: datetime | None = None, max_attempts: int = 5) -> Job:
    """Add a job in the caller's transaction; it becomes visible to workers when that commits."""
    now = utcnow()
    job = Job(kind=kind, item_id=item_id, payload=payload, state=JobState.QUEUED.value, attempts=0,
              max_attempts=max_attempts, run_after=as_utc(run_after) if run_after else now, created_at=now)
    session.add(job)
    session.flush()
    return job


def _claimable(now: datetime):
    return or_(
        and_(Job.state == JobState.QUEUED.value, Job.run_after <= now),
        and_(Job.state == JobState.RUNNING.value, Job.locked_until < now),  # its worker is gone
    )


def mark_dead(session: Session, job: Job, error: str, actor: str) -> None:
    """In the caller's transaction: the job is dead; the kind's on_dead hook runs in the same transaction."""
    job.state = JobState.DEAD.value
    job.finished_at = utcnow()
    job.last_error = error
    job.locked_by = None
    job.locked_until = None
    kind = KINDS.get(job.kind)
    if kind and kind.on_dead:
        try:
            with session.begin_nested():  # a broken hook must not keep the job from being dead
                kind.on_dead(session, job, error, actor)
        except Exception:
            log.exception("job %s: the on_dead hook of %s failed", job.id, job.kind)
    log.error("job %s (%s, item %s) is dead after %d attempts", job.id, job.kind, job.item_id, job.attempts)


def claim(db: Database, worker_id: str, *, kinds: list[str] | None = None, now: datetime | None = None,
          lease_seconds: float | None = None) -> Job | None:
    """Lease the oldest due job to ``worker_id``; None if there is none. Returns a detached copy."""
    lease = timedelta(seconds=lease_seconds if lease_seconds is not None else db.settings.job_lease_seconds)
    with db.transaction() as session:
        while True:
            now_ = now or utcnow()
            query = select(Job).where(Job.state.in_(PENDING), _claimable(now_))
            if kinds is not None:
                query = query.where(Job.kind.in_(kinds))
            query = query.order_by(Job.id).limit(1).with_for_update(skip_locked=True)
            job = session.scalars(query).first()
            if job is None:
                return None
            if job.state == JobState.RUNNING.value and job.attempts >= job.max_attempts:
                error = (f"worker {job.locked_by} stopped during attempt {job.attempts} of {job.max_attempts} "
                         f"(lease expired at {job.locked_until:%Y-%m-%d %H:%M:%S} UTC)")
                if job.last_error:
                    error += "\n\nlast error before that:\n" + job.last_error
                mark_dead(session, job, error, f"worker:{worker_id}")
                continue
            if job.state == JobState.RUNNING.value:
                log.warning("job %s: lease of worker %s expired, taking it over", job.id, job.locked_by)
            job.state = JobState.RUNNING.value
            job.attempts += 1
            job.locked_by = worker_id
            job.locked_until = now_ + lease
            job.started_at = now_
            session.flush()
            return job


def extend_lease(db: Database, job_id: int, worker_id: str, lease_seconds: float | None = None) -> bool:
    """Renew the lease; False if this worker no longer holds the job."""
    lease = timedelta(seconds=lease_seconds if lease_seconds is not None else db.settings.job_lease_seconds)
    with db.transaction() as session:
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.locked_by == worker_id, Job.state == JobState.RUNNING.value)
            .values(locked_until=utcnow() + lease)
        )
        return result.rowcount == 1


def complete(db: Database, job_id: int, worker_id: str) -> bool:
    with db.transaction() as session:
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.locked_by == worker_id, Job.state == JobState.RUNNING.value)
            .values(state=JobState.DONE.value, finished_at=utcnow(), locked_by=None, locked_until=None)
        )
        if result.rowcount != 1:
            log.warning("job %s finished, but worker %s no longer held it", job_id, worker_id)
        return result.rowcount == 1


def backoff_seconds(base: float, attempts: int) -> float:
    return min(base * (2 ** max(attempts - 1, 0)), MAX_BACKOFF_SECONDS)


def fail(db: Database, job_id: int, worker_id: str, error: str) -> str | None:
    """Record a failed attempt: back to the queue with a delay, or dead after max_attempts.

    Returns the job's new state, None if this worker no longer held it.
    """
    with db.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.locked_by != worker_id or job.state != JobState.RUNNING.value:
            log.warning("job %s failed, but worker %s no longer held it", job_id, worker_id)
            return None
        job.last_error = error
        if job.attempts >= job.max_attempts:
            mark_dead(session, job, error, f"worker:{worker_id}")
        else:
            job.state = JobState.QUEUED.value
            job.locked_by = None
            job.locked_until = None
            job.run_after = utcnow() + timedelta(seconds=backoff_seconds(db.settings.job_retry_seconds, job.attempts))
        return job.state


def dead_jobs(session: Session, limit: int = 100) -> list[Job]:
    """Dead jobs, newest first, with their tracebacks (for the admin view)."""
    query = select(Job).where(Job.state == JobState.DEAD.value).order_by(Job.finished_at.desc(), Job.id.desc())
    return list(session.scalars(query.limit(limit)))


def retry(session: Session, job_id: int, *, max_attempts: int | None = None) -> Job:
    """Put a dead job back in the queue (its attempts start again at 0; last_error is kept)."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None:
        raise LookupError(f"no job #{job_id}")
    if job.state != JobState.DEAD.value:
        raise ValueError(f"job #{job_id} is {job.state}, only dead jobs can be retried")
    job.state = JobState.QUEUED.value
    job.attempts = 0
    if max_attempts is not None:
        job.max_attempts = max_attempts
    job.run_after = utcnow()
    job.finished_at = None
    return job


def purge_done(session: Session, older_than: datetime) -> int:
    """Delete finished (done) jobs older than the given time; dead jobs stay for the admins."""
    from sqlalchemy import delete

    result = session.execute(delete(Job).where(Job.state == JobState.DONE.value, Job.finished_at < as_utc(older_than)))
    return result.rowcount


def counts(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(select(Job.state, func.count()).group_by(Job.state))
    return {state: count for state, count in rows}
