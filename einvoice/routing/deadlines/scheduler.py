"""The periodic deadline tasks, scheduled in the database so that a restart neither skips nor repeats one.

Tasks (one `SchedulerRun` row each, created on first use):

- ``mark-lost``: daily at 00:15 Europe/Berlin: `service.refresh` (deadline rows for newly parsed
  items, settle approved ones, mark lost Skonto, move staggered terms on).
- ``deadlines-daily``: at 07:00 Europe/Berlin on working days (of ``EINVOICE_BUNDESLAND``): the same
  refresh, then `reminders.send_due` (Skonto reminders, escalations, digests).

`run_due` claims the rows whose ``next_run_at`` has come with a lease (``locked_by`` /
``locked_until``; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), runs them and
stores ``next_run_at`` = the next occurrence after *now*: after downtime a missed task runs once,
not once per missed day. A task that fails (or whose mails the relay refused) is retried after
`RETRY`; its steps are idempotent (reminder keys, settled outcomes). A fresh installation runs a
task at once if its time passed within the last day. `run_forever` polls `run_due`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from ...store.db import Database
from ...store.routing_models import SchedulerRun
from ..clock import BERLIN, SYSTEM_CLOCK, Clock
from .calendar import is_working_day, normalise_land
from .reminders import send_due
from .service import refresh

log = logging.getLogger("einvoice.routing.deadlines.scheduler")

RETRY = timedelta(minutes=15)
LEASE = timedelta(minutes=30)


@dataclass(frozen=True)
class Task:
    name: str
    at: time  # Europe/Berlin wall-clock time
    working_days_only: bool
    run: Callable[[Database, Clock], dict[str, Any]]

    def next_after(self, moment: datetime, land: str) -> datetime:
        """The first run time strictly after ``moment`` (UTC)."""
        day = moment.astimezone(BERLIN).date()
        while True:
            candidate = datetime.combine(day, self.at, tzinfo=BERLIN)
            if candidate > moment and (not self.working_days_only or is_working_day(day, land)):
                return candidate.astimezone(timezone.utc)
            day += timedelta(days=1)


def _refresh(db: Database, clock: Clock) -> dict[str, Any]:
    with db.transaction() as session:
        return refresh(session, clock=clock, settings=db.settings)


def _daily(db: Database, clock: Clock) -> dict[str, Any]:
    result = _refresh(db, clock)
    result["mails"] = send_due(db, clock=clock, settings=db.settings)
    return result


TASKS = (Task("mark-lost", time(0, 15), False, _refresh),
         Task("deadlines-daily", time(7, 0), True, _daily))


def _land(db: Database) -> str:
    return normalise_land(getattr(db.settings, "bundesland", None))


def _ensure_rows(db: Database, now: datetime, tasks: tuple[Task, ...]) -> None:
    with db.read() as session:
        present = set(session.scalars(select(SchedulerRun.name)))
    for task in tasks:
        if task.name in present:
            continue
        try:
            with db.transaction() as session:
                first = task.next_after(now - timedelta(days=1), _land(db))
                session.add(SchedulerRun(name=task.name, next_run_at=first))
        except IntegrityError:
            pass  # another scheduler created it


def _claim(db: Database, now: datetime, worker_id: str, names: list[str], lease: timedelta) -> list[str]:
    with db.transaction() as session:
        rows = session.scalars(select(SchedulerRun).where(
            SchedulerRun.name.in_(names), SchedulerRun.next_run_at <= now,
            or_(SchedulerRun.locked_until.is_(None), SchedulerRun.locked_until < now))
            .order_by(SchedulerRun.next_run_at, SchedulerRun.name).with_for_update(skip_locked=True)).all()
        for row in rows:
            row.locked_by, row.locked_until = worker_id, now + lease
        return [row.name for row in rows]


def _finish(db: Database, task: Task, worker_id: str, clock: Clock, result: dict[str, Any], failed: bool) -> None:
    now = clock.now()
    with db.transaction() as session:
        row = session.get(SchedulerRun, task.name, with_for_update=True)
        if row.locked_by != worker_id:
            log.warning("task %s: lease lost to %s while running; its result is not recorded", task.name, row.locked_by)
            return
        upcoming = task.next_after(now, _land(db))
        row.next_run_at = min(upcoming, now + RETRY) if failed else upcoming
        row.last_run_at, row.last_result = now, result
        row.locked_by, row.locked_until = None, None


def run_due(db: Database, *, clock: Clock = SYSTEM_CLOCK, worker_id: str = "scheduler",
            tasks: tuple[Task, ...] = TASKS, lease: timedelta = LEASE) -> list[str]:
    """Run every task that is due now (once each); returns their names in the order run."""
    now = clock.now()
    _ensure_rows(db, now, tasks)
    by_name = {task.name: task for task in tasks}
    claimed = _claim(db, now, worker_id, list(by_name), lease)
    for name in claimed:
        task = by_name[name]
        try:
            result = task.run(db, clock) or {}
            failed = bool((result.get("mails") or {}).get("failed"))
        except Exception as exc:
            log.exception("task %s failed; retrying in %s", name, RETRY)
            result, failed = {"error": f"{type(exc).__name__}: {exc}"[:2000]}, True
        _finish(db, task, worker_id, clock, result, failed)
        log.info("task %s ran: %s", name, result)
    return claimed


def run_forever(db: Database, *, poll_seconds: float = 60.0, clock: Clock = SYSTEM_CLOCK,
                worker_id: str = "scheduler", stop_event: threading.Event | None = None) -> None:
    """Poll `run_due` until ``stop_event`` is set (errors, e.g. a database restart, are logged)."""
    stop_event = stop_event or threading.Event()
    log.info("deadline scheduler %s started (%s)", worker_id, db)
    while not stop_event.is_set():
        try:
            run_due(db, clock=clock, worker_id=worker_id)
        except Exception:
            log.exception("scheduler run failed; trying again in %s s", poll_seconds)
        stop_event.wait(poll_seconds)
