"""The inbox (`tasks_for`): own tasks and substitutions, Skonto priority (items without a deadline row
last), four-eyes and parked cases left out, the IBAN alert shown."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from einvoice.routing.workflow import approve, park, tasks_for
from einvoice.store.routing_models import InvoiceDeadline

pytest.register_assert_rewrite("workflow_fixtures")
from workflow_fixtures import OTHER_IBAN, TODAY, act, start  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]


def inbox(world, name, on=TODAY):
    with world.db.read() as session:
        return [(t.item_id, t.step, t.acting_for) for t in tasks_for(session, world.user(name), on)]


def deadline(world, item_id, cents, pay_by):
    with world.db.transaction() as session:
        session.add(InvoiceDeadline(item_id=item_id, unit_id=world.units["66"], receipt_date=date(2026, 11, 3),
                                    legal_due_date=date(2026, 12, 3), pay_by=pay_by, payable=Decimal("3000.00"),
                                    money_at_risk_cents=cents, skonto_status="open"))


def test_inbox_shows_own_tasks_and_substitutions_by_priority(world):
    first, second, third, parked = (world.item("3000") for _ in range(4))
    alert = world.item("3000", iban=OTHER_IBAN)
    for item_id in (first, second, third, parked, alert):
        start(world, item_id)
    deadline(world, second, 6000, date(2026, 11, 20))
    deadline(world, third, 6000, date(2026, 11, 16))  # same money at risk, earlier pay-by date: first
    deadline(world, parked, 99999, date(2026, 11, 12))
    act(world, park, parked, "B", reason="Rückfrage")
    act(world, approve, first, "A")
    act(world, approve, alert, "B")

    # B has no Anordnung limit: only the sachlich steps; the parked case is not listed
    assert inbox(world, "B") == [(third, "sachlich", None), (second, "sachlich", None)]
    # A decided sachlich of `first`: four-eyes keeps its Anordnung out of A's inbox
    assert inbox(world, "A") == [(third, "sachlich", None), (second, "sachlich", None), (alert, "anordnung", None)]
    c_tasks = inbox(world, "C")
    assert c_tasks == [(third, "sachlich", None), (second, "sachlich", None), (first, "anordnung", None),
                       (alert, "anordnung", None)]
    with world.db.read() as session:
        flagged = {t.item_id: t.iban_alert for t in tasks_for(session, world.user("C"), TODAY)}
        version = {t.item_id: t.version for t in tasks_for(session, world.user("C"), TODAY)}
    assert flagged[alert] == "open" and flagged[first] is None and version[first] == 2
    assert inbox(world, "S") == [] and inbox(world, "R") == []

    world.substitute("C", "S")
    assert inbox(world, "C") == []  # absent today
    assert inbox(world, "S") == [(item, step, "c") for item, step, _ in c_tasks]
    assert inbox(world, "S", on=date(2026, 11, 11)) == []  # the substitution ended
