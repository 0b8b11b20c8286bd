"""The HTTP API (einvoice.web): submit (202 / 422 kept / 400 / 413 / 415), read with a bearer token
(401 / 503), pagination and filters, the supplier status page, security headers, no stack traces,
and that a body over the limit is not read to its end. Over SQLite and PostgreSQL (tests/pg.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import replace

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from einvoice.intake.receive import receive
from einvoice.jobs import run_worker
from einvoice.samples import generate as g
from einvoice.store import AuditEvent, IntakeItem, Job
from einvoice.web import create_app
from einvoice.web.auth import API_TOKEN_ENV, SECRET_KEY_ENV, StatusTokens

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GARBAGE = b"this is not an invoice at all \x00\x01\x02"


@pytest.fixture(autouse=True)
def _web_env(monkeypatch):
    monkeypatch.setenv(API_TOKEN_ENV, TOKEN)
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    monkeypatch.delenv("EINVOICE_BASE_URL", raising=False)


def make_client(db, engine, settings=None, **kwargs) -> TestClient:
    app = create_app(settings=settings, db=db)
    app.state.web.engine = engine  # the session's engine: its XSLTs are compiled already
    return TestClient(app, **kwargs)


@pytest.fixture
def client(db, engine):
    with make_client(db, engine) as client:
        yield client


def post_xml(client, data: bytes, **headers):
    return client.post("/api/v1/invoices", content=data,
                       headers={"Content-Type": "application/xml", **{k.replace("_", "-"): v for k, v in headers.items()}})


def item(db, item_id) -> IntakeItem:
    with db.read() as session:
        return session.get(IntakeItem, item_id)


def count(db, model=IntakeItem) -> int:
    with db.read() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def work(db) -> int:
    return run_worker(once=True, db=db)


# --- submit ----------------------------------------------------------------------------------------

def test_valid_invoice_is_accepted_with_202_and_parsed_by_the_worker(client, db):
    data = g.ubl_invoice(number="RE-2026-0500")
    response = post_xml(client, data, X_Filename="rechnung-0500.xml", X_Sender="buchhaltung@musterbau.de")
    assert response.status_code == 202, response.text
    body = response.json()
    item_id = body["id"]
    assert re.fullmatch(rf"http://testserver/status/{item_id}/[0-9a-f]{{32}}", body["status_url"])
    assert response.headers["location"] == body["status_url"]
    receipt = body["receipt"]
    assert receipt["id"] == item_id and receipt["state"] == "received" and receipt["channel"] == "api"
    assert receipt["sha256"] == hashlib.sha256(data).hexdigest() and receipt["size"] == len(data)
    assert receipt["file_name"] == "rechnung-0500.xml" and receipt["sender"] == "buchhaltung@musterbau.de"
    assert receipt["check"]["valid"] is True and receipt["check"]["outcome"] == "valid"

    # the response did not wait for the worker: the stored item is still received, with its job queued
    stored = item(db, item_id)
    assert stored.state == "received" and stored.channel == "api"
    detail = client.get(f"/api/v1/invoices/{item_id}", headers=AUTH).json()
    assert detail["state"] == "received" and detail["parsed"] is None and detail["validation"] is None

    assert work(db) == 2  # process + route
    detail = client.get(f"/api/v1/invoices/{item_id}", headers=AUTH).json()
    assert detail["state"] == "parsed"
    assert detail["parsed"]["model"]["invoice"]["number"] == "RE-2026-0500"
    assert detail["parsed"]["model"]["invoice"]["seller"]
    assert detail["invoice_number"] == "RE-2026-0500" and detail["issue_date"] == "2026-11-02"
    assert detail["validation"]["valid"] is True and detail["validation"]["report"]["findings"] == []
    assert detail["hashes"] == {"sha256": hashlib.sha256(data).hexdigest(), "envelope_sha256": None}
    assert detail["sender"] == "buchhaltung@musterbau.de" and detail["received_at"]
    assert [(e["from_state"], e["to_state"]) for e in detail["audit"] if e["event"] == "transition"] == [
        (None, "received"), ("received", "validated"), ("validated", "parsed")]
    # no master data here: matching ran and left the item in the manual queue (state parsed)
    assert "matching" in [e["event"] for e in detail["audit"]]
    assert detail["duplicate_of"] is None and detail["duplicates"] == []
    assert db.blobs.get(detail["sha256"]) == data


def test_multipart_field_file_with_sender(client, db):
    data = g.cii_invoice(number="CII-0001")
    response = client.post("/api/v1/invoices", files={"file": ("C:\\Rechnungen\\cii.xml", data, "application/xml")},
                           data={"sender": "rechnung@schreibwerk.de"})
    assert response.status_code == 202, response.text
    stored = item(db, response.json()["id"])
    assert stored.file_name == "cii.xml" and stored.sender == "rechnung@schreibwerk.de"
    # one file per request; no file at all is a 400
    two = client.post("/api/v1/invoices", files=[("file", ("a.xml", data, "application/xml")),
                                                 ("file", ("b.xml", data, "application/xml"))])
    assert two.status_code == 400
    none = client.post("/api/v1/invoices", files={"other": ("a.xml", data, "application/xml")})
    assert none.status_code == 400 and "file" in none.json()["error"]
    assert count(db) == 1


def test_pdf_is_accepted(client, db):
    pdf = g.facturx_pdf()
    response = client.post("/api/v1/invoices", content=pdf,
                           headers={"Content-Type": "application/pdf", "X-Filename": "rechnung.pdf"})
    assert response.status_code == 202, response.text
    assert response.json()["receipt"]["check"]["valid"] is True
    assert work(db) == 2  # process + route
    assert item(db, response.json()["id"]).state == "parsed"


@pytest.mark.parametrize("data, rule", [
    (GARBAGE, "EINVOICE-PARSE"),
    (b"%PDF-1.7\nnot really a pdf", "EINVOICE-PDF"),
    (g._not_an_invoice_xml(), "EINVOICE-NOT-INVOICE"),
    (g._xxe_xml(), "EINVOICE-XML-UNSAFE"),
])
def test_not_an_invoice_is_kept_answered_422_and_rejected(client, db, data, rule):
    response = post_xml(client, data, X_Filename="kaputt.xml")
    assert response.status_code == 422, response.text
    body = response.json()
    assert rule in [f["rule_id"] for f in body["findings"]]
    assert all(f["text_de"] for f in body["findings"])
    assert body["id"] and body["status_url"] and body["receipt"]["check"]["outcome"] == "not_invoice"
    stored = item(db, body["id"])
    assert stored.state == "received"  # kept, like every other input

    assert work(db) == 1
    stored = item(db, body["id"])
    assert stored.state == "rejected"
    assert db.blobs.get(stored.sha256) == data  # the raw bytes, exactly as sent
    detail = client.get(f"/api/v1/invoices/{body['id']}", headers=AUTH).json()
    assert rule in [f["rule_id"] for f in detail["findings"]]
    assert detail["validation"]["valid"] is False


def test_empty_body_is_400_and_not_kept(client, db, caplog):
    with caplog.at_level(logging.WARNING, logger="einvoice.web"):
        response = post_xml(client, b"", X_Filename="leer.xml")
    assert response.status_code == 400
    assert [f["rule_id"] for f in response.json()["findings"]] == ["EINVOICE-EMPTY"]
    assert count(db) == 0
    assert "leer.xml" in caplog.text and "empty" in caplog.text


def test_unsupported_content_type_is_415(client, db):
    response = client.post("/api/v1/invoices", content=b"a=b", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and "application/xml" in " ".join(response.json()["supported"])
    assert count(db) == 0


@pytest.fixture
def small(db):
    """Settings with tiny limits: XML 4 KB, PDF 64 KB."""
    return replace(db.settings, max_xml_bytes=4096, max_pdf_bytes=64 * 1024)


def test_too_large_is_413_logged_and_not_kept(db, engine, small, caplog):
    with make_client(db, engine, small) as client, caplog.at_level(logging.WARNING, logger="einvoice.web"):
        big_xml = b"<Invoice>" + b"x" * 5000 + b"</Invoice>"
        response = post_xml(client, big_xml, X_Filename="gross.xml", X_Sender="a@b.de")
        assert response.status_code == 413
        body = response.json()
        assert body["findings"][0]["rule_id"] == "EINVOICE-TOO-LARGE" and body["limit_bytes"] == 4096
        assert "gross.xml" in caplog.text and "a@b.de" in caplog.text and "limit=4096" in caplog.text

        # the limit follows the kind: a PDF may be larger than an XML
        pdf_like = b"%PDF-1.4\n" + b"0" * 10_000
        assert client.post("/api/v1/invoices", content=pdf_like,
                           headers={"Content-Type": "application/pdf"}).status_code == 422
        assert client.post("/api/v1/invoices", content=b"%PDF-1.4\n" + b"0" * 70_000,
                           headers={"Content-Type": "application/pdf"}).status_code == 413

        # multipart: the file over its limit
        response = client.post("/api/v1/invoices", files={"file": ("gross.xml", big_xml, "application/xml")})
        assert response.status_code == 413

        # a declared length over the whole-request limit is refused before reading anything
        caplog.clear()
        response = client.post("/api/v1/invoices", content=b"x" * (64 * 1024 + 1024 * 1024 + 10),
                               headers={"Content-Type": "application/xml"})
        assert response.status_code == 413 and response.json()["findings"][0]["rule_id"] == "EINVOICE-TOO-LARGE"
        assert "declared length" in caplog.text and "0 bytes read" in caplog.text
    assert count(db) == 1  # only the small fake PDF (422: kept)


def _asgi_post(app, path: str, headers: list[tuple[bytes, bytes]], chunks: int, chunk: bytes, first: bytes = b""):
    """POST a chunked body (``first``, then ``chunk`` again and again) through the ASGI app, without a
    Content-Length; returns (status, number of chunks the app read)."""
    read = 0
    sent: list[dict] = []

    async def receive():
        nonlocal read
        read += 1
        return {"type": "http.request", "body": first if read == 1 and first else chunk, "more_body": read < chunks}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], read


def test_reading_stops_early_at_the_limit(db, engine, small, caplog):
    app = create_app(settings=small, db=db)
    app.state.web.engine = engine
    chunk = b"<a>" + b"x" * 1021  # 1 KB
    with caplog.at_level(logging.WARNING, logger="einvoice.web"):
        # raw body without Content-Length (chunked): 10 MB offered, reading stops just past 4 KB
        status, read = _asgi_post(app, "/api/v1/invoices", [(b"content-type", b"application/xml"),
                                                            (b"x-filename", b"endlos.xml")], 10_000, chunk)
        assert status == 413 and read <= 6
        assert "endlos.xml" in caplog.text and "bytes_read_before_stopping" in caplog.text
        # multipart upload page: the whole-request limit (2 x 64 KB + 1 MB) stops the parser
        head = (b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="a.xml"\r\n'
                b"Content-Type: application/xml\r\n\r\n")
        status, read = _asgi_post(app, "/upload", [(b"content-type", b"multipart/form-data; boundary=XyZ")],
                                  10_000, chunk, first=head)
        assert status == 413 and read <= (2 * 64 * 1024 + 1024 * 1024) // 1024 + 2
    assert count(db) == 0


# --- read API --------------------------------------------------------------------------------------

def test_read_endpoints_need_the_token(client, db, monkeypatch):
    item_id = post_xml(client, g.ubl_invoice()).json()["id"]
    for path in ("/api/v1/invoices", f"/api/v1/invoices/{item_id}"):
        response = client.get(path)
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
        assert client.get(path, headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
        assert client.get(path, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
        assert client.get(path, headers=AUTH).status_code == 200
    monkeypatch.delenv(API_TOKEN_ENV)
    for path in ("/api/v1/invoices", f"/api/v1/invoices/{item_id}"):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 503 and "API token not configured" in response.json()["error"]
    monkeypatch.setenv(API_TOKEN_ENV, "   ")
    assert client.get("/api/v1/invoices", headers={"Authorization": "Bearer    "}).status_code == 503
    # submitting stays open
    assert post_xml(client, g.ubl_invoice(number="RE-2")).status_code == 202


def test_detail_404_and_bad_id(client):
    assert client.get("/api/v1/invoices/999999", headers=AUTH).status_code == 404
    assert client.get("/api/v1/invoices/abc", headers=AUTH).status_code == 422
    assert client.get("/api/v1/invoices/abc").status_code == 401  # the token is checked first


def test_list_pagination_and_filters(client, db):
    for number in range(3):
        receive(db, g.ubl_invoice(number=f"API-{number}"), channel="api", sender="Buchhaltung@Musterbau.de",
                file_name=f"api-{number}.xml")
    for number in range(2):
        receive(db, g.ubl_invoice(number=f"UP-{number}"), channel="upload", sender="b@schreibwerk.de",
                file_name=f"up-{number}.xml")
    receive(db, GARBAGE, channel="imap", sender=None, file_name="kaputt.bin")
    assert work(db) == 11  # 6 process + 5 route (the parsed ones)

    def listing(**params):
        response = client.get("/api/v1/invoices", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        return response.json()

    everything = listing()
    assert everything["total"] == 6 and everything["pages"] == 1 and len(everything["items"]) == 6
    ids = [row["id"] for row in everything["items"]]
    assert ids == sorted(ids, reverse=True)  # newest first

    first = listing(per_page=4)
    assert first["total"] == 6 and first["pages"] == 2 and len(first["items"]) == 4
    assert first["prev"] is None and "page=2" in first["next"] and "per_page=4" in first["next"]
    second = client.get(first["next"], headers=AUTH).json()
    assert second["page"] == 2 and len(second["items"]) == 2 and second["next"] is None and second["prev"]
    assert [row["id"] for row in first["items"] + second["items"]] == ids
    assert listing(page=3, per_page=4)["items"] == []

    assert {row["file_name"] for row in listing(channel="upload")["items"]} == {"up-0.xml", "up-1.xml"}
    rejected = listing(state="rejected")
    assert rejected["total"] == 1 and rejected["items"][0]["file_name"] == "kaputt.bin"
    assert listing(state="parsed")["total"] == 5
    assert listing(sender="buchhaltung@musterbau.de")["total"] == 3  # case-insensitive
    assert listing(sender="buchhaltung@musterbau.de", channel="upload")["total"] == 0
    assert listing(channel="api", state="parsed", per_page=2)["pages"] == 2
    row = listing(channel="imap")["items"][0]
    assert row["state"] == "rejected" and row["valid"] is False and row["url"].endswith(f"/api/v1/invoices/{row['id']}")

    for bad in ({"state": "nonsense"}, {"channel": "fax"}, {"per_page": 0}, {"per_page": 201}, {"page": 0}):
        assert client.get("/api/v1/invoices", params=bad, headers=AUTH).status_code == 422, bad


def test_duplicate_link(client, db):
    data = g.ubl_invoice(number="DUP-1")
    first = post_xml(client, data).json()["id"]
    second = post_xml(client, data).json()["id"]
    assert work(db) == 3  # 2 process + 1 route (the duplicate is not routed)
    detail = client.get(f"/api/v1/invoices/{second}", headers=AUTH).json()
    assert detail["state"] == "duplicate"
    assert detail["duplicate_of"]["id"] == first and detail["duplicate_of"]["url"].endswith(f"/invoices/{first}")
    original = client.get(f"/api/v1/invoices/{first}", headers=AUTH).json()
    assert [d["id"] for d in original["duplicates"]] == [second]


# --- status page -----------------------------------------------------------------------------------

def test_status_page_shows_the_right_german_state(client, db):
    good = post_xml(client, g.ubl_invoice(number="ST-1"), X_Filename="geheim-dateiname.xml",
                    X_Sender="geheim@absender.de").json()
    bad = post_xml(client, GARBAGE).json()
    review = post_xml(client, g.ubl_invoice(number="ST-3", defect="no-leitweg-id")).json()
    wrong_sum = post_xml(client, g.ubl_invoice(number="ST-4", defect="amount-due")).json()

    page = client.get(good["status_url"])
    assert page.status_code == 200 and "Eingegangen" in page.text and 'aria-current="step"' in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"

    assert work(db) == 5  # 4 process + 1 route
    page = client.get(good["status_url"]).text
    assert "Angenommen" in page and "Abgelehnt" not in page
    for secret in ("geheim-dateiname", "geheim@absender.de", "ST-1", "Musterbau"):
        assert secret not in page, secret  # only the state is shown

    page = client.get(bad["status_url"]).text
    assert "Abgelehnt" in page and "keine lesbare XML-Datei" in page and "Gründe" in page

    page = client.get(review["status_url"]).text
    assert "Wird geprüft" in page and "Abgelehnt" not in page
    assert "BR-DE-15" in page and "muss übermittelt werden" in page

    page = client.get(wrong_sum["status_url"]).text
    assert "Abgelehnt" in page and "rechnerisch nicht zusammen" in page and "BR-CO-16" in page

    as_json = client.get(bad["status_url"], headers={"Accept": "application/json"}).json()
    assert as_json["status"] == "rejected" and as_json["label"] == "Abgelehnt" and as_json["reasons"]
    assert set(as_json) == {"id", "status", "label", "text", "reasons"}

    # wrong token, another item's token, unknown id, junk: the same 404
    token = good["status_url"].rsplit("/", 1)[1]
    other = bad["status_url"].rsplit("/", 1)[1]
    for path in (f"/status/{good['id']}/{'0' * 32}", f"/status/{good['id']}/{other}",
                 f"/status/{good['id']}/{token[:-1]}", f"/status/999999/{token}", f"/status/x/{token}",
                 f"/status/{good['id']}/{token}..%2F"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Nicht gefunden" in response.text
    assert client.get(f"/status/{good['id']}/{'0' * 32}", headers={"Accept": "application/json"}).json() == {
        "error": "not found"}


def test_status_tokens_key(db, monkeypatch, tmp_path):
    tokens = StatusTokens(tmp_path / "data")
    first = tokens.token("abc")
    assert (tmp_path / "data" / "web-secret-key").stat().st_mode & 0o777 == 0o600
    assert StatusTokens(tmp_path / "data").token("abc") == first  # kept: links survive a restart
    assert tokens.token("abd") != first and len(first) == 32
    monkeypatch.setenv(SECRET_KEY_ENV, "a shared secret for all servers")
    shared = StatusTokens(tmp_path / "other")
    assert shared.token("abc") != first and not (tmp_path / "other").exists()
    assert shared.check("abc", shared.token("abc")) and not shared.check("abc", first)


def test_receipt_mail_links_open_the_status_page(client, db, monkeypatch):
    from einvoice.intake.status_token import status_url

    item_id = post_xml(client, g.ubl_invoice(number="MAIL-1")).json()["id"]
    stored = item(db, item_id)
    monkeypatch.setenv("EINVOICE_BASE_URL", "https://rechnung.example.de/")
    link = status_url(stored.id, stored.uid, data_dir=db.settings.data_dir)
    assert link.startswith("https://rechnung.example.de/status/")
    page = client.get(link.removeprefix("https://rechnung.example.de"))
    assert page.status_code == 200 and "Eingegangen" in page.text
    # and the API's links use the configured address too
    assert post_xml(client, g.ubl_invoice(number="MAIL-2")).json()["status_url"].startswith(
        "https://rechnung.example.de/status/")


# --- security --------------------------------------------------------------------------------------

def test_file_names_are_only_metadata(client, db):
    response = post_xml(client, g.ubl_invoice(number="TR-1"), X_Filename="../../../etc/passwd")
    stored = item(db, response.json()["id"])
    assert stored.file_name == "passwd" and stored.extra["original_file_name"] == "../../../etc/passwd"
    response = post_xml(client, g.ubl_invoice(number="TR-2"), X_Filename="%2E%2E%2Fsecret%0A.xml")
    assert item(db, response.json()["id"]).file_name == "secret.xml"
    response = post_xml(client, g.ubl_invoice(number="TR-3"), X_Filename="Rechnung%20M%C3%A4rz.xml")
    assert item(db, response.json()["id"]).file_name == "Rechnung März.xml"
    response = post_xml(client, g.ubl_invoice(number="TR-4"), X_Filename="..")
    assert item(db, response.json()["id"]).file_name is None
    data_dir = db.settings.data_dir
    assert not [p for p in data_dir.rglob("*") if p.name in ("passwd", "secret.xml")]


def test_security_headers_everywhere(client, db):
    item_id = post_xml(client, g.ubl_invoice()).json()["id"]
    for method, path, kwargs in [("GET", "/", {}), ("GET", "/upload", {}), ("GET", "/healthz", {}),
                                 ("GET", "/api/v1/invoices", {"headers": AUTH}),
                                 ("GET", f"/api/v1/invoices/{item_id}", {"headers": AUTH}),
                                 ("GET", "/api/v1/invoices", {}), ("GET", "/nowhere", {}),
                                 ("POST", "/api/v1/invoices", {"content": b""}), ("DELETE", "/upload", {})]:
        response = client.request(method, path, **kwargs)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert "default-src 'none'" in response.headers["content-security-policy"], path
        assert response.headers["x-frame-options"] == "DENY"
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_no_stack_trace_reaches_the_client(db, engine, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret-internal-detail at /srv/einvoice")

    monkeypatch.setattr("einvoice.web.context.receive", broken)
    with make_client(db, engine, raise_server_exceptions=False) as client, \
            caplog.at_level(logging.ERROR, logger="einvoice.web"):
        response = post_xml(client, g.ubl_invoice())
        assert response.status_code == 500
        assert "secret-internal-detail" not in response.text and "Traceback" not in response.text
        assert response.json()["error"] == "internal error" and response.json()["reference"]
        assert response.headers["x-content-type-options"] == "nosniff"
        page = client.post("/upload", files={"files": ("a.xml", g.ubl_invoice(), "application/xml")})
        assert page.status_code == 500 and "Technischer Fehler" in page.text
        assert "secret-internal-detail" not in page.text and "Traceback" not in page.text
    assert "secret-internal-detail" in caplog.text  # the log has it, with the reference
    assert response.json()["reference"] in caplog.text


def test_get_changes_nothing(client, db):
    ids = [post_xml(client, g.ubl_invoice(number=f"G-{n}")).json() for n in range(2)]

    def snapshot():
        with db.read() as session:
            return (session.execute(sa.select(IntakeItem.id, IntakeItem.state, IntakeItem.version)).all(),
                    count(db, AuditEvent), session.execute(sa.select(Job.id, Job.state, Job.attempts)).all())

    before = snapshot()
    for path in ("/", "/upload", "/healthz", "/api/v1/invoices", f"/api/v1/invoices/{ids[0]['id']}",
                 ids[0]["status_url"], ids[1]["status_url"], "/upload?files=x&email=a@b.de",
                 "/api/v1/invoices?state=parsed"):
        assert client.get(path, headers=AUTH).status_code == 200, path
        assert client.head(path, headers=AUTH).status_code in (200, 405), path
    assert snapshot() == before
    assert client.get("/upload").status_code == 200 and client.put("/upload").status_code == 405


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "ok"}

