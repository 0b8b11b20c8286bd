"""The master data API (`/api/v1/masterdata/...`) and CLI (``einvoice masterdata import|export``):
import as raw CSV and as multipart (200 counts / 422 line-numbered errors), export as CSV, list
with pagination, one row, create/update from JSON with the import's checks, admin only for
changes (401 without user, 403 for a non-admin), token required for reads. Over SQLite and
PostgreSQL (tests/pg.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from einvoice.cli import main
from einvoice.routing.masterdata import import_folder
from einvoice.store.masterdata_models import Supplier, User
from einvoice.web import create_app
from einvoice.web.auth import API_TOKEN_ENV

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL

EXAMPLE = Path(__file__).resolve().parent.parent / "rules" / "routing" / "example-masterdata"
TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADMIN = {**AUTH, "X-Einvoice-User": "admin"}
APPROVER = {**AUTH, "X-Einvoice-User": "m.mueller"}


@pytest.fixture(autouse=True)
def _web_env(monkeypatch):
    monkeypatch.setenv(API_TOKEN_ENV, TOKEN)


@pytest.fixture
def client(db):
    with db.transaction() as session:
        assert import_folder(session, EXAMPLE, actor="system:test").ok
    with TestClient(create_app(db=db)) as client:
        yield client


def supplier(db, number) -> Supplier | None:
    with db.read() as session:
        return session.scalars(sa.select(Supplier).filter_by(creditor_number=number)).one_or_none()


def test_import_raw_csv_and_multipart(client, db):
    body = "creditor_number;name;iban\n80001;Neu GmbH;DE89 3704 0044 0532 0130 00\n70001;Musterbau GmbH;\n"
    response = client.post("/api/v1/masterdata/suppliers/import", content=body.encode("utf-8"),
                           headers={**ADMIN, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in ("created", "updated", "unchanged", "errors")} == \
        {"created": 1, "updated": 1, "unchanged": 0, "errors": []}
    assert supplier(db, "80001").iban == "DE89370400440532013000" and supplier(db, "70001").iban is None

    files = {"file": ("konten.csv", "code,name\n5999,Sonstiges\n".encode("utf-8"), "text/csv")}
    response = client.post("/api/v1/masterdata/accounts/import", files=files, headers=ADMIN)
    assert response.status_code == 200 and response.json()["created"] == 1


def test_import_errors_are_422_with_lines_and_nothing_is_written(client, db):
    body = "creditor_number;name;iban\n80001;Neu GmbH;DE89370400440532013001\n80002;;\n"
    response = client.post("/api/v1/masterdata/suppliers/import", content=body, headers=ADMIN)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["line"], e["column"]) for e in errors] == [(2, "iban"), (3, "name")]
    assert errors[0]["value"] == "DE89370400440532013001" and "Prüfziffer" in errors[0]["message"]
    assert "nichts gespeichert" in response.json()["error"]
    assert supplier(db, "80001") is None


def test_changes_need_an_admin(client):
    body = "code;name\n5999;Sonstiges\n"
    assert client.post("/api/v1/masterdata/accounts/import", content=body, headers=AUTH).status_code == 401
    response = client.post("/api/v1/masterdata/accounts/import", content=body, headers=APPROVER)
    assert response.status_code == 403 and "admin" in response.json()["error"]
    assert client.post("/api/v1/masterdata/accounts", json={"code": "1", "name": "x"},
                       headers=APPROVER).status_code == 403
    assert client.put("/api/v1/masterdata/accounts/5431", json={"name": "x"}, headers=APPROVER).status_code == 403
    inactive = {**AUTH, "X-Einvoice-User": "g.alt"}
    assert client.post("/api/v1/masterdata/accounts/import", content=body, headers=inactive).status_code == 403
    assert client.get("/api/v1/masterdata/accounts").status_code == 401  # reads need the token
    assert client.get("/api/v1/masterdata/accounts", headers=AUTH).status_code == 200


def test_export_csv_and_list_pages(client):
    response = client.get("/api/v1/masterdata/orders.csv?decimal_comma=true", headers=AUTH)
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text.splitlines()[0] == "number;supplier;unit;cost_centre;account;amount;ordered_on;open"
    assert "BEST-2026-0815;70001;66;6610;5221;1200,00;2026-09-15;ja" in response.text
    again = client.post("/api/v1/masterdata/orders/import", content=response.content, headers=ADMIN)
    assert again.json()["unchanged"] == 4

    page = client.get("/api/v1/masterdata/users?page=2&per_page=5", headers=AUTH).json()
    assert page["total"] == 17 and page["pages"] == 4 and len(page["items"]) == 5
    assert [u["username"] for u in page["items"]][0] == "g.alt" and page["next"] and page["prev"]
    first = client.get("/api/v1/masterdata/users?per_page=2", headers=AUTH).json()["items"][1]
    assert first == {"username": "b.krause", "display_name": "Bernd Krause (Leitung Tiefbau)",
                     "email": "b.krause@musterstadt.example", "roles": ["approver"], "units": ["66"],
                     "approval_limit": "100000.00", "active": True}
    kinds = client.get("/api/v1/masterdata", headers=AUTH).json()["kinds"]
    assert [k["kind"] for k in kinds][:3] == ["units", "accounts", "cost_centres"]


def test_create_update_and_read_one_row(client, db):
    created = client.post("/api/v1/masterdata/suppliers", headers=ADMIN, json={
        "creditor_number": "80010", "name": "Baustoffe Rhein GmbH", "vat_id": "de 123456788",
        "default_cost_centre": "6610"})
    assert created.status_code == 201, created.text
    assert created.json()["vat_id"] == "DE123456788" and created.json()["active"] is True
    assert client.post("/api/v1/masterdata/suppliers", headers=ADMIN,
                       json={"creditor_number": "80010", "name": "x"}).status_code == 409
    bad = client.post("/api/v1/masterdata/suppliers", headers=ADMIN,
                      json={"creditor_number": "80011", "name": "x", "iban": "DE00123", "default_cost_centre": "1"})
    assert bad.status_code == 422 and [e["column"] for e in bad.json()["errors"]] == ["iban", "default_cost_centre"]
    assert client.post("/api/v1/masterdata/suppliers", headers=ADMIN, json={"name": "ohne Nummer"}).status_code == 422

    changed = client.put("/api/v1/masterdata/suppliers/80010", headers=ADMIN, json={"active": False})
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert supplier(db, "80010").active is False and supplier(db, "80010").name == "Baustoffe Rhein GmbH"
    key_change = client.put("/api/v1/masterdata/suppliers/80010", headers=ADMIN, json={"creditor_number": "9"})
    assert key_change.status_code == 422
    assert client.put("/api/v1/masterdata/suppliers/99999", headers=ADMIN, json={"name": "x"}).status_code == 404

    limit = client.put("/api/v1/masterdata/users/m.mueller", headers=ADMIN, json={"approval_limit": "7500.5"})
    assert limit.status_code == 200 and limit.json()["approval_limit"] == "7500.50"
    with db.read() as session:
        assert session.scalars(sa.select(User).filter_by(username="m.mueller")).one().approval_limit == \
            Decimal("7500.50")
    substitution = client.get("/api/v1/masterdata/substitutions/b.krause|e.schneider|66|2026-11-02", headers=AUTH)
    assert substitution.status_code == 200 and substitution.json()["ends_on"] == "2026-11-13"
    leitweg = client.get("/api/v1/masterdata/leitweg_ids/05315-friedhof-38", headers=AUTH)
    assert leitweg.status_code == 200 and leitweg.json()["cost_centre"] == "6720"
    assert client.get("/api/v1/masterdata/units/99", headers=AUTH).status_code == 404


def test_cli_imports_the_example_folder_then_exports(db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db_url)
    assert main(["masterdata", "import", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "suppliers.csv: 7 neu, 0 geändert, 0 unverändert" in out
    assert main(["masterdata", "export", str(tmp_path / "out"), "--decimal-comma"]) == 0
    assert "1200,00" in (tmp_path / "out" / "orders.csv").read_text(encoding="utf-8-sig")
    assert main(["masterdata", "import", str(tmp_path / "out")]) == 0
    assert "users.csv: 0 neu, 0 geändert, 17 unverändert" in capsys.readouterr().out

    bad = tmp_path / "lieferanten.csv"
    bad.write_text("creditor_number;name;iban\n70001;Musterbau GmbH;DE91440501990004711816\n", encoding="utf-8")
    assert main(["masterdata", "import", str(bad)]) == 2  # kind not in the file name
    assert main(["masterdata", "import", str(bad), "--kind", "suppliers"]) == 1
    err = capsys.readouterr().err
    assert "Zeile 2, Spalte iban: IBAN-Prüfziffer falsch" in err and "nichts gespeichert" in err


def test_cli_asks_for_db_upgrade_first(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EINVOICE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert main(["masterdata", "import", str(EXAMPLE)]) == 1
    assert "einvoice db upgrade" in capsys.readouterr().err
