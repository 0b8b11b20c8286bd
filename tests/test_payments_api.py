"""The payment API and CLI (SQLite and PostgreSQL): roles (Kämmerei/admin make and cancel runs, Kasse
reads, an approver gets 403), the file bytes equal the stored blob, errors 404/409/422/503, and
``einvoice export payments|payment-runs|payment-file|payment-cancel``."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal as D

import pytest
from fastapi.testclient import TestClient

pytest.register_assert_rewrite("workflow_fixtures", "payments_data")
from payments_data import DEBTOR, ONE_TERM, approved, settings_for  # noqa: E402

from einvoice.cli import main as cli_main  # noqa: E402
from einvoice.handoff.payments.sepa import totals, xsd_errors  # noqa: E402
from einvoice.routing.clock import FixedClock, today  # noqa: E402
from einvoice.web.app import create_app  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]
TOKEN = "payments-api-token-0123456789"
EXECUTION = today().isoformat()  # the API and CLI use the system clock: today (Berlin) is the earliest date


def as_user(name: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if name:
        headers["X-Einvoice-User"] = name
    return headers


@pytest.fixture
def client(world, monkeypatch):
    monkeypatch.setenv("EINVOICE_API_TOKEN", TOKEN)
    return TestClient(create_app(settings=settings_for(world.db), db=world.db))


def test_roles_create_list_file_and_cancel(world, client):
    item = approved(world, "1190.00", bt20=ONE_TERM)
    body = {"execution_date": EXECUTION, "item_ids": [item]}
    assert client.post("/api/v1/exports/payments", json=body, headers=as_user("a")).status_code == 403  # approver
    assert client.post("/api/v1/exports/payments", json=body, headers=as_user("kasse")).status_code == 403
    assert client.post("/api/v1/exports/payments", json=body, headers=as_user()).status_code == 401
    made = client.post("/api/v1/exports/payments", json=body, headers=as_user("k"))
    assert made.status_code == 201, made.text
    run = made.json()["run"]
    assert run["created_by"] == "user:k" and run["transaction_count"] == 1
    assert [e["item_id"] for e in run["entries"]] == [item] and made.json()["skipped"] == []
    assert str(item) in made.json()["explanations"]

    assert client.get("/api/v1/exports/payments", headers=as_user("a")).status_code == 403
    listed = client.get("/api/v1/exports/payments", headers=as_user("kasse"))
    assert [r["id"] for r in listed.json()["runs"]] == [run["id"]]
    assert client.get("/api/v1/exports/payments?status=cancelled", headers=as_user("k")).json()["runs"] == []

    got = client.get(f"/api/v1/exports/payments/{run['id']}/file", headers=as_user("kasse"))
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/xml")
    assert got.content == world.db.blobs.get(run["sha256"])  # byte for byte as stored
    assert hashlib.sha256(got.content).hexdigest() == run["sha256"] == got.headers["x-content-sha256"]
    assert run["file_name"] in got.headers["content-disposition"]
    assert xsd_errors(got.content) == [] and totals(got.content)["group"] == (1, D(run["control_sum"]))
    assert client.get(f"/api/v1/exports/payments/{run['id']}/file", headers=as_user("b")).status_code == 403
    assert client.get("/api/v1/exports/payments/999/file", headers=as_user("k")).status_code == 404
    assert client.get(f"/api/v1/exports/payments/{run['id']}", headers=as_user("adm")).json()["entries"][0][
        "remittance"].startswith("RE-PAY-")

    again = client.post("/api/v1/exports/payments", json=body, headers=as_user("adm"))
    assert again.status_code == 422 and again.json()["details"][0]["code"] == "in-run"
    cancel = f"/api/v1/exports/payments/{run['id']}/cancel"
    assert client.post(cancel, json={"reason": "falsches Datum"}, headers=as_user("a")).status_code == 403
    assert client.post(cancel, json={}, headers=as_user("k")).status_code == 422
    done = client.post(cancel, json={"reason": "falsches Datum"}, headers=as_user("k"))
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    assert done.json()["entries"][0]["active"] is False
    assert client.post(cancel, json={"reason": "nochmal"}, headers=as_user("k")).status_code == 409
    unknown = client.post("/api/v1/exports/payments/999/cancel", json={"reason": "x"}, headers=as_user("k"))
    assert unknown.status_code == 404
    assert client.post("/api/v1/exports/payments", json=body, headers=as_user("k")).status_code == 201  # free again


def test_api_errors_past_date_bad_body_and_missing_debtor(world, client, monkeypatch):
    approved(world, "100.00")
    past = client.post("/api/v1/exports/payments", json={"execution_date": "2020-01-01"}, headers=as_user("k"))
    assert past.status_code == 422 and "Vergangenheit" in past.json()["error"]
    bad = client.post("/api/v1/exports/payments", json={"execution_date": "morgen"}, headers=as_user("k"))
    assert bad.status_code == 422
    unconfigured = TestClient(create_app(settings=world.db.settings, db=world.db))  # no EINVOICE_DEBTOR_*
    refused = unconfigured.post("/api/v1/exports/payments", json={"execution_date": EXECUTION}, headers=as_user("k"))
    assert refused.status_code == 503 and "EINVOICE_DEBTOR_NAME" in refused.json()["error"]


@pytest.fixture
def cli_env(world, monkeypatch):
    monkeypatch.setenv("EINVOICE_DATABASE_URL", world.db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(world.db.settings.data_dir))
    for name, value in DEBTOR.items():
        monkeypatch.setenv(f"EINVOICE_{name.upper()}", value)
    return world


def test_cli_payments_runs_file_and_cancel(cli_env, tmp_path, capsys, monkeypatch):
    world = cli_env
    # the CLI uses the system clock: make the Skonto deadline tomorrow so it is deducted
    issue = date.fromordinal(today().toordinal() - 13)
    world.clock = FixedClock(today())
    item = approved(world, "1190.00", bt20=ONE_TERM, issue=issue)
    other = approved(world, "50.00", credit=True)
    out = tmp_path / "zahllauf.xml"
    assert cli_main(["export", "payments", "--execution-date", EXECUTION, "--item", str(item), "--item", str(other),
                     "--out", str(out), "--actor", "user:k"]) == 0
    printed = capsys.readouterr()
    assert "Überweisungen: 1  Kontrollsumme: 1.166,20 EUR  Skonto abgezogen: 23,80 EUR" in printed.out
    assert f"Rechnung #{other}: Gutschrift" in printed.err
    assert xsd_errors(out.read_bytes()) == []

    assert cli_main(["export", "payment-runs", "--format", "json"]) == 0
    runs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["status"], r["created_by"], r["control_sum"]) for r in runs] == [("created", "user:k", "1166.20")]
    copy = tmp_path / "copy.xml"
    assert cli_main(["export", "payment-file", str(runs[0]["id"]), "--out", str(copy)]) == 0
    assert copy.read_bytes() == out.read_bytes() == world.db.blobs.get(runs[0]["sha256"])

    assert cli_main(["export", "payments", "--execution-date", EXECUTION, "--item", str(item)]) == 1
    assert "Bereits im Zahllauf" in capsys.readouterr().err
    assert cli_main(["export", "payments", "--execution-date", "16.11.2026"]) == 2
    assert cli_main(["export", "payment-cancel", str(runs[0]["id"]), "--reason", "Test"]) == 0
    assert cli_main(["export", "payment-cancel", str(runs[0]["id"]), "--reason", "Test"]) == 1
    assert cli_main(["export", "payment-runs"]) == 0
    assert "cancelled" in capsys.readouterr().out
    monkeypatch.delenv("EINVOICE_DEBTOR_IBAN")
    assert cli_main(["export", "payments", "--execution-date", EXECUTION]) == 1
    assert "EINVOICE_DEBTOR_IBAN" in capsys.readouterr().err
