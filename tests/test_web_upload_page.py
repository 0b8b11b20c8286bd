"""The supplier upload page (einvoice.web): the form, the receipt with the immediate check, refusals,
autoescaping; over SQLite and PostgreSQL (tests/pg.py). Then once in real headless Chromium against a
real uvicorn server with an in-process worker: upload through the page, see the receipt, follow the
status link until the invoice is accepted.

The browser part needs Debian's ``chromium`` and the ``playwright`` Python package (test extra; its
own browser download is not used); it skips with a message when either is missing. Screenshots go
to ``/tmp/einvoice-web/`` (override with ``EINVOICE_SCREENSHOT_DIR``).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from browser import chromium
from einvoice.jobs import run_worker
from einvoice.samples import generate as g
from einvoice.store import IntakeItem
from einvoice.web import create_app
from einvoice.web.auth import API_TOKEN_ENV, SECRET_KEY_ENV
from einvoice.web.templates import css_hash

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL

SCREENSHOTS = Path(os.environ.get("EINVOICE_SCREENSHOT_DIR", "/tmp/einvoice-web"))
GARBAGE = b"Sehr geehrte Damen und Herren, anbei unsere Rechnung."


@pytest.fixture(autouse=True)
def _web_env(monkeypatch):
    monkeypatch.delenv(API_TOKEN_ENV, raising=False)
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    monkeypatch.delenv("EINVOICE_BASE_URL", raising=False)


def make_client(db, engine, settings=None) -> TestClient:
    app = create_app(settings=settings, db=db)
    app.state.web.engine = engine
    return TestClient(app)


@pytest.fixture
def client(db, engine):
    with make_client(db, engine) as client:
        yield client


def items(db) -> list[IntakeItem]:
    with db.read() as session:
        return list(session.scalars(sa.select(IntakeItem).order_by(IntakeItem.id)))


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_form_is_german_accessible_and_self_contained(client):
    for path in ("/", "/upload"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        page = response.text
        assert page.startswith("<!DOCTYPE html>") and '<html lang="de">' in page
        assert "<h1>E-Rechnung einreichen</h1>" in page
        assert re.search(r'<form method="post" action="/upload" enctype="multipart/form-data">', page)
        assert '<label for="files">' in page and re.search(r'<input type="file" id="files" name="files" multiple', page)
        assert 'aria-describedby="files-hint"' in page and 'id="files-hint"' in page
        assert '<label for="email">' in page and 'type="email" id="email" name="email" autocomplete="email"' in page
        assert '<button type="submit">' in page and 'href="#inhalt"' in page and '<main id="inhalt"' in page
        assert "<script" not in page and "<link" not in page and "<img" not in page and "<iframe" not in page
        assert not re.search(r"""(?:src|href|action)\s*=\s*["'](?:https?:)?//""", page)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert css_hash() in response.headers["content-security-policy"]
        assert "script-src" not in response.headers["content-security-policy"]  # default-src 'none': no script
        assert "XML bis 20,0 MB" in page and "PDF bis 50,0 MB" in page


def test_two_files_end_to_end(client, db):
    invoice = g.ubl_invoice(number="UP-2026-0001")
    response = client.post("/upload", data={"email": "rechnung@musterbau.de"},
                           files=[("files", ("rechnung-0001.xml", invoice, "application/xml")),
                                  ("files", ("anschreiben.xml", GARBAGE, "text/xml"))])
    assert response.status_code == 200, response.text
    page = response.text
    text = text_of(page)
    assert "Eingangsbestätigung" in text and "2 Dateien sind am" in text
    assert "rechnung-0001.xml" in text and "anschreiben.xml" in text
    assert "Sofortprüfung: Keine Fehler gefunden" in text
    assert "Sofortprüfung: Keine lesbare E-Rechnung" in text and "keine lesbare XML-Datei" in text
    assert "EINVOICE-PARSE" in text
    links = re.findall(r'<a href="(/status/\d+/[0-9a-f]{32})">', page)
    assert len(links) == 2

    # kept, not processed yet: the page did not wait for the worker
    stored = items(db)
    assert [(i.channel, i.sender, i.file_name, i.state) for i in stored] == [
        ("upload", "rechnung@musterbau.de", "rechnung-0001.xml", "received"),
        ("upload", "rechnung@musterbau.de", "anschreiben.xml", "received")]
    assert db.blobs.get(stored[1].sha256) == GARBAGE
    assert f">{stored[0].id}<" in page and stored[0].sha256 in page
    assert "Eingegangen" in client.get(links[0]).text

    assert run_worker(once=True, db=db) == 3  # 2 process + route of the parsed one
    accepted = text_of(client.get(links[0]).text)
    assert "Angenommen" in accepted and "UP-2026-0001" not in accepted
    rejected = text_of(client.get(links[1]).text)
    assert "Abgelehnt" in rejected and "keine lesbare XML-Datei" in rejected


