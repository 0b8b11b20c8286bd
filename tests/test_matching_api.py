"""The matching API (einvoice/web/api_matching.py) on SQLite and PostgreSQL: token and roles (403 for
a plain approver), rules get/replace/seed, the manual queue, one item's history, re-match, re-run,
manual assignment with reason; 404 / 409 / 422 answers; the OpenAPI documents the bodies."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from einvoice.intake import states
from einvoice.store import IntakeItem
from einvoice.store.masterdata_models import User
from einvoice.web import create_app
from einvoice.web.auth import API_TOKEN_ENV
from matching_data import LW_10, LW_UNKNOWN, master_data, model, parsed_item

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL

TOKEN = "test-token-0123456789abcdef"


def headers(user: str | None = None) -> dict[str, str]:
    found = {"Authorization": f"Bearer {TOKEN}"}
    if user:
        found["X-Einvoice-User"] = user
    return found


@pytest.fixture
def setup(db, monkeypatch):
    monkeypatch.setenv(API_TOKEN_ENV, TOKEN)
    with db.transaction() as session:
        ids = master_data(session)
        session.add_all([User(username="admin", display_name="Admin", roles=["admin"]),
                         User(username="rita", display_name="Rita Eingang", roles=["rechnungseingang"]),
                         User(username="anna", display_name="Anna Amt", roles=["approver"])])
        ids["unknown"] = parsed_item(session, model(leitweg_id=LW_UNKNOWN)).id
        ids["known"] = parsed_item(session, model(leitweg_id=LW_10)).id
        ids["validated"] = parsed_item(session, model(leitweg_id=LW_10), state="validated").id
    with TestClient(create_app(settings=db.settings, db=db)) as client:
        yield client, ids


def test_rules_need_the_token_and_admin_to_change(setup):
    client, _ = setup
    assert client.get("/api/v1/matching/rules").status_code == 401
    assert client.get("/api/v1/matching/rules", headers=headers()).json() == {"rules": []}
    assert client.post("/api/v1/matching/rules/seed", headers=headers()).status_code == 401  # no acting user
    assert client.post("/api/v1/matching/rules/seed", headers=headers("rita")).status_code == 403
    response = client.post("/api/v1/matching/rules/seed", headers=headers("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["seed"]["count"] == 9 and response.json()["rules"][0]["name"] == "Bestellung"

    body = {"rules": [{"name": "Schulen", "key": "buyer_reference", "pattern": "SCHULE-*", "cost_centre": "4010",
                       "confidence": 80}, {"name": "Leitweg-ID", "key": "leitweg"}]}
    assert client.put("/api/v1/matching/rules", json=body, headers=headers("rita")).status_code == 403
    response = client.put("/api/v1/matching/rules", json=body, headers=headers("admin"))
    assert response.status_code == 200, response.text
    rules = client.get("/api/v1/matching/rules", headers=headers()).json()["rules"]
    assert [(r["position"], r["name"], r["cost_centre"], r["updated_by"]) for r in rules] == [
        (1, "Schulen", "4010", "user:admin"), (2, "Leitweg-ID", None, "user:admin")]
    bad = {"rules": [{"name": "X", "key": "order", "cost_centre": "7777"}]}
    response = client.put("/api/v1/matching/rules", json=bad, headers=headers("admin"))
    assert response.status_code == 422 and "takes its target from master data" in response.json()["error"]
    assert client.put("/api/v1/matching/rules", json={"rules": [{"name": "X", "key": "nope"}]},
                      headers=headers("admin")).status_code == 422
    assert len(client.get("/api/v1/matching/rules", headers=headers()).json()["rules"]) == 2  # unchanged


def test_rerun_queue_history_and_manual_assignment(setup, db):
    client, ids = setup
    client.post("/api/v1/matching/rules/seed", headers=headers("admin"))
    assert client.post("/api/v1/matching/rerun", headers=headers("rita")).status_code == 403
    counts = client.post("/api/v1/matching/rerun", headers=headers("admin")).json()
    assert (counts["total"], counts["to_matched"]) == (2, 1)

    queue = client.get("/api/v1/matching/queue", headers=headers()).json()["items"]
    assert [entry["id"] for entry in queue] == [ids["unknown"]]
    assert queue[0]["explanation"].startswith("Keine Regel traf zu")

    history = client.get(f"/api/v1/invoices/{ids['known']}/matching", headers=headers()).json()
    assert history["state"] == "matched" and history["assignment"]["cost_centre_id"] == ids["KSt 1100"]
    assert history["results"][0]["candidates"][0]["rule"] == "Leitweg-ID mit Kostenstelle"
    assert client.get("/api/v1/invoices/999999/matching", headers=headers()).status_code == 404

    url = f"/api/v1/invoices/{ids['unknown']}/assignment"
    body = {"cost_centre": "4020", "reason": "Laut Schulamt Gymnasium"}
    assert client.post(url, json=body, headers=headers("anna")).status_code == 403  # a plain approver
    assert client.post(url, json={"cost_centre": "4020"}, headers=headers("rita")).status_code == 422  # no reason
    assert client.post(url, json={**body, "cost_centre": "0000"}, headers=headers("rita")).status_code == 422
    response = client.post(url, json={**body, "splits": [{"cost_centre": "4020", "amount": "100.00"}]},
                           headers=headers("rita"))
    assert response.status_code == 200, response.text
    assigned = response.json()
    assert assigned["state"] == "matched" and assigned["assignment"]["manual"] is True
    assert assigned["assignment"]["assigned_by"] == "user:rita" and assigned["assignment"]["splits"][0]["amount"] == "100.00"
    assert client.get("/api/v1/matching/queue", headers=headers()).json()["items"] == []
    assert client.post("/api/v1/invoices/999999/assignment", json=body, headers=headers("rita")).status_code == 404
    response = client.post(f"/api/v1/invoices/{ids['validated']}/assignment", json=body, headers=headers("rita"))
    assert response.status_code == 409 and "needs parsed or matched" in response.json()["error"]


def test_match_one_item(setup, db):
    client, ids = setup
    client.post("/api/v1/matching/rules/seed", headers=headers("admin"))
    url = f"/api/v1/invoices/{ids['known']}/match"
    assert client.post(url, headers=headers("anna")).status_code == 403
    response = client.post(url, headers=headers("rita"))
    assert response.status_code == 200 and response.json()["state"] == "matched"
    assert response.json()["results"][0]["actor"] == "user:rita"
    with db.transaction() as session:
        states.transition(session.get(IntakeItem, ids["known"]), "in_approval", "system:workflow", "Freigabe")
    assert client.post(url, headers=headers("rita")).status_code == 409
    assert client.post("/api/v1/invoices/999999/match", headers=headers("rita")).status_code == 404


def test_openapi_documents_the_bodies(setup):
    client, _ = setup
    schema = client.app.openapi()
    assert {"RuleIn", "RulesIn", "AssignmentIn", "SplitIn"} <= set(schema["components"]["schemas"])
    assert "/api/v1/invoices/{item_id}/assignment" in schema["paths"]
