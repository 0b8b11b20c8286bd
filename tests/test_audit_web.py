"""The audit trail export over HTTP: ``GET /api/v1/invoices/{id}/audit`` (token, acting user with role
admin or kaemmerei) and the download link on the invoice page of the staff UI."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from einvoice.store.audit_verify_standalone import check_document
from einvoice.web.app import create_app
from einvoice.web.auth import API_TOKEN_ENV

pytest.register_assert_rewrite("workflow_fixtures", "ui_helpers")
from ui_helpers import client_for, login  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]

TOKEN = "audit-api-token-0123456789abcdef"


def headers(user: str | None = None) -> dict:
    return {"Authorization": f"Bearer {TOKEN}", **({"X-Einvoice-User": user} if user else {})}


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv(API_TOKEN_ENV, TOKEN)


def test_api_export_for_admin_and_kaemmerei_only(world):
    item_id = world.item()
    with TestClient(create_app(settings=world.db.settings, db=world.db)) as api:
        url = f"/api/v1/invoices/{item_id}/audit"
        answer = api.get(url, headers=headers("adm"))
        assert answer.status_code == 200, answer.text
        document = answer.json()
        assert document["item"]["id"] == item_id and document["item"]["invoice_number"].startswith("RE-2026-")
        assert [e["to_state"] for e in document["events"]] == ["received", "validated", "parsed", "matched"]
        assert check_document(document) == []
        assert api.get(url, headers=headers("k")).json()["final_hash"] == document["final_hash"]
        assert api.get(url, headers=headers("a")).status_code == 403  # an approver of the invoice's unit
        assert api.get(url, headers=headers()).status_code == 401  # no acting user
        assert api.get(url, headers={"X-Einvoice-User": "adm"}).status_code == 401  # no token
        assert api.get("/api/v1/invoices/999999/audit", headers=headers("adm")).status_code == 404
        assert "/api/v1/invoices/{item_id}/audit" in api.get("/api/v1/openapi.json").json()["paths"]


def test_invoice_page_links_the_download_for_admins(world):
    item_id = world.item()
    client = client_for(world.db)
    assert login(client, "adm").status_code == 303
    page = client.get(f"/rechnungen/{item_id}")
    assert page.status_code == 200 and f'/rechnungen/{item_id}/audit.json">Audit-Trail exportieren' in page.text
    download = client.get(f"/rechnungen/{item_id}/audit.json")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert check_document(download.json()) == [] and download.json()["event_count"] == 4

    approver = client_for(world.db, users=("a",))
    assert login(approver, "a").status_code == 303
    page = approver.get(f"/rechnungen/{item_id}")
    assert page.status_code == 200 and "audit.json" not in page.text
    assert approver.get(f"/rechnungen/{item_id}/audit.json").status_code == 403
    anonymous = TestClient(create_app(settings=world.db.settings, db=world.db), follow_redirects=False)
    assert anonymous.get(f"/rechnungen/{item_id}/audit.json").status_code == 303  # to the login page
