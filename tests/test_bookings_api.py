"""The booking batch API (SQLite and PostgreSQL): roles (403 for an approver, Kasse may read), create,
list, metadata with the control total, file download equal to the stored blob, booked, cancel (reason
mandatory, booked refused), and one invoice end to end: received bytes → worker → approvals through the
API → exported with the creditor number, cost centre and captured Skonto that routing decided."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from bookings_data import approved_invoice, load_town, signed_payable_total
from einvoice.intake.receive import receive
from einvoice.jobs import run_worker
from einvoice.routing.clock import today as berlin_today
from einvoice.routing.matching.rules import seed_rules
from einvoice.routing.workflow.definitions import load_file, replace_workflows
from einvoice.samples.generate import ubl_invoice
from einvoice.store.handoff_models import ExportBatch
from einvoice.store.models import IntakeItem
from einvoice.store.routing_models import InvoiceDeadline
from einvoice.web import create_app
from einvoice.web.auth import API_TOKEN_ENV

pytest_plugins = ["pg"]

TOKEN = "bookings-token-0123456789abcdef"


@pytest.fixture
def town(db):
    return load_town(db)


@pytest.fixture
def client(db, town, monkeypatch):
    monkeypatch.setenv(API_TOKEN_ENV, TOKEN)
    with TestClient(create_app(settings=db.settings, db=db)) as client:
        yield client


def call(client, method, path, user=None, **kwargs):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if user:
        headers["X-Einvoice-User"] = user
    return client.request(method, f"/api/v1{path}", headers=headers, **kwargs)


def state(db, item_id):
    with db.read() as session:
        return session.get(IntakeItem, item_id).state


def test_roles_create_list_download_book_and_cancel(db, town, client):
    ids = [approved_invoice(town, supplier=s) for s in ("musterbau", "gruenpflege", "schreibwerk")]
    ids.append(approved_invoice(town, supplier="nordlicht", credit_note=True))
    assert client.post("/api/v1/exports/bookings", json={}).status_code == 401  # no token
    assert call(client, "POST", "/exports/bookings", json={}).status_code == 401  # no acting person
    refused = call(client, "POST", "/exports/bookings", "m.mueller", json={})
    assert refused.status_code == 403 and "kaemmerei" in refused.json()["error"]
    assert call(client, "POST", "/exports/bookings", "o.yilmaz", json={}).status_code == 403  # Kasse reads only
    assert call(client, "GET", "/exports/bookings", "m.mueller").status_code == 403
    assert call(client, "POST", "/exports/bookings", "k.weber", json={"mapping": "gibtsnicht"}).status_code == 422
    assert call(client, "POST", "/exports/bookings", "k.weber", json={"format": "xlsx"}).status_code == 422
    assert call(client, "POST", "/exports/bookings", "k.weber", json={"item_ids": [ids[0], 424242]}).status_code == 409

    created = call(client, "POST", "/exports/bookings", "k.weber", json={"format": "csv", "mapping": "generic"})
    assert created.status_code == 201, created.text
    batch = created.json()
    expected = signed_payable_total(db, ids)
    assert (batch["status"], batch["invoice_count"], batch["record_count"]) == ("created", 4, 4)
    assert Decimal(batch["control_total"]) == expected and batch["created_by"] == "user:k.weber"
    assert batch["totals"]["credit_notes"]["count"] == 1 and "file" not in batch["totals"]
    again = call(client, "POST", "/exports/bookings", "k.weber", json={})
    assert again.status_code == 200 and again.json()["created"] is False

    listed = call(client, "GET", "/exports/bookings", "o.yilmaz").json()["batches"]
    assert [b["id"] for b in listed] == [batch["id"]]
    assert call(client, "GET", "/exports/bookings?status=booked", "k.weber").json()["batches"] == []
    one = call(client, "GET", f"/exports/bookings/{batch['id']}", "admin").json()
    assert one["control_total"] == batch["control_total"] and one["file_name"] == batch["file_name"]
    assert call(client, "GET", "/exports/bookings/999", "k.weber").status_code == 404

    download = call(client, "GET", f"/exports/bookings/{batch['id']}/file", "o.yilmaz")
    assert download.status_code == 200
    with db.read() as session:
        sha = session.get(ExportBatch, batch["id"]).sha256
    assert download.content == db.blobs.get(sha) and download.headers["x-content-sha256"] == sha
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["content-disposition"] == f'attachment; filename="{batch["file_name"]}"'
    rows = list(csv.DictReader(io.StringIO(download.content.decode()), delimiter=";"))
    assert sum(Decimal(r["Zahlbetrag"]) for r in rows) == expected
    assert {r["Kreditor"] for r in rows} == {"70001", "70002", "70003", "70004"}

    assert call(client, "POST", f"/exports/bookings/{batch['id']}/cancel", "m.mueller",
                json={"reason": "x"}).status_code == 403
    missing = call(client, "POST", f"/exports/bookings/{batch['id']}/cancel", "k.weber", json={})
    assert missing.status_code == 422 and "Grund" in missing.json()["error"]
    assert call(client, "POST", f"/exports/bookings/{batch['id']}/cancel", "k.weber").status_code == 422
    cancelled = call(client, "POST", f"/exports/bookings/{batch['id']}/cancel", "k.weber",
                     json={"reason": "Falsches Buchungsdatum im Finanzverfahren"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert {state(db, i) for i in ids} == {"approved"}

    second = call(client, "POST", "/exports/bookings", "admin", json={"format": "json", "item_ids": ids[:2]})
    assert second.status_code == 201 and second.json()["invoice_count"] == 2
    file = call(client, "GET", f"/exports/bookings/{second.json()['id']}/file", "k.weber")
    assert file.headers["content-type"] == "application/json" and file.json()["batch_id"] == second.json()["id"]
    booked = call(client, "POST", f"/exports/bookings/{second.json()['id']}/booked", "k.weber")
    assert booked.status_code == 200 and booked.json()["status"] == "booked"
    assert booked.json()["booked_by"] == "user:k.weber"
    assert call(client, "POST", f"/exports/bookings/{second.json()['id']}/booked", "k.weber").status_code == 409
    refused = call(client, "POST", f"/exports/bookings/{second.json()['id']}/cancel", "k.weber", json={"reason": "x"})
    assert refused.status_code == 409 and "Stornobuchung" in refused.json()["error"]
    assert call(client, "POST", "/exports/bookings/999/booked", "k.weber").status_code == 404

    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/exports/bookings/{batch_id}/cancel" in schema["paths"]
    assert {"BookingExportBody", "BookingCancelBody"} <= set(schema["components"]["schemas"])


def test_an_invoice_end_to_end_through_the_real_workflow(db, town, client):
    with db.transaction() as session:
        seed_rules(session, actor="system:test")
        replace_workflows(session, load_file())
    today = date.today()
    data = ubl_invoice(2, number="RE-EXPORT-1", issue_date=today, supplier="musterbau", order="BEST-2026-0815")
    item = receive(db, data, channel="upload", sender="rechnung@musterbau.example", file_name="export.xml")
    assert run_worker(once=True, db=db) == 2 and state(db, item.id) == "in_approval"
    view = call(client, "GET", f"/invoices/{item.id}/approval", "m.mueller").json()
    done = call(client, "POST", f"/invoices/{item.id}/approval/approve", "m.mueller",
                json={"expected_version": view["version"]})
    ordered = call(client, "POST", f"/invoices/{item.id}/approval/approve", "e.schneider",
                   json={"expected_version": done.json()["version"]})
    assert ordered.status_code == 200, ordered.text
    assert state(db, item.id) == "approved"

    created = call(client, "POST", "/exports/bookings", "k.weber", json={"format": "json"})
    assert created.status_code == 201, created.text
    document = call(client, "GET", f"/exports/bookings/{created.json()['id']}/file", "k.weber").json()
    (record,) = document["records"]
    with db.read() as session:
        deadline = session.get(InvoiceDeadline, item.id)
        assert deadline.skonto_status == "captured"
        exported = session.get(IntakeItem, item.id)
        assert exported.state == "exported"
    assert (record["creditor_number"], record["cost_centre"], record["account"], record["budget_product"],
            record["unit"]) == ("70001", "6610", "5221", "12.01.01", "66")
    assert (record["invoice_number"], record["order_number"], record["iban"], record["bic"]) == (
        "RE-EXPORT-1", "BEST-2026-0815", "DE91440501990004711815", "MUSTDEM1XXX")
    assert Decimal(record["skonto_amount"]) == deadline.skonto_amount > 0
    assert record["skonto_date"] == deadline.skonto_deadline.isoformat() and record["skonto_status"] == "captured"
    assert record["ordered_by"] == "user:e.schneider" and record["ordered_on"] == berlin_today().isoformat()
    assert Decimal(record["payable"]) == Decimal(document["control_total"]) == Decimal(record["amount_due"])
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ExportBatch)) == 1