def test_without_email_and_a_pdf(client, db):
    response = client.post("/upload", files={"files": ("rechnung.pdf", g.facturx_pdf(), "application/pdf")})
    assert response.status_code == 200 and "Keine Fehler gefunden" in response.text
    assert [(i.sender, i.file_name) for i in items(db)] == [(None, "rechnung.pdf")]


def test_form_errors_in_german(client, db):
    # nothing chosen: the browser sends an empty part without a file name
    response = client.post("/upload", data={"email": "a@b.de"}, files={"files": ("", b"", "application/octet-stream")})
    assert response.status_code == 400
    assert "Bitte wählen Sie mindestens eine Rechnungsdatei aus." in response.text
    assert 'role="alert"' in response.text and 'aria-invalid="true"' in response.text
    assert 'value="a@b.de"' in response.text  # what was typed stays

    response = client.post("/upload", data={"email": "kein-mail<at>"},
                           files={"files": ("r.xml", g.ubl_invoice(), "application/xml")})
    assert response.status_code == 400 and "gültige E-Mail-Adresse" in response.text
    assert 'value="kein-mail&lt;at&gt;"' in response.text
    assert items(db) == []

    too_many = [("files", (f"r{n}.xml", b"<x/>", "application/xml")) for n in range(21)]
    response = client.post("/upload", files=too_many)
    assert response.status_code == 400 and "höchstens 20 Dateien" in response.text
    assert items(db) == []


def test_names_and_texts_are_escaped(client, db):
    name = "<img src=x onerror=alert(1)>&.xml"
    response = client.post("/upload", data={"email": "x@y.de"}, files={"files": (name, GARBAGE, "application/xml")})
    assert response.status_code == 200
    assert "<img" not in response.text and "&lt;img src=x onerror=alert(1)&gt;&amp;.xml" in response.text
    assert items(db)[0].file_name == name  # kept as it came, as metadata


def test_too_large_and_empty_files_are_refused_on_the_receipt(db, engine, caplog):
    small = replace(db.settings, max_xml_bytes=4096, max_pdf_bytes=8192)
    big = b"<Invoice>" + b"x" * 6000 + b"</Invoice>"
    with make_client(db, engine, small) as client, caplog.at_level(logging.WARNING, logger="einvoice.web"):
        response = client.post("/upload", files=[("files", ("klein.xml", GARBAGE, "application/xml")),
                                                 ("files", ("gross.xml", big, "application/xml")),
                                                 ("files", ("leer.xml", b"", "application/xml"))])
        assert response.status_code == 200
        text = text_of(response.text)
        assert "Eine Datei ist am" in text and "2 Dateien konnten nicht angenommen werden" in text
        assert "Die Datei ist zu groß. Erlaubt sind bei XML-Dateien höchstens 4,0 KB." in text
        assert "Die Datei ist leer. Sie wurde nicht gespeichert." in text
        assert "gross.xml" in caplog.text and "leer.xml" in caplog.text
        assert [i.file_name for i in items(db)] == ["klein.xml"]

        # all refused: 400 with the receipt saying so
        response = client.post("/upload", files={"files": ("gross.xml", big, "application/xml")})
        assert response.status_code == 400 and "Keine der Dateien konnte angenommen werden" in response.text

        # the whole request over its limit: 413 page, nothing read
        response = client.post("/upload", content=b"x" * (2 * 8192 + 1024 * 1024 + 1),
                               headers={"Content-Type": "multipart/form-data; boundary=abc"})
        assert response.status_code == 413 and "Zu groß" in response.text and "nichts gespeichert" in response.text
    assert len(items(db)) == 1


