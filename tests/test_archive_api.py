"""The archive API (roles, archive one / all, list, verify, per invoice) and ``einvoice archive``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import archive_data as data
from einvoice.cli import main
from einvoice.web.app import create_app

pytest_plugins = ["pg"]

TOKEN = "archive-api-token-0123456789"


@pytest.fixture
def town(db):
    return data.town(db)


def client(db, target: str | None):
    return TestClient(create_app(settings=replace(db.settings, archive_target=target), db=db))


def as_user(name: str) -> dict:
    return {"Authorization": f"Bearer {TOKEN}", "X-Einvoice-User": name}


def test_archive_api(town, tmp_path, monkeypatch):
    monkeypatch.setenv("EINVOICE_API_TOKEN", TOKEN)
    db = town
    first, original = data.rejected(db)
    second, _ = data.rejected(db, "zwei.xml")
    api = client(db, f"hotfolder:{tmp_path / 'dms'}")

    assert api.post("/api/v1/archive", json={}).status_code == 401  # no token, no user
    refused = api.post("/api/v1/archive", json={}, headers=as_user("m.mueller"))  # an approver
    assert refused.status_code == 403
    assert api.post("/api/v1/archive", json={"item_id": 999}, headers=as_user("k.weber")).status_code == 404

    one = api.post("/api/v1/archive", json={"item_id": first}, headers=as_user("k.weber"))
    assert one.status_code == 200, one.text
    package = one.json()["packages"][0]
    assert package["item_id"] == first and package["created_by"] == "user:k.weber"
    assert (Path(package["location"]) / "original" / "kaputt.xml").read_bytes() == original
    again = api.post("/api/v1/archive", json={"item_id": first}, headers=as_user("k.weber"))
    assert again.status_code == 409 and "bereits archiviert" in again.json()["error"]

    rest = api.post("/api/v1/archive", headers=as_user("k.weber")).json()  # no body: all that are due
    assert rest["archived"] == [second] and rest["failed"] == {}

    listed = api.get("/api/v1/archive", headers=as_user("m.mueller")).json()["packages"]
    assert [p["item_id"] for p in listed] == [second, first]
    assert api.get(f"/api/v1/archive?item_id={first}&status=failed", headers=as_user("m.mueller")).json() == \
        {"packages": []}
    of_item = api.get(f"/api/v1/invoices/{first}/archive", headers=as_user("m.mueller")).json()
    assert of_item["state"] == "archived" and of_item["packages"][0]["retention_until"] == "2036-12-31"
    assert api.get("/api/v1/invoices/999/archive", headers=as_user("m.mueller")).status_code == 404

    assert api.post("/api/v1/archive/verify", json={}, headers=as_user("m.mueller")).status_code == 403
    checked = api.post("/api/v1/archive/verify", json={}, headers=as_user("k.weber")).json()
    assert checked == {"checked": 2, "ok": True, "problems": {}}
    (Path(package["location"]) / "audit.json").write_text("{}")
    checked = api.post("/api/v1/archive/verify", json={"item_id": first}, headers=as_user("k.weber")).json()
    assert checked["ok"] is False and checked["problems"][str(package["id"])] == [
        "Prüfsumme stimmt nicht (Datei verändert): audit.json"]

    unset = client(db, None).post("/api/v1/archive", json={}, headers=as_user("k.weber"))
    assert unset.status_code == 503 and "EINVOICE_ARCHIVE_TARGET" in unset.json()["error"]
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/archive", "/api/v1/archive/verify", "/api/v1/invoices/{item_id}/archive"} <= set(paths)


def test_cli_archive_and_verify(town, tmp_path, monkeypatch, capsys):
    db = town
    item_id, original = data.rejected(db)
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(db.settings.data_dir))
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.delenv("EINVOICE_ARCHIVE_TARGET", raising=False)
    assert main(["archive"]) == 2 and "EINVOICE_ARCHIVE_TARGET" in capsys.readouterr().err

    monkeypatch.setenv("EINVOICE_ARCHIVE_TARGET", f"hotfolder+zip:{tmp_path / 'dms'}")
    assert main(["archive", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["archived"] == [item_id]
    (zipped,) = (tmp_path / "dms").iterdir()
    assert zipped.suffix == ".zip"
    assert main(["archive", "--item", str(item_id)]) == 1 and "bereits archiviert" in capsys.readouterr().err

    assert main(["archive", "--verify"]) == 0
    assert "1 Archivpakete geprüft, 0 mit Abweichungen" in capsys.readouterr().err
    zipped.write_bytes(zipped.read_bytes()[:-10])  # truncated: no longer a readable zip
    assert main(["archive", "--verify", "--json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert "nicht lesbar" in next(iter(problems.values()))[0]
