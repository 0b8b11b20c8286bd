"""Routing end to end on the example organisation: received bytes → worker (process, route) → matched
and in approval with deadlines → approvals through the API (four-eyes) → approved, Skonto settled;
an unmatched invoice waits in the manual queue until the Rechnungseingangsstelle assigns it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from einvoice.intake.receive import receive
from einvoice.jobs import run_worker
from einvoice.routing.masterdata import import_folder
from einvoice.routing.matching.rules import seed_rules
from einvoice.routing.workflow.definitions import load_file, replace_workflows
from einvoice.samples.generate import ubl_invoice
from einvoice.store.models import AuditEvent, IntakeItem
from einvoice.store.routing_models import ApprovalCase, Assignment, InvoiceDeadline
from einvoice.web.app import create_app

pytest_plugins = ["pg"]

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "end-to-end-token-0123456789"


@pytest.fixture
def town(db):
    with db.transaction() as session:
        result = import_folder(session, ROOT / "rules/routing/example-masterdata", actor="system:test")
        assert all(r.ok for r in result.results), [r.errors for r in result.results if not r.ok]
        seed_rules(session, actor="system:test")
        replace_workflows(session, load_file())
    return db


def state(db, item_id):
    with db.read() as session:
        return session.get(IntakeItem, item_id).state


def api(db, monkeypatch):
    monkeypatch.setenv("EINVOICE_API_TOKEN", TOKEN)
    return TestClient(create_app(settings=db.settings, db=db))


def as_user(name):
    return {"Authorization": f"Bearer {TOKEN}", "X-Einvoice-User": name}


def test_invoice_is_matched_routed_and_approved_with_four_eyes(town, monkeypatch):
    db = town
    today = date.today()
    data = ubl_invoice(2, number="RE-E2E-1", issue_date=today, supplier="musterbau", order="BEST-2026-0815")
    item = receive(db, data, channel="upload", sender="rechnung@musterbau.example", file_name="e2e.xml")
    assert run_worker(once=True, db=db) == 2  # process, then route

    assert state(db, item.id) == "in_approval"
    with db.read() as session:
        assignment = session.get(Assignment, item.id)
        assert assignment.status == "matched" and assignment.supplier_id is not None
        deadline = session.get(InvoiceDeadline, item.id)
        assert deadline is not None and deadline.skonto_status == "open" and deadline.offered_amount > 0
        case = session.scalars(sa.select(ApprovalCase).where(ApprovalCase.item_id == item.id)).one()
        assert case.iban_alert is None  # the invoice's IBAN is the one in master data
        events = [e.event for e in session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == item.id))]
        assert "matching" in events

    client = api(db, monkeypatch)
    detail = client.get(f"/api/v1/invoices/{item.id}/matching", headers=as_user("m.mueller")).json()
    assert "BEST-2026-0815" in detail["results"][0]["explanation"]

    view = client.get(f"/api/v1/invoices/{item.id}/approval", headers=as_user("m.mueller")).json()
    tasks = client.get("/api/v1/tasks", headers=as_user("m.mueller")).json()
    assert item.id in [t["item_id"] for t in tasks["tasks"]]
    assert client.get("/api/v1/tasks", headers=as_user("n.wolf")).json()["tasks"] == []  # another unit
    # sachlich richtig by the clerk of unit 66 (Tiefbau)
    done = client.post(f"/api/v1/invoices/{item.id}/approval/approve", headers=as_user("m.mueller"),
                       json={"expected_version": view["version"]})
    assert done.status_code == 200, done.text
    view = done.json()
    # four-eyes: the same person may not give the Anordnung (rechnerisch was automatic)
    refused = client.post(f"/api/v1/invoices/{item.id}/approval/approve", headers=as_user("m.mueller"),
                          json={"expected_version": view["version"]})
    assert refused.status_code == 403, refused.text
    ordered = client.post(f"/api/v1/invoices/{item.id}/approval/approve", headers=as_user("e.schneider"),
                          json={"expected_version": view["version"]})
    assert ordered.status_code == 200, ordered.text
    assert state(db, item.id) == "approved"
    with db.read() as session:
        deadline = session.get(InvoiceDeadline, item.id)
        assert deadline.skonto_status == "captured" and deadline.outcome_amount == deadline.offered_amount


def test_unmatched_invoice_waits_in_the_manual_queue_until_assigned(town, monkeypatch):
    db = town
    # the order says Tiefbau (KSt 6610), the Leitweg-ID says Friedhöfe (KSt 6720): a conflict for a person
    data = ubl_invoice(number="RE-E2E-2", supplier="musterbau", leitweg_id="05315-FRIEDHOF-38")
    item = receive(db, data, channel="upload", sender="rechnung@musterbau.example", file_name="e2e2.xml")
    run_worker(once=True, db=db)
    client = api(db, monkeypatch)
    queue = client.get("/api/v1/matching/queue", headers=as_user("r.schmidt")).json()
    if state(db, item.id) != "parsed":
        pytest.fail(f"expected the manual queue, got {state(db, item.id)}: {queue}")
    assert item.id in [entry["id"] for entry in queue["items"]]
    explanation = [entry for entry in queue["items"] if entry["id"] == item.id][0]["explanation"]
    assert "6610" in explanation and "6720" in explanation

    assigned = client.post(f"/api/v1/invoices/{item.id}/assignment", headers=as_user("r.schmidt"),
                           json={"cost_centre": "6720", "reason": "Wegebau auf dem Friedhof, Rücksprache mit FB 67"})
    assert assigned.status_code == 200, assigned.text
    assert state(db, item.id) == "matched"
    assert run_worker(once=True, db=db) == 1  # the route job queued by the assignment
    assert state(db, item.id) == "in_approval"
    with db.read() as session:
        assert session.get(InvoiceDeadline, item.id).unit_id == session.get(Assignment, item.id).unit_id