# --- in the browser --------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(tmp_path, engine):
    """A real uvicorn server on 127.0.0.1 with an in-process worker, on a SQLite file of its own."""
    import uvicorn

    from einvoice.config import load_settings
    from einvoice.store import Database
    from einvoice.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'einvoice.db'}"
    upgrade(url)
    settings = replace(load_settings(), data_dir=tmp_path / "data", database_url=url, worker_poll_seconds=0.1)
    db = Database(settings=settings)
    app = create_app(settings, db, worker=True)
    app.state.web.engine = engine
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", db
    finally:
        server.should_exit = True
        thread.join(60)
        db.dispose()


@pytest.fixture
def browser():
    with chromium("the upload page") as launched:
        yield launched


def test_upload_in_headless_chromium(browser, live_server, tmp_path):
    base, db = live_server
    invoice = tmp_path / "Rechnung RE-2026-0815.xml"
    invoice.write_bytes(g.ubl_invoice(4, number="RE-2026-0815"))
    letter = tmp_path / "anschreiben.xml"
    letter.write_bytes(GARBAGE)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page = browser.new_page(viewport={"width": 1000, "height": 900}, locale="de-DE")
    elsewhere: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(base) else elsewhere.append(request.url))
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto(f"{base}/upload")
        assert page.get_attribute("html", "lang") == "de"
        assert page.title() == "E-Rechnung einreichen – E-Rechnungseingang"
        files = page.get_by_label("Rechnungsdateien (Pflichtangabe)")  # the label is tied to the input
        files.set_input_files([str(invoice), str(letter)])
        page.get_by_label("Ihre E-Mail-Adresse (freiwillig)").fill("rechnung@musterbau.de")
        page.screenshot(path=str(SCREENSHOTS / "upload-form.png"), full_page=True)
        page.get_by_role("button", name="Rechnungen hochladen").click()

        page.wait_for_selector("h1:has-text('Eingangsbestätigung')", timeout=30_000)
        body = page.inner_text("main")
        assert "2 Dateien sind am" in body and "Rechnung RE-2026-0815.xml" in body and "anschreiben.xml" in body
        assert "Sofortprüfung: Keine Fehler gefunden" in body and "Keine lesbare E-Rechnung" in body
        page.screenshot(path=str(SCREENSHOTS / "upload-receipt.png"), full_page=True)

        links = page.get_by_role("link", name=re.compile(r"^Status der Rechnung \d+ ansehen$"))
        assert links.count() == 2
        status_links = [base + link.get_attribute("href") for link in links.all()]
        links.first.click()
        page.wait_for_selector("h1:has-text('Status Ihrer Rechnung')")
        deadline = time.monotonic() + 60  # the in-process worker takes it from received to parsed
        while "Angenommen" not in page.inner_text(".status"):
            assert time.monotonic() < deadline, page.inner_text("main")
            time.sleep(0.3)
            page.reload()
        page.screenshot(path=str(SCREENSHOTS / "status-accepted.png"), full_page=True)

        page.goto(status_links[1])
        deadline = time.monotonic() + 60
        while "Abgelehnt" not in page.inner_text(".status"):
            assert time.monotonic() < deadline, page.inner_text("main")
            time.sleep(0.3)
            page.reload()
        assert "keine lesbare XML-Datei" in page.inner_text("main")
        page.screenshot(path=str(SCREENSHOTS / "status-rejected.png"), full_page=True)

    finally:
        page.close()
    assert elsewhere == [] and console == []
    with db.read() as session:
        states = dict(session.execute(sa.select(IntakeItem.file_name, IntakeItem.state)).all())
    assert states["Rechnung RE-2026-0815.xml"] == "parsed"
    assert states["anschreiben.xml"] == "rejected"
