"""The workflow API: start, approve through to the freeze, the inbox, 409 on a stale version, 403 for
four-eyes and missing roles, 422 for a missing reason, workflow definitions (admin), reassign."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from einvoice.web import create_app
from einvoice.web.auth import API_TOKEN_ENV

pytest.register_assert_rewrite("workflow_fixtures")
from workflow_fixtures import start  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]

TOKEN = "test-token-0123456789abcdef"


@pytest.fixture
def client(world, monkeypatch):
    monkeypatch.setenv(API_TOKEN_ENV, TOKEN)
    with TestClient(create_app(db=world.db)) as client:
        yield client


def call(client, method, path, user=None, **kwargs):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if user:
        headers["X-Einvoice-User"] = user
    return client.request(method, f"/api/v1{path}", headers=headers, **kwargs)


def test_start_approve_and_freeze_through_the_api(world, client):
    item_id = world.item("3000")
    assert call(client, "POST", f"/invoices/{item_id}/approval/start", "a").status_code == 403  # not Rechnungseingang
    response = call(client, "POST", f"/invoices/{item_id}/approval/start", "r")
    assert response.status_code == 201, response.text
    view = response.json()
    assert (view["status"], view["version"], view["workflow"]) == ("open", 1, "Standard")
    assert [(s["kind"], s["state"], s["unit"]) for s in view["steps"]] == [
        ("sachlich", "open", "66"), ("rechnerisch", "auto", "66"), ("anordnung", "waiting", "66")]
    assert {e["username"] for e in view["eligible"]} >= {"a", "b", "c", "d"}
    assert view["gross_amount"] == "3000.00" and view["iban_alert"] is None

    tasks = call(client, "GET", "/tasks", "b").json()["tasks"]
    assert [(t["item_id"], t["step"], t["version"]) for t in tasks] == [(item_id, "sachlich", 1)]
    response = call(client, "POST", f"/invoices/{item_id}/approval/approve", "a",
                    json={"expected_version": 1, "reason": "Abnahme erfolgt"})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2

    stale = call(client, "POST", f"/invoices/{item_id}/approval/approve", "c", json={"expected_version": 1})
    assert stale.status_code == 409
    assert stale.json() == {"error": "Diese Rechnung wurde inzwischen von Person A bearbeitet – bitte neu laden"}
    four_eyes = call(client, "POST", f"/invoices/{item_id}/approval/approve", "a", json={"expected_version": 2})
    assert four_eyes.status_code == 403 and "Vier-Augen-Prinzip" in four_eyes.json()["error"]
    missing = call(client, "POST", f"/invoices/{item_id}/approval/reject", "c", json={"expected_version": 2})
    assert missing.status_code == 422 and "Begründung" in missing.json()["error"]
    assert call(client, "POST", f"/invoices/{item_id}/approval/approve", "c", json={}).status_code == 422
    assert call(client, "POST", f"/invoices/{item_id}/approval/approve", None,
                json={"expected_version": 2}).status_code == 401

    response = call(client, "POST", f"/invoices/{item_id}/approval/comment", "b", json={"reason": "alles gut"})
    assert response.status_code == 200 and response.json()["comments"][0]["text"] == "alles gut"
    done = call(client, "POST", f"/invoices/{item_id}/approval/approve", "c", json={"expected_version": 2}).json()
    assert (done["status"], done["frozen_by"]) == ("approved", "user:c")
    assert done["steps"][2]["decided_by"] == {"username": "c", "name": "Person C"}
    assert world.state(item_id) == "approved"
    view = call(client, "GET", f"/invoices/{item_id}/approval").json()
    assert view["version"] == 3 and view["steps"][0]["reason"] == "Abnahme erfolgt"
    frozen = call(client, "POST", f"/invoices/{item_id}/approval/payable", "c",
                  json={"expected_version": 3, "payable_amount": "10", "reason": "x"})
    assert frozen.status_code == 403 and "festgeschrieben" in frozen.json()["error"]  # only through reopen
    closed = call(client, "POST", f"/invoices/{item_id}/approval/approve", "d", json={"expected_version": 3})
    assert closed.status_code == 409 and "abgeschlossen" in closed.json()["error"]
    reopened = call(client, "POST", f"/invoices/{item_id}/approval/reopen", "c",
                    json={"expected_version": 3, "payable_amount": "2900.00", "reason": "Skonto nachträglich"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    assert reopened.json()["payable_amount"] == "2900.00" and world.state(item_id) == "in_approval"


def test_unknown_things_and_reassign(world, client):
    item_id = world.item("3000")
    assert call(client, "GET", f"/invoices/{item_id}/approval").status_code == 404
    start(world, item_id)
    assert call(client, "POST", f"/invoices/{item_id}/approval/explode", "a", json={}).status_code == 404
    assert call(client, "GET", "/tasks", "nobody").status_code == 403
    response = call(client, "POST", f"/invoices/{item_id}/approval/reassign", "r",
                    json={"expected_version": 1, "unit": "20", "reason": "Kämmerei zuständig"})
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["status"] == "open" and view["version"] == 1 and view["steps"][0]["unit"] == "20"
    assert world.state(item_id) == "in_approval"


def test_workflow_definitions_through_the_api(world, client):
    listed = call(client, "GET", "/workflows").json()["workflows"]
    assert [(w["name"], w["unit"], w["active"]) for w in listed] == [("Tiefbau groß", "66", True),
                                                                      ("Standard", None, True)]
    body = {"workflows": [{"name": "Einfach", "steps": [{"kind": "sachlich"}, {"kind": "anordnung"}]}]}
    assert call(client, "PUT", "/workflows", "a", json=body).status_code == 403
    response = call(client, "PUT", "/workflows", "adm", json=body)
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["deactivated"]) == (1, 2)
    bad = call(client, "PUT", "/workflows", "adm", json={"workflows": [{"name": "Kaputt", "steps": [
        {"kind": "sachlich"}]}]})
    assert bad.status_code == 422 and any("Anordnung" in p for p in bad.json()["problems"])
    seeded = call(client, "POST", "/workflows/seed", "adm").json()
    assert (seeded["updated"], seeded["deactivated"]) == (2, 1)
    assert "ActionBody" in call(client, "GET", "/openapi.json").json()["components"]["schemas"]
