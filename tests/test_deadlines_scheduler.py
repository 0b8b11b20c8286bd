"""The deadline scheduler: next run stored in the database, working days only for the daily task, a
missed day runs once, leases, failures retried; a restart (new scheduler, same database) sends nothing twice."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa

from deadlines_data import default_deadline_settings  # noqa: F401 (autouse)
from deadlines_data import add_case, add_item, add_unit, add_user, assign, berlin, invoice_model
from einvoice.routing.clock import FixedClock
from einvoice.routing.deadlines.scheduler import TASKS, Task, run_due
from einvoice.store.routing_models import InvoiceDeadline, Reminder, SchedulerRun

pytest.register_assert_rewrite("mailservers")
pytest_plugins = ["pg", "mailservers"]


def _counting():
    runs: list[tuple[str, datetime]] = []

    def make(name):
        def run(db, clock):
            runs.append((name, clock.now()))
            return {"ok": True}
        return run

    tasks = (Task("nightly", time(0, 15), False, make("nightly")), Task("morning", time(7, 0), True, make("morning")))
    return tasks, runs


def _next(db) -> dict[str, datetime]:
    with db.read() as session:
        return {row.name: row.next_run_at for row in session.scalars(sa.select(SchedulerRun))}


def test_next_run_is_stored_and_a_missed_day_runs_once(db):
    tasks, runs = _counting()
    clock = FixedClock(berlin(date(2026, 3, 9), 6, 0))  # Monday 06:00
    assert run_due(db, clock=clock, tasks=tasks) == ["nightly"]  # 00:15 today was within the last day
    assert _next(db) == {"nightly": berlin(date(2026, 3, 10), 0, 15), "morning": berlin(date(2026, 3, 9), 7, 0)}
    assert run_due(db, clock=clock, tasks=tasks) == []
    clock.set(berlin(date(2026, 3, 9), 7, 1))  # a new scheduler instance (restart) on the same database
    assert run_due(db, clock=clock, tasks=tasks, worker_id="other-host") == ["morning"]
    assert _next(db)["morning"] == berlin(date(2026, 3, 10), 7, 0)
    clock.set(berlin(date(2026, 3, 12), 9, 30))  # down from Monday to Thursday: each task runs once
    assert sorted(run_due(db, clock=clock, tasks=tasks)) == ["morning", "nightly"]
    assert run_due(db, clock=clock, tasks=tasks) == []
    assert [name for name, _ in runs] == ["nightly", "morning", "nightly", "morning"]
    assert _next(db) == {"nightly": berlin(date(2026, 3, 13), 0, 15), "morning": berlin(date(2026, 3, 13), 7, 0)}
    with db.read() as session:
        row = session.get(SchedulerRun, "morning")
        assert row.last_result == {"ok": True} and row.locked_by is None and row.locked_until is None
        assert row.last_run_at == clock.now()


def test_daily_task_skips_weekends_and_the_lands_holidays(db):
    tasks, _ = _counting()
    clock = FixedClock(berlin(date(2026, 3, 13), 7, 30))  # Friday
    run_due(db, clock=clock, tasks=tasks)
    assert _next(db)["morning"] == berlin(date(2026, 3, 16), 7, 0)  # Monday
    assert _next(db)["nightly"] == berlin(date(2026, 3, 14), 0, 15)  # Saturday: every day
    clock.set(berlin(date(2026, 6, 3), 7, 30))  # Wednesday before Fronleichnam (NW)
    run_due(db, clock=clock, tasks=tasks)
    assert _next(db)["morning"] == berlin(date(2026, 6, 5), 7, 0)


def test_a_leased_task_is_not_run_twice_and_an_expired_lease_is_taken_over(db):
    tasks, runs = _counting()
    clock = FixedClock(berlin(date(2026, 3, 9), 8, 0))
    run_due(db, clock=clock, tasks=tasks)
    clock.set(berlin(date(2026, 3, 10), 8, 0))
    with db.transaction() as session:  # another scheduler holds "morning" right now
        row = session.get(SchedulerRun, "morning")
        row.locked_by, row.locked_until = "other", clock.now() + timedelta(minutes=10)
    assert run_due(db, clock=clock, tasks=tasks) == ["nightly"]
    clock.advance(minutes=11)  # that scheduler died: its lease ran out
    assert run_due(db, clock=clock, tasks=tasks) == ["morning"]
    assert [name for name, _ in runs].count("morning") == 2


def test_a_failing_task_is_retried_soon(db):
    def broken(db, clock):
        raise RuntimeError("database away")

    clock = FixedClock(berlin(date(2026, 3, 9), 7, 30))
    tasks = (Task("morning", time(7, 0), True, broken),)
    assert run_due(db, clock=clock, tasks=tasks) == ["morning"]
    with db.read() as session:
        row = session.get(SchedulerRun, "morning")
        assert row.last_result == {"error": "RuntimeError: database away"}
        assert row.next_run_at == clock.now() + timedelta(minutes=15) and row.locked_by is None


def test_real_tasks_after_a_restart_send_each_reminder_once(db, smtp_sink):
    with db.transaction() as session:
        lead = add_user(session, "lena")
        unit = add_unit(session, "FB20", lead=lead)
        add_user(session, "anna", units=[unit])
        item = add_item(session, invoice_model(date(2026, 3, 2), "1190.00", "#SKONTO#TAGE=14#PROZENT=2.00#\n"),
                        berlin(date(2026, 3, 2)))
        assign(session, item, unit)
        add_case(session, item, unit, opened=berlin(date(2026, 3, 10)), payable="1190.00")
        item_id = item.id
    clock = FixedClock(berlin(date(2026, 3, 11), 7, 0, ))
    assert sorted(run_due(db, clock=clock, worker_id="first")) == ["deadlines-daily", "mark-lost"]
    with db.read() as session:  # the refresh computed the deadline row of the parsed item
        assert session.get(InvoiceDeadline, item_id).skonto_deadline == date(2026, 3, 16)
    kinds = sorted(m.notice.split(";")[0] for m in smtp_sink.messages)
    assert kinds == ["digest", "skonto-reminder"]
    with db.transaction() as session:  # pretend the stored next run was lost: a second instance runs again
        session.execute(sa.update(SchedulerRun).values(next_run_at=clock.now() - timedelta(minutes=1)))
    clock.advance(minutes=30)
    assert sorted(run_due(db, clock=clock, worker_id="second")) == ["deadlines-daily", "mark-lost"]
    assert len(smtp_sink.messages) == 2  # nothing twice
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Reminder)) == 2
        row = session.get(SchedulerRun, "deadlines-daily")
        assert row.last_result["mails"]["sent-before"] == 2
        assert row.next_run_at == datetime(2026, 3, 12, 6, 0, tzinfo=timezone.utc)  # 07:00 Berlin (CET)
    assert {task.name for task in TASKS} == {"deadlines-daily", "mark-lost"}
