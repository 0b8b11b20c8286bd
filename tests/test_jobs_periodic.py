"""Periodic tasks of long-running workers (`einvoice.jobs.registry.periodic`): run when due, not in
``--once`` mode, a failing one does not stop the worker; the deadline scheduler is registered."""

from __future__ import annotations

import threading
import time

from einvoice.jobs import registry, run_worker
from einvoice.jobs.worker import run_periodic

pytest_plugins = ["pg"]


def test_periodic_tasks_run_when_due_and_failures_are_contained(db, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(registry, "PERIODIC", {})
    monkeypatch.setattr("einvoice.jobs.worker.PERIODIC", registry.PERIODIC)

    @registry.periodic("tick", every_seconds=0.05)
    def tick(ctx):
        calls.append(ctx.worker_id)

    @registry.periodic("broken", every_seconds=0.05)
    def broken(ctx):
        raise RuntimeError("boom")

    assert run_worker(once=True, db=db, worker_id="w-once", modules=()) == 0
    assert calls == []  # --once runs jobs only

    stop = threading.Event()
    worker = threading.Thread(target=run_worker, kwargs={"stop_event": stop, "db": db, "worker_id": "w-long",
                                                         "modules": ()})
    worker.start()
    time.sleep(0.4)
    stop.set()
    worker.join(10)
    assert not worker.is_alive()
    assert calls and set(calls) == {"w-long"}  # ran, and kept running after "broken" raised

    last: dict[str, float] = {}
    calls.clear()
    ctx = registry.JobContext(db=db, worker_id="w-direct")
    run_periodic(ctx, last)
    run_periodic(ctx, last)  # not due again yet
    assert calls == ["w-direct"]


def test_the_deadline_scheduler_is_a_periodic_task_of_every_worker():
    import einvoice.routing.route  # noqa: F401  (registers the route job and the scheduler tick)

    task = registry.PERIODIC["deadlines-scheduler"]
    assert task.every_seconds <= 60
