"""Deadline rows in the database (SQLite and PostgreSQL): compute per item, settle after the Anordnung,
mark lost Skonto, the daily refresh."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from deadlines_data import default_deadline_settings  # noqa: F401 (autouse)
from deadlines_data import add_case, add_item, add_unit, assign, berlin, invoice_model
from einvoice.routing.clock import FixedClock
from einvoice.routing.deadlines.service import compute_for_item, mark_lost_deadlines, refresh, settle
from einvoice.store.models import AuditEvent
from einvoice.store.routing_models import InvoiceDeadline

pytest_plugins = ["pg"]

E2_TEXT = "#SKONTO#TAGE=7#PROZENT=3.00#\n#SKONTO#TAGE=14#PROZENT=2.00#\n#SKONTO#TAGE=30#PROZENT=0.00#\n"
ONE_TERM = "#SKONTO#TAGE=14#PROZENT=2.00#\n"  # issued Mon 2 March 2026: deadline Mon 16 March


def _events(session, item_id, event):
    return session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == item_id, AuditEvent.event == event)).all()


def test_compute_for_item_upserts_with_receipt_date_in_berlin_and_the_unit(db):
    clock = FixedClock(date(2026, 3, 3))
    with db.transaction() as session:
        unit = add_unit(session, "FB20")
        # 00:30 in Berlin on 3 March is still 2 March in UTC: the receipt date is the Berlin one
        item = add_item(session, invoice_model(date(2026, 3, 2), "1190.00", ONE_TERM), berlin(date(2026, 3, 3), 0, 30))
        assign(session, item, unit)
        row = compute_for_item(session, item, clock=clock, settings=db.settings)
        item_id, unit_id = item.id, unit.id
    with db.read() as session:
        row = session.get(InvoiceDeadline, item_id)
        assert (row.unit_id, row.receipt_date, row.issue_date) == (unit_id, date(2026, 3, 3), date(2026, 3, 2))
        assert row.legal_due_date == date(2026, 4, 2) and row.due_date is None
        assert (row.skonto_status, row.skonto_deadline, row.skonto_amount) == ("open", date(2026, 3, 16), D("23.80"))
        assert (row.pay_by, row.money_at_risk_cents, row.offered_amount) == (date(2026, 3, 16), 2380, D("23.80"))
        assert row.payable == D("1190.00") and row.currency == "EUR"
        assert row.terms[0]["latest_approval"] == "2026-03-13" and row.terms[0]["discount"] == "23.80"
    with db.transaction() as session:  # a second run updates the same row
        compute_for_item(session, session.get(type(item), item_id), clock=clock, settings=db.settings)
        assert session.scalar(sa.select(sa.func.count()).select_from(InvoiceDeadline)) == 1


def test_units_bundesland_decides_the_working_days(db):
    # deadline Fri 5 June 2026; Thursday 4 June is Fronleichnam in NW but not in BE
    clock = FixedClock(date(2026, 5, 22))
    with db.transaction() as session:
        rows = {}
        for code, land in (("NW1", "NW"), ("BE1", "BE")):
            unit = add_unit(session, code, land=land)
            item = add_item(session, invoice_model(date(2026, 5, 22), "1000.00", ONE_TERM), berlin(date(2026, 5, 22)))
            assign(session, item, unit)
            rows[code] = compute_for_item(session, item, clock=clock, settings=db.settings).terms[0]["latest_approval"]
    assert rows == {"NW1": "2026-06-03", "BE1": "2026-06-04"}


@pytest.mark.parametrize("frozen, status, amount", [
    (berlin(date(2026, 3, 13), 16), "captured", D("23.80")),  # the last day (Friday before the Monday deadline)
    (berlin(date(2026, 3, 16), 8), "lost", D("23.80")),  # on the deadline day: too late for the payment run
])
def test_settle_after_the_anordnung(db, frozen, status, amount):
    clock = FixedClock(date(2026, 3, 3))
    with db.transaction() as session:
        unit = add_unit(session, "FB20")
        item = add_item(session, invoice_model(date(2026, 3, 2), "1190.00", ONE_TERM), berlin(date(2026, 3, 3)))
        assign(session, item, unit)
        compute_for_item(session, item, clock=clock, settings=db.settings)
        add_case(session, item, unit, opened=berlin(date(2026, 3, 3)), status="approved", frozen_at=frozen)
        item_id = item.id
    clock.set(frozen)
    with db.transaction() as session:
        row = settle(session, item_id, clock=clock, settings=db.settings)
        assert (row.skonto_status, row.outcome_amount, row.money_at_risk_cents) == (status, amount, 0)
        assert row.outcome_at == frozen
        assert len(_events(session, item_id, f"skonto-{status}")) == 1
        settle(session, item_id, clock=clock, settings=db.settings)  # idempotent
        assert len(_events(session, item_id, f"skonto-{status}")) == 1


def test_staggered_terms_move_on_then_the_skonto_is_lost(db):
    clock = FixedClock(date(2025, 12, 22))
    with db.transaction() as session:
        unit = add_unit(session, "FB30")
        item = add_item(session, invoice_model(date(2025, 12, 22), "4284.00", E2_TEXT), berlin(date(2025, 12, 22)))
        assign(session, item, unit)
        compute_for_item(session, item, clock=clock, settings=db.settings)
        item_id = item.id
    clock.set(date(2025, 12, 27))
    with db.transaction() as session:
        assert mark_lost_deadlines(session, clock=clock) == {"lost": [], "moved": [item_id]}
        row = session.get(InvoiceDeadline, item_id)
        assert (row.skonto_status, row.skonto_deadline, row.skonto_amount) == ("open", date(2026, 1, 5), D("85.68"))
        assert (row.pay_by, row.money_at_risk_cents) == (date(2026, 1, 5), 8568)
        assert mark_lost_deadlines(session, clock=clock) == {"lost": [], "moved": []}
    clock.set(date(2026, 1, 3))
    with db.transaction() as session:
        assert mark_lost_deadlines(session, clock=clock) == {"lost": [item_id], "moved": []}
        row = session.get(InvoiceDeadline, item_id)
        assert (row.skonto_status, row.outcome_amount, row.skonto_deadline) == ("lost", D("128.52"), None)
        assert row.pay_by == date(2026, 1, 21) and row.money_at_risk_cents == 106
        [event] = _events(session, item_id, "skonto-lost")
        assert event.actor == "system:deadlines"


def test_an_anordnung_between_staggered_terms_captures_the_lower_one(db):
    clock = FixedClock(date(2025, 12, 22))
    with db.transaction() as session:
        unit = add_unit(session, "FB30")
        item = add_item(session, invoice_model(date(2025, 12, 22), "4284.00", E2_TEXT), berlin(date(2025, 12, 22)))
        assign(session, item, unit)
        compute_for_item(session, item, clock=clock, settings=db.settings)
        add_case(session, item, unit, opened=berlin(date(2025, 12, 22)), status="approved",
                 frozen_at=berlin(date(2025, 12, 30), 11))
        item_id = item.id
    clock.set(date(2025, 12, 30))
    with db.transaction() as session:
        assert mark_lost_deadlines(session, clock=clock) == {"lost": [], "moved": []}  # approved: settle decides
        result = refresh(session, clock=clock, settings=db.settings)
        assert result["settled"] == 1
        row = session.get(InvoiceDeadline, item_id)
        assert (row.skonto_status, row.outcome_amount) == ("captured", D("85.68"))
        assert row.skonto_deadline == date(2026, 1, 5)
        assert row.offered_amount == D("128.52")


def test_credit_note_free_text_and_refresh_of_missing_rows(db):
    clock = FixedClock(date(2026, 3, 3))
    with db.transaction() as session:
        credit = add_item(session, invoice_model(date(2026, 3, 2), "500.00", ONE_TERM, credit=True),
                          berlin(date(2026, 3, 3)))
        free = add_item(session, invoice_model(date(2026, 3, 2), "800.00", "2 % Skonto bei Zahlung in 10 Tagen"),
                        berlin(date(2026, 3, 3)))
        rejected = add_item(session, invoice_model(date(2026, 3, 2), "1.00", ONE_TERM), berlin(date(2026, 3, 3)),
                            state="rejected")
        assert refresh(session, clock=clock, settings=db.settings)["computed"] == 2
        assert refresh(session, clock=clock, settings=db.settings)["computed"] == 0
        rows = {r.item_id: r for r in session.scalars(sa.select(InvoiceDeadline))}
        assert set(rows) == {credit.id, free.id} and rejected.id not in rows
        assert (rows[credit.id].skonto_status, rows[credit.id].money_at_risk_cents) == ("none", 0)
        assert rows[free.id].skonto_status == "manual"
        assert [n["code"] for n in rows[free.id].notes] == ["free-text"]
        assert rows[free.id].unit_id is None and rows[free.id].money_at_risk_cents == 20  # 800 × 9 % / 365
        unit = add_unit(session, "FB40")  # matching assigns it later: the next refresh follows
        assign(session, free, unit)
        assert refresh(session, clock=clock, settings=db.settings)["reassigned"] == 1
        assert session.get(InvoiceDeadline, free.id).unit_id == unit.id
        assert refresh(session, clock=clock, settings=db.settings)["reassigned"] == 0


def test_recompute_keeps_a_recorded_outcome(db):
    clock = FixedClock(date(2026, 3, 3))
    with db.transaction() as session:
        unit = add_unit(session, "FB20")
        item = add_item(session, invoice_model(date(2026, 3, 2), "1190.00", ONE_TERM), berlin(date(2026, 3, 3)))
        assign(session, item, unit)
        add_case(session, item, unit, opened=berlin(date(2026, 3, 3)), status="approved",
                 frozen_at=berlin(date(2026, 3, 5)))
        row = compute_for_item(session, item, clock=clock, settings=db.settings)  # approved already: settled at once
        assert (row.skonto_status, row.outcome_amount) == ("captured", D("23.80"))
    clock.set(date(2026, 4, 1))
    with db.transaction() as session:
        row = compute_for_item(session, item, clock=clock, settings=db.settings)
        assert (row.skonto_status, row.outcome_amount, row.money_at_risk_cents) == ("captured", D("23.80"), 0)
