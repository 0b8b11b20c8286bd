"""The worker loop: claim a job, run its handler with a renewed lease, record the outcome.

``run_worker(stop_event=None, once=False)`` runs until ``stop_event`` is set (``einvoice worker``
sets it on SIGTERM/SIGINT and finishes the job in hand first) or, with ``once``, until no job is
due. Any number of worker processes may run against PostgreSQL; on SQLite run one.

While a handler runs, a heartbeat thread renews the lease every third of its length. A worker that
is killed stops renewing; when the lease runs out another worker takes the job over (a new
attempt), and the handler's idempotency makes the second run finish the work exactly once. When the
database is away, the loop logs and waits instead of dying; a job's outcome that cannot be recorded is
tried again while the lease lasts, so the job does not sit leased to a live worker after the outage.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
import traceback
import uuid

from sqlalchemy.exc import DBAPIError

from ..store.db import Database
from ..store.migrate import check_current
from . import queue
from .registry import KINDS, PERIODIC, JobContext

log = logging.getLogger("einvoice.jobs")

# modules whose import registers the job kinds the worker runs
DEFAULT_JOB_MODULES = ("einvoice.intake.process", "einvoice.routing.route")
RECONNECT_SECONDS = 5.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _Heartbeat(threading.Thread):
    def __init__(self, db: Database, job_id: int, worker_id: str):
        super().__init__(name=f"lease-{job_id}", daemon=True)
        self.db, self.job_id, self.worker_id = db, job_id, worker_id
        self.interval = max(db.settings.job_lease_seconds / 3, 0.05)
        self.done = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.done.wait(self.interval):
            try:
                if not queue.extend_lease(self.db, self.job_id, self.worker_id):
                    self.lost = True
                    log.warning("job %s: lease lost by %s (another worker took it over)", self.job_id, self.worker_id)
                    return
            except Exception:  # a database hiccup: try again at the next beat
                log.exception("job %s: renewing the lease failed", self.job_id)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=10)


def run_job(ctx: JobContext, job) -> str | None:
    """Run one claimed job; returns the job's new state (done, queued, dead) or None if the lease was lost."""
    kind = KINDS.get(job.kind)
    heartbeat = _Heartbeat(ctx.db, job.id, ctx.worker_id)
    heartbeat.start()
    try:
        if kind is None:
            raise LookupError(f"no handler for job kind {job.kind!r} (known: {', '.join(sorted(KINDS))})")
        kind.handler(ctx, job)
    except Exception:
        error = traceback.format_exc()
        heartbeat.stop()
        log.warning("job %s (%s, item %s) attempt %d failed:\n%s", job.id, job.kind, job.item_id, job.attempts, error)
        return _record_outcome(ctx, job, lambda: queue.fail(ctx.db, job.id, ctx.worker_id, error))
    heartbeat.stop()
    return "done" if _record_outcome(ctx, job, lambda: queue.complete(ctx.db, job.id, ctx.worker_id)) else None


def _record_outcome(ctx: JobContext, job, record):
    """``record()`` the job's outcome; while the database is away, try again (0.5, 1, 2 … s) for as long as
    the lease lasts, so that a job in hand when the connection was lost goes back to the queue when the
    database returns instead of staying leased to this worker until the lease runs out."""
    delay, deadline = 0.5, time.monotonic() + ctx.db.settings.job_lease_seconds
    while True:
        try:
            return record()
        except DBAPIError:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("job %s: recording its outcome failed (database unavailable), trying again in %.1f s",
                        job.id, delay)
            time.sleep(delay)
            delay = min(delay * 2, RECONNECT_SECONDS)


def run_periodic(ctx: JobContext, last_run: dict[str, float]) -> None:
    """Run the registered periodic tasks that are due (`registry.periodic`); a failing one is logged."""
    now = time.monotonic()
    for task in list(PERIODIC.values()):
        if now - last_run.get(task.name, float("-inf")) < task.every_seconds:
            continue
        last_run[task.name] = now
        try:
            task.handler(ctx)
        except Exception:
            log.exception("worker %s: periodic task %s failed", ctx.worker_id, task.name)


def run_worker(stop_event: threading.Event | None = None, once: bool = False, *, db: Database | None = None,
               kinds: list[str] | None = None, worker_id: str | None = None,
               modules: tuple[str, ...] = DEFAULT_JOB_MODULES, check_schema: bool = True) -> int:
    """Process jobs until ``stop_event`` is set or, with ``once``, until none is due. Returns the number run.

    A long-running worker (not ``once``) also runs the periodic tasks (`registry.periodic`) when due."""
    for module in modules:
        importlib.import_module(module)
    own_db = db is None
    db = db or Database()
    stop_event = stop_event or threading.Event()
    ctx = JobContext(db=db, worker_id=worker_id or new_worker_id())
    ran = 0
    try:
        if check_schema:
            check_current(db.url)
        if db.dialect == "sqlite":
            log.info("worker %s on SQLite: run a single worker per database", ctx.worker_id)
        log.info("worker %s started (%s)", ctx.worker_id, db)
        last_run: dict[str, float] = {}
        while not stop_event.is_set():
            try:
                if not once:
                    run_periodic(ctx, last_run)
                job = queue.claim(db, ctx.worker_id, kinds=kinds)
                if job is None:
                    if once:
                        break
                    stop_event.wait(db.settings.worker_poll_seconds)
                    continue
                run_job(ctx, job)
                ran += 1
            except Exception as exc:
                if once:
                    raise
                # e.g. the database is away (restart, network): the lease of a job in hand runs out
                # and another attempt follows; wait and try again instead of dying
                what = "database error" if isinstance(exc, DBAPIError) else "error"
                log.exception("worker %s: %s, retrying in %s s", ctx.worker_id, what, RECONNECT_SECONDS)
                stop_event.wait(RECONNECT_SECONDS)
        log.info("worker %s stopped after %d jobs", ctx.worker_id, ran)
        return ran
    finally:
        if own_db:
            db.dispose()
