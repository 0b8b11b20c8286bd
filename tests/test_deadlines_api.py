"""The deadlines API (list in priority order, one invoice, Skonto metrics) and the ``einvoice deadlines``
command line, over SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest
from fastapi.testclient import TestClient

from deadlines_data import default_deadline_settings  # noqa: F401 (autouse)
from deadlines_data import add_case, add_item, add_unit, assign, berlin, invoice_model
from einvoice.cli import main as cli_main
from einvoice.routing.clock import FixedClock
from einvoice.routing.deadlines.service import compute_for_item
from einvoice.web import create_app
from einvoice.web.auth import API_TOKEN_ENV

pytest_plugins = ["pg"]

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def items(db, monkeypatch):
    """Four invoices in FB20/FB30 received Mon 2 March 2026; one of them already ordered (captured)."""
    monkeypatch.setenv(API_TOKEN_ENV, TOKEN)
    clock = FixedClock(date(2026, 3, 2))
    ids = {}
    with db.transaction() as session:
        fb20, fb30 = add_unit(session, "FB20"), add_unit(session, "FB30", land="BY")
        specs = {"small-skonto": ("100.00", "#SKONTO#TAGE=10#PROZENT=3.00#\n", fb20, None),
                 "big-skonto": ("1190.00", "#SKONTO#TAGE=14#PROZENT=2.00#\n", fb20, None),
                 "no-skonto": ("5000.00", None, fb30, date(2026, 3, 20)),
                 "ordered": ("9000.00", "#SKONTO#TAGE=14#PROZENT=2.00#\n", fb30, None)}
        for name, (amount, text, unit, due) in specs.items():
            item = add_item(session, invoice_model(date(2026, 3, 2), amount, text, due=due), berlin(date(2026, 3, 2)))
            assign(session, item, unit)
            if name == "ordered":
                add_case(session, item, unit, opened=berlin(date(2026, 3, 2)), status="approved",
                         frozen_at=berlin(date(2026, 3, 4)))
            compute_for_item(session, item, clock=clock, settings=db.settings)
            ids[name] = item.id
    return ids


@pytest.fixture
def client(db, items):
    with TestClient(create_app(db=db)) as client:
        yield client


def test_list_is_in_priority_order_and_filters(client, items):
    assert client.get("/api/v1/deadlines").status_code == 401
    body = client.get("/api/v1/deadlines", headers=AUTH).json()
    assert [row["item_id"] for row in body["items"]] == [items["big-skonto"], items["small-skonto"], items["no-skonto"]]
    assert body["total"] == 3
    first = body["items"][0]
    assert (first["money_at_risk_cents"], first["money_at_risk"], first["skonto_amount"]) == (2380, "23.80", "23.80")
    assert (first["pay_by"], first["skonto_deadline"], first["unit"]["code"]) == ("2026-03-16", "2026-03-16", "FB20")
    every = client.get("/api/v1/deadlines", params={"all": "true"}, headers=AUTH).json()
    assert every["items"][-1]["item_id"] == items["ordered"] and every["items"][-1]["skonto_status"] == "captured"
    assert every["items"][-1]["money_at_risk_cents"] == 0 and every["total"] == 4
    fb30 = client.get("/api/v1/deadlines", params={"unit": "FB30"}, headers=AUTH).json()
    assert [row["item_id"] for row in fb30["items"]] == [items["no-skonto"]]
    soon = client.get("/api/v1/deadlines", params={"before": "2026-03-12"}, headers=AUTH).json()
    assert [row["item_id"] for row in soon["items"]] == [items["small-skonto"]]
    assert client.get("/api/v1/deadlines", params={"unit": "NOPE"}, headers=AUTH).status_code == 404
    assert client.get("/api/v1/deadlines", params={"before": "März"}, headers=AUTH).status_code == 422


def test_one_invoice_and_metrics(client, items):
    body = client.get(f"/api/v1/invoices/{items['big-skonto']}/deadlines", headers=AUTH).json()
    assert body["terms"][0]["deadline"] == "2026-03-16" and body["terms"][0]["discount"] == "23.80"
    assert (body["legal_due_date"], body["payable"], body["skonto_status"]) == ("2026-04-01", "1190.00", "open")
    missing = client.get("/api/v1/invoices/999999/deadlines", headers=AUTH)
    assert missing.status_code == 404 and "error" in missing.json()
    metrics = client.get("/api/v1/metrics/skonto", params={"month": "2026-03"}, headers=AUTH).json()
    rows = {row["unit_code"]: row for row in metrics["rows"]}
    assert rows["FB20"]["offered_count"] == 2 and rows["FB20"]["offered_amount"] == "26.80"
    assert rows["FB30"]["captured_amount"] == "180.00" and rows["FB30"]["capture_rate"] == "1.0000"
    only = client.get("/api/v1/metrics/skonto", params={"unit": "FB30"}, headers=AUTH).json()
    assert [row["unit_code"] for row in only["rows"]] == ["FB30"]
    assert client.get("/api/v1/metrics/skonto", params={"month": "2026-13"}, headers=AUTH).status_code == 422
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/deadlines", "/api/v1/invoices/{item_id}/deadlines", "/api/v1/metrics/skonto"} <= set(paths)


def test_command_line(db, items, monkeypatch, capsys):
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    assert cli_main(["deadlines", "metrics", "--month", "2026-03", "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {row["unit_code"]: row["offered_count"] for row in rows} == {"FB20": 2, "FB30": 1}
    assert cli_main(["deadlines", "metrics", "--unit", "FB20"]) == 0
    out = capsys.readouterr().out
    assert "FB20" in out and "26,80 EUR" in out and "FB30" not in out
    assert cli_main(["deadlines", "metrics", "--month", "03/2026"]) == 2
    assert cli_main(["deadlines", "metrics", "--unit", "NOPE"]) == 2
    assert cli_main(["deadlines", "recompute"]) == 0
    assert "recomputed for 4 invoices" in capsys.readouterr().err
    monkeypatch.delenv("EINVOICE_SMTP_RELAY_HOST", raising=False)
    assert cli_main(["deadlines", "scheduler", "--once"]) == 0
    assert "ran " in capsys.readouterr().err
