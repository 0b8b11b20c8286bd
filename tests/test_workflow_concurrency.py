"""Two people deciding the same step at the same moment, each in a thread with its own session: exactly
one decision is recorded, the other gets `Conflict` naming who was first.

On PostgreSQL both threads are held at a barrier after every check passed (both saw the same
version), so the loser fails at flush on the version counter (``StaleDataError`` → `Conflict`). On
SQLite a write transaction starts with ``BEGIN IMMEDIATE``: the second waits for the first to commit
and then finds the version moved (a barrier there would deadlock).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm.exc import StaleDataError

from einvoice.routing.workflow import Conflict, approve, decisions, run_decision

pytest.register_assert_rewrite("workflow_fixtures")
from workflow_fixtures import start  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]


def race(world, item_id, names, monkeypatch):
    case = world.case(item_id)
    results: dict[str, object] = {}
    if world.db.dialect == "postgresql":
        barrier = threading.Barrier(len(names), timeout=20)
        original = decisions.may_decide

        def checked_then_wait(*args, **kwargs):
            permit = original(*args, **kwargs)
            barrier.wait()  # both passed every check with the same version
            return permit

        monkeypatch.setattr(decisions, "may_decide", checked_then_wait)
    go = threading.Event()

    def decide(name):
        go.wait()
        try:
            results[name] = run_decision(world.db, approve, case.id, user=world.user(name),
                                         expected_version=case.version, clock=world.clock)
        except Exception as exc:  # noqa: BLE001 - collected and checked below
            results[name] = exc

    threads = [threading.Thread(target=decide, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join(30)
    monkeypatch.undo()
    return results


def test_concurrent_approvals_yield_exactly_one_decision(world, monkeypatch):
    item_id = world.item("3000")
    start(world, item_id)
    for position, names in ((0, ("A", "B")), (2, ("C", "D"))):
        results = race(world, item_id, names, monkeypatch)
        winners = [name for name, result in results.items() if not isinstance(result, Exception)]
        losers = [result for result in results.values() if isinstance(result, Exception)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert isinstance(losers[0], Conflict), repr(losers[0])
        assert f"inzwischen von Person {winners[0]} bearbeitet – bitte neu laden" in losers[0].message
        if world.db.dialect == "postgresql":  # refused by the version counter at flush, not by the early check
            assert isinstance(losers[0].__context__, StaleDataError)
        step = world.steps(item_id)[position]
        assert step.decided_by_id == world.user(winners[0]).id
    approvals = [e for e in world.events(item_id) if e.details["decision"] == "approve"]
    assert len(approvals) == 2 and [e.details["version"] for e in approvals] == [2, 3]
    assert world.case(item_id).status == "approved" and world.state(item_id) == "approved"
    assert [e.to_state for e in world.events(item_id, "transition")].count("approved") == 1
