"""The staff UI in headless Debian Chromium (Playwright), on a real uvicorn server over the example
organisation "Stadt Musterstadt" with two invoices received and routed by the real chain:

- axe-core (npm package, injected into the pages with ``bypass_csp``) finds no serious or critical
  violation on the login page, the inbox and the invoice page; screenshots of them go to
  ``$EINVOICE_TEST_ARTIFACTS/ui`` (default ``test-artifacts/ui``);
- the clerk m.mueller logs in with the keyboard, opens the invoice from the inbox and certifies it
  (sachlich richtig); the Anordnung is not offered to him (four-eyes) and he logs out; e.schneider logs
  in and gives the Anordnung → "freigegeben"; she rejects the second invoice with a reason.

axe-core is installed with ``npm install axe-core`` into ``~/.cache/einvoice-test`` (or
``$EINVOICE_TEST_NODE_DIR``) when it is missing; without npm the test is skipped unless
``EINVOICE_TEST_REQUIRE_BROWSER`` is set.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from browser import chromium

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("EINVOICE_TEST_ARTIFACTS") or ROOT / "test-artifacts") / "ui"
NODE_DIR = Path(os.environ.get("EINVOICE_TEST_NODE_DIR") or Path.home() / ".cache" / "einvoice-test")
PASSWORD = "browser-test-passwort"


def _missing(reason: str):
    if os.environ.get("EINVOICE_TEST_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


def axe_script() -> Path:
    script = NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if script.exists():
        return script
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm is not installed (Debian: apt-get install -y npm); it installs axe-core for the "
                 "accessibility check of the web UI")
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "axe-core@4"],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not script.exists():
        _missing(f"npm install axe-core failed: {done.stderr[-500:]}")
    return script


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def town_server(tmp_path):
    """uvicorn on 127.0.0.1 over a SQLite file with the example master data and two routed invoices."""
    import uvicorn

    from einvoice.config import load_settings
    from einvoice.intake.receive import receive
    from einvoice.jobs import run_worker
    from einvoice.routing.masterdata import import_folder
    from einvoice.routing.matching.rules import seed_rules
    from einvoice.routing.workflow.definitions import load_file, replace_workflows
    from einvoice.samples.generate import ubl_invoice
    from einvoice.store import Database
    from einvoice.store.migrate import upgrade
    from einvoice.web.app import create_app
    from einvoice.web.ui.passwords import set_password

    url = f"sqlite:///{tmp_path / 'einvoice.db'}"
    upgrade(url)
    db = Database(settings=replace(load_settings(), data_dir=tmp_path / "data", database_url=url))
    with db.transaction() as session:
        import_folder(session, ROOT / "rules/routing/example-masterdata", actor="system:test")
        seed_rules(session, actor="system:test")
        replace_workflows(session, load_file())
    items = []
    for number in ("RE-UI-1", "RE-UI-2"):
        data = ubl_invoice(2, number=number, issue_date=date.today(), supplier="musterbau", order="BEST-2026-0815")
        items.append(receive(db, data, channel="upload", sender="rechnung@musterbau.example",
                             file_name=f"{number}.xml").id)
    while run_worker(once=True, db=db):
        pass
    for username in ("m.mueller", "e.schneider"):
        set_password(db, username, PASSWORD)
    server = uvicorn.Server(uvicorn.Config(create_app(db.settings, db), host="127.0.0.1", port=_free_port(),
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn-ui-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}", db, items
    finally:
        server.should_exit = True
        thread.join(60)
        db.dispose()


def _guard(page, base: str, leaving: list[str]) -> None:
    def route(route_):
        if route_.request.url.startswith(base):
            route_.continue_()
        else:
            leaving.append(route_.request.url)
            route_.abort()

    page.route("**/*", route)


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_label("Passwort").press("Enter")
    page.wait_for_url(f"{base}/aufgaben")


def _axe(page, script: Path, what: str) -> None:
    page.add_script_tag(path=str(script))
    result = page.evaluate("async () => await axe.run(document)")
    bad = [f"{v['id']} ({v['impact']}): {v['help']} – {[n['target'] for n in v['nodes']][:3]}"
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe-core on {what}: " + "; ".join(bad)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_accessibility_and_screenshots(town_server):
    script = axe_script()
    base, _db, items = town_server
    with chromium("the staff UI") as browser:
        context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900}, locale="de-DE")
        page = context.new_page()
        leaving: list[str] = []
        _guard(page, base, leaving)
        page.goto(f"{base}/login")
        _shot(page, "login")
        _axe(page, script, "the login page")
        _login(page, base, "m.mueller")
        assert page.locator(f'a[href="/rechnungen/{items[0]}"]').count() == 1
        _shot(page, "inbox")
        _axe(page, script, "the inbox")
        page.click(f'a[href="/rechnungen/{items[0]}"]')
        page.wait_for_url(f"{base}/rechnungen/{items[0]}")
        _shot(page, "invoice")
        _axe(page, script, "the invoice page")
        page.goto(f"{base}/rechnungen/{items[0]}/ansicht")
        _shot(page, "invoice-readable")
        assert leaving == []
        context.close()


def test_four_eyes_approval_and_rejection(town_server):
    base, db, items = town_server
    with chromium("the staff UI") as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
        page = context.new_page()
        leaving: list[str] = []
        problems: list[str] = []
        _guard(page, base, leaving)
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        _login(page, base, "m.mueller")
        page.click(f'a[href="/rechnungen/{items[0]}"]')
        page.get_by_role("button", name="Freigeben: sachlich richtig").click()
        page.wait_for_url(f"{base}/rechnungen/{items[0]}?erledigt=freigeben")
        assert page.get_by_role("status").filter(has_text="Freigegeben.").count() == 1
        # four-eyes: the Anordnung is not offered to the one who certified
        assert page.get_by_role("button", name="Freigeben: Anordnung").count() == 0
        assert "Vier-Augen-Prinzip" in page.inner_text("main")
        page.get_by_role("button", name="Abmelden").click()
        page.wait_for_url(f"{base}/login?abgemeldet=1")

        _login(page, base, "e.schneider")
        page.click(f'a[href="/rechnungen/{items[0]}"]')
        page.get_by_role("button", name="Freigeben: Anordnung").click()
        page.wait_for_url(f"{base}/rechnungen/{items[0]}?erledigt=freigeben")
        assert "Stand: freigegeben" in page.inner_text("main")
        _shot(page, "invoice-approved")
        page.goto(f"{base}/rechnungen/{items[0]}/ansicht")  # its own CSP (style by hash): no violation
        assert page.locator("h1").first.evaluate("e => getComputedStyle(e).fontSize") != "32px"

        page.goto(f"{base}/rechnungen/{items[1]}")
        page.get_by_label("Begründung für den Lieferanten (Pflichtangabe)").fill("Bestellung storniert, Leistung nicht erbracht")
        page.get_by_role("button", name="Ablehnen").click()
        page.wait_for_url(f"{base}/rechnungen/{items[1]}?erledigt=ablehnen")
        assert "Stand: abgelehnt" in page.inner_text("main")
        assert "Bestellung storniert" in page.inner_text("main")
        assert leaving == [] and problems == [], (leaving, problems)
        context.close()
    with db.read() as session:
        from einvoice.store.models import IntakeItem

        assert [session.get(IntakeItem, i).state for i in items] == ["approved", "rejected"]


def _approve_in_town(db, item_id: int) -> None:
    """Sachlich richtig by m.mueller, Anordnung by e.schneider (the workflow's own functions)."""
    from sqlalchemy import select

    from einvoice.routing.workflow import approve, latest_case, run_decision
    from einvoice.store.masterdata_models import User

    for username in ("m.mueller", "e.schneider"):
        with db.read() as session:
            user = session.scalars(select(User).where(User.username == username)).one()
            case = latest_case(session, item_id)
            case_id, version = case.id, case.version
        run_decision(db, approve, case_id, user=user, expected_version=version)


def test_office_pages_export_and_accessibility(town_server):
    """The Rechnungseingangsstelle's queue and the Kämmerei page: screenshots, axe, and one export batch
    made by clicking (Karin Weber of the Kämmerei)."""
    from einvoice.intake.receive import receive
    from einvoice.jobs import run_worker
    from einvoice.samples.generate import ubl_invoice
    from einvoice.web.ui.passwords import set_password

    script = axe_script()
    base, db, items = town_server
    _approve_in_town(db, items[1])
    # order says Tiefbau, Leitweg-ID says Friedhöfe: a conflict that waits for a person
    data = ubl_invoice(number="RE-UI-3", supplier="musterbau", leitweg_id="05315-FRIEDHOF-38")
    queued = receive(db, data, channel="upload", sender="rechnung@musterbau.example", file_name="RE-UI-3.xml").id
    while run_worker(once=True, db=db):
        pass
    for username in ("k.weber", "r.schmidt"):
        set_password(db, username, PASSWORD)
    with chromium("the staff UI") as browser:
        context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900}, locale="de-DE")
        page = context.new_page()
        leaving: list[str] = []
        _guard(page, base, leaving)
        _login(page, base, "r.schmidt")
        page.get_by_role("link", name="Rechnungseingang").click()
        page.wait_for_url(f"{base}/eingang")
        assert page.locator(f'form[action="/eingang/{queued}/zuordnen"]').count() == 1
        _shot(page, "eingang")
        _axe(page, script, "the intake queue")
        page.get_by_role("button", name="Abmelden").click()
        page.wait_for_url(f"{base}/login?abgemeldet=1")

        _login(page, base, "k.weber")
        page.get_by_role("link", name="Kämmerei").click()
        page.wait_for_url(f"{base}/kaemmerei")
        page.get_by_role("button", name="Buchungsstapel erstellen").click()
        page.wait_for_url(f"{base}/kaemmerei?erledigt=stapel&nr=1")
        assert page.get_by_role("status").filter(has_text="Buchungsstapel 1 erstellt.").count() == 1
        assert page.locator('a[href="/kaemmerei/buchungsstapel/1/datei"]').count() == 1
        assert page.locator('svg[role="img"]').count() == 1
        _shot(page, "kaemmerei")
        _axe(page, script, "the Kämmerei page")
        assert leaving == []
        context.close()
