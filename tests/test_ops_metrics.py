"""GET /metrics (einvoice.web.metrics): the figures are read from the database at scrape time.

Invoices go through the real intake and ``worker --once``: item counts per state and channel, queue
depth before and after, validation counts and times. Skonto at risk, approvals, dead and stale jobs
and mail notices on rows written directly with a fixed clock, so the sums are exact. Over SQLite and
PostgreSQL (tests/pg.py).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from einvoice.intake.receive import receive
from einvoice.jobs.queue import enqueue
from einvoice.jobs.worker import run_worker
from einvoice.routing.clock import FixedClock
from einvoice.samples import generate as g
from einvoice.store import Job
from einvoice.store.mail_models import MailNotification
from einvoice.store.routing_models import InvoiceDeadline
from einvoice.web import create_app
from einvoice.web.metrics import make_registry, quantile, read_snapshot, render
from einvoice.web.ops import METRICS_TOKEN_ENV

from deadlines_data import add_case, add_item, add_unit, berlin, invoice_model

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted label items): value} of a Prometheus text exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def scrape(db) -> dict:
    with TestClient(create_app(db=db), client=("127.0.0.1", 50000)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return samples(response.text)


def test_intake_counts_queue_depth_and_validation_times(db, monkeypatch):
    monkeypatch.delenv(METRICS_TOKEN_ENV, raising=False)
    today = datetime.now(timezone.utc).date()
    first = g.ubl_invoice(number="M-1", issue_date=today)
    second = g.ubl_invoice(number="M-2", issue_date=today)
    for number, data, channel in (("M-1", first, "api"), ("M-2", second, "upload"),
                                  ("M-3", g.ubl_invoice(number="M-3", defect="amount-due"), "api"),
                                  ("M-1 again", first, "smtp")):
        receive(db, data, channel=channel, sender=None, file_name=f"{number}.xml")

    before = scrape(db)
    assert value(before, "einvoice_intake_items", state="received", channel="api") == 2
    assert value(before, "einvoice_intake_items", state="received", channel="upload") == 1
    assert value(before, "einvoice_intake_items", state="received", channel="smtp") == 1
    assert value(before, "einvoice_intake_items", state="parsed", channel="api") == 0
    assert value(before, "einvoice_intake_received_total", channel="api") == 2
    assert value(before, "einvoice_jobs", kind="process", status="queued") == 4
    assert value(before, "einvoice_jobs", kind="process", status="running") == 0
    assert value(before, "einvoice_oldest_queued_job_age_seconds") >= 0
    assert value(before, "einvoice_validation_duration_seconds_gcount") == 0
    assert math.isnan(value(before, "einvoice_validation_duration_quantile_seconds", quantile="0.5"))

    assert run_worker(once=True, db=db) == 6  # 4 process + 2 route
    after = scrape(db)
    assert value(after, "einvoice_intake_items", state="parsed", channel="api") == 1
    assert value(after, "einvoice_intake_items", state="parsed", channel="upload") == 1
    assert value(after, "einvoice_intake_items", state="rejected", channel="api") == 1
    assert value(after, "einvoice_intake_items", state="duplicate", channel="smtp") == 1
    assert value(after, "einvoice_intake_items", state="received", channel="api") == 0
    assert value(after, "einvoice_intake_received_total", channel="smtp") == 1
    for kind in ("process", "route"):
        assert value(after, "einvoice_jobs", kind=kind, status="queued") == 0
    assert value(after, "einvoice_oldest_queued_job_age_seconds") == 0
    assert value(after, "einvoice_validations_total", valid="true") == 2  # the duplicate was not validated
    assert value(after, "einvoice_validations_total", valid="false") == 1
    assert value(after, "einvoice_validation_duration_seconds_gcount") == 3
    assert value(after, "einvoice_validation_duration_seconds_bucket", le="+Inf") == 3
    assert 0 < value(after, "einvoice_validation_duration_seconds_gsum") < 120
    assert 0 < value(after, "einvoice_validation_duration_quantile_seconds", quantile="0.99") < 60

    # no master data: both valid invoices wait in the manual queue with their Skonto (2 % in 14 days) open
    with db.read() as session:
        offered = [row.offered_amount for row in session.scalars(sa.select(InvoiceDeadline))]
    assert len(offered) == 2 and all(amount > 0 for amount in offered)
    assert value(after, "einvoice_skonto_invoices", status="open") == 2
    assert Decimal(str(value(after, "einvoice_skonto_eur", status="open"))) == sum(offered)
    assert value(after, "einvoice_database_up") == 1


def test_skonto_at_risk_approvals_jobs_and_notices(db):
    on = date(2026, 11, 10)  # a Tuesday in NW; 3 working days ahead is Friday 13 November
    clock = FixedClock(on)
    settings = db.settings
    with db.transaction() as session:
        tiefbau, schulen = add_unit(session, "TB"), add_unit(session, "SCH", land="BY")

        def invoice(deadline: date | None, amount: str | None, *, status="open", state="in_approval", unit=tiefbau,
                    offered=None, outcome=None, case_status=None):
            item = add_item(session, invoice_model(on - timedelta(days=5), "1000.00"), berlin(on - timedelta(days=5)),
                            state=state)
            session.add(InvoiceDeadline(
                item_id=item.id, unit_id=unit.id, receipt_date=on - timedelta(days=5),
                legal_due_date=on + timedelta(days=30),
                pay_by=deadline or on + timedelta(30), payable=Decimal("1000.00"), skonto_deadline=deadline,
                skonto_amount=Decimal(amount) if amount else None, skonto_status=status,
                offered_amount=Decimal(offered or amount or "0"), outcome_amount=Decimal(outcome) if outcome else None))
            if case_status:
                add_case(session, item, unit, opened=berlin(on - timedelta(days=4)), status=case_status)
            return item

        invoice(on, "20.00", case_status="open")  # deadline today: soon
        invoice(date(2026, 11, 13), "15.55", case_status="open")  # Friday: 3 working days: soon
        invoice(date(2026, 11, 16), "99.99", case_status="parked")  # Monday: 4 working days: not yet
        invoice(date(2026, 11, 13), "7.01", unit=schulen, case_status="open")  # BY has no holiday then: soon
        invoice(date(2026, 11, 9), "3.30", state="matched")  # yesterday, still open: passed
        invoice(date(2026, 11, 12), "50.00", state="rejected")  # rejected in approval: not at risk
        invoice(date(2026, 11, 12), "40.00", status="captured", state="approved", offered="40.00", outcome="40.00")
        invoice(None, None, status="lost", state="in_approval", offered="12.34", outcome="12.34")
        invoice(None, None, status="none", state="in_approval")

        dead = enqueue(session, "process")
        dead.state = "dead"
        stale = enqueue(session, "notify")
        stale.state, stale.locked_by = "running", "gone-worker"
        stale.locked_until = clock.now() - timedelta(minutes=5)
        waiting = enqueue(session, "route", run_after=clock.now() - timedelta(seconds=90))
        assert waiting.id
        enqueue(session, "route", run_after=clock.now() + timedelta(hours=1))  # a retry later: not due
        session.add(MailNotification(subject="item:1", kind="receipt", recipient="a@b.example", state="failed"))
        session.add(MailNotification(subject="item:2", kind="receipt", recipient="a@b.example", state="sent"))

    snap = read_snapshot(db, settings=settings, clock=clock)
    assert snap.at_risk == {"soon": (3, Decimal("42.56")), "passed": (1, Decimal("3.30"))}
    assert snap.skonto["open"] == (6, Decimal("195.85"))
    assert snap.skonto["captured"] == (1, Decimal("40.00"))
    assert snap.skonto["lost"] == (1, Decimal("12.34"))
    assert snap.skonto["offered"] == (8, Decimal("248.19"))
    assert snap.approval_open == {("TB", "open"): 2, ("TB", "parked"): 1, ("SCH", "open"): 1, ("SCH", "parked"): 0}
    assert snap.jobs == {("process", "dead"): 1, ("notify", "stale"): 1, ("route", "queued"): 1,
                         ("route", "scheduled"): 1}
    assert snap.oldest_queued_age == pytest.approx(90, abs=1)
    assert snap.notices == {("receipt", "failed"): 1, ("receipt", "sent"): 1}

    found = samples(render(make_registry(db, settings=settings, clock=clock)).decode())
    assert value(found, "einvoice_skonto_at_risk_eur", window="soon") == pytest.approx(42.56)
    assert value(found, "einvoice_skonto_at_risk_invoices", window="passed") == 1
    assert value(found, "einvoice_approval_open", unit="SCH", status="open") == 1
    assert value(found, "einvoice_jobs", kind="process", status="dead") == 1
    assert value(found, "einvoice_jobs", kind="notify", status="stale") == 1
    assert value(found, "einvoice_jobs", kind="route", status="scheduled") == 1
    assert value(found, "einvoice_mail_notices", kind="receipt", status="failed") == 1
    assert value(found, "einvoice_mail_notices", kind="receipt", status="unknown") == 0

    longer = read_snapshot(db, settings=replace(settings, skonto_reminder_days=4), clock=clock)
    assert longer.at_risk["soon"] == (4, Decimal("142.55"))  # Monday's deadline is 4 working days away


def test_database_failure_still_answers_with_database_up_zero(db, tmp_path):
    registry = make_registry(db)
    with db.transaction() as session:
        session.execute(sa.text("DROP TABLE jobs"))  # a broken database: the queries fail
    found = samples(render(registry).decode())
    assert value(found, "einvoice_database_up") == 0
    assert ("einvoice_intake_items", (("channel", "api"), ("state", "received"))) not in found
    assert value(found, "einvoice_metrics_collect_seconds") >= 0


def test_quantile_is_nearest_rank():
    values = [0.1 * n for n in range(1, 11)]
    assert quantile(values, 0.5) == pytest.approx(0.5)
    assert quantile(values, 0.9) == pytest.approx(0.9)
    assert quantile(values, 0.99) == pytest.approx(1.0)
    assert quantile([2.0], 0.5) == 2.0
    assert math.isnan(quantile([], 0.5))


def test_items_of_every_state_are_counted(db):
    with db.transaction() as session:
        for state in ("in_approval", "approved", "exported", "failed"):
            add_item(session, invoice_model(date(2026, 11, 2), "10.00"), berlin(date(2026, 11, 3)), state=state)
    snap = read_snapshot(db)
    assert snap.items == {("in_approval", "api"): 1, ("approved", "api"): 1, ("exported", "api"): 1,
                          ("failed", "api"): 1}
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0
