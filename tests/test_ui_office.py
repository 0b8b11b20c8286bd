"""Web UI pages of the Rechnungseingangsstelle (``/eingang``) and the Kämmerei (``/kaemmerei``) on the
workflow `world`: role checks, assigning an unmatched invoice from the queue starts the approval (route
job run by the worker), rejecting it to the supplier (reason required, notice job queued, the reason in
the notice), the raw mail download, CSRF, booking batches created, downloaded, booked and cancelled
from the page, a payment run, and the Skonto chart (inline SVG with month labels)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from einvoice.handoff.mail import _workflow_rejection_context
from einvoice.intake.receive import receive
from einvoice.intake.states import transition
from einvoice.jobs.worker import run_worker
from einvoice.routing.rejection import RejectionError, reject_before_approval
from einvoice.store import Job
from einvoice.store.masterdata_models import CostCentre
from einvoice.store.models import AuditEvent, IntakeItem, ParsedInvoice
from einvoice.store.routing_models import InvoiceDeadline, MatchResult
from einvoice.web.app import create_app

pytest.register_assert_rewrite("workflow_fixtures", "ui_helpers", "payments_data")
from payments_data import ONE_TERM, approved, settings_for  # noqa: E402
from ui_helpers import client_for, csrf_of, login  # noqa: E402
from workflow_fixtures import model_for  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]

REASON = "Rechnung ist nicht an die Stadt Musterstadt gerichtet, sondern an den Landkreis."
EML = b"From: rechnung@musterbau.example\r\nTo: rechnung@musterstadt.example\r\nSubject: Rechnung\r\n\r\nAnbei.\r\n"


def unmatched(world, *, email: str | None = "buchhaltung@musterbau.example", mail: bool = False) -> int:
    """An item in ``parsed`` without assignment (the manual queue), with a matching explanation."""
    number = f"RE-Q-{world.clock.now().microsecond}-{id(object())}"[:24]
    item = receive(world.db, f"<Invoice>{number}</Invoice>".encode(), channel="smtp" if mail else "upload",
                   sender="test", file_name=f"{number}.xml", envelope=EML if mail else None,
                   extra={"mail": {"notify_to": "rechnung@musterbau.example"}} if mail else None)
    with world.db.transaction() as session:
        row = session.get(IntakeItem, item.id)
        for state in ("validated", "parsed"):
            transition(row, state, "system:test", "test setup")
        row.invoice_number, row.seller_name = number, "Musterbau GmbH"
        session.add(ParsedInvoice(item_id=item.id, model=model_for("3000", number=number, email=email)))
        session.add(MatchResult(item_id=item.id, actor="system:test", status="manual", confidence=0,
                                explanation="Keine Regel passt: weder Bestellnummer noch Kostenstelle erkannt"))
        session.execute(sa.delete(Job).where(Job.item_id == item.id))  # no process job: the setup did its work
    return item.id


@pytest.fixture
def office(world):
    with world.db.transaction() as session:
        centre = CostCentre(code="6610", name="Straßenunterhaltung", unit_id=world.units["66"])
        session.add(centre)
        session.flush()
        world.centre_id = centre.id
    return world


def jobs(db, kind: str, item_id: int) -> list[Job]:
    with db.read() as session:
        return list(session.scalars(sa.select(Job).where(Job.kind == kind, Job.item_id == item_id)))


def test_roles_other_than_office_get_403(office):
    client = client_for(office.db)
    login(client, "a")  # approver
    for path in ("/eingang", "/kaemmerei"):
        page = client.get(path)
        assert page.status_code == 403 and "Kein Zugriff" in page.text and "Traceback" not in page.text
    assert 'href="/eingang"' not in client.get("/aufgaben").text
    clerk = TestClient(client.app, follow_redirects=False)
    login(clerk, "k")  # kaemmerei: not the intake queue
    assert clerk.get("/eingang").status_code == 403
    assert clerk.get("/kaemmerei").status_code == 200
    anonymous = TestClient(client.app, follow_redirects=False)
    assert anonymous.get("/eingang").status_code == 303


def test_queue_lists_item_with_explanation_and_assign_starts_approval(office):
    item_id = unmatched(office)
    client = client_for(office.db)
    login(client, "r")
    page = client.get("/eingang")
    assert page.status_code == 200
    assert f'action="/eingang/{item_id}/zuordnen"' in page.text and "Keine Regel passt" in page.text
    assert "6610 Straßenunterhaltung" in page.text and 'href="/eingang"' in page.text
    # a missing reason: German message, nothing changes
    refused = client.post(f"/eingang/{item_id}/zuordnen", data={"csrf": csrf_of(page.text),
                                                                "kostenstelle": str(office.centre_id), "reason": ""})
    assert refused.status_code == 422 and "Begründung" in refused.text and office.state(item_id) == "parsed"
    done = client.post(f"/eingang/{item_id}/zuordnen", data={"csrf": csrf_of(page.text),
                                                             "kostenstelle": str(office.centre_id),
                                                             "reason": "Straßenbau laut Rücksprache mit FB 66"})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/eingang?erledigt=zugeordnet"
    assert "Freigabe wird gestartet" in client.get(done.headers["location"]).text
    assert office.state(item_id) == "matched" and len(jobs(office.db, "route", item_id)) == 1
    run_worker(once=True, db=office.db)
    assert office.state(item_id) == "in_approval"
    assert f'action="/eingang/{item_id}/zuordnen"' not in client.get("/eingang").text


def test_reject_from_queue_needs_reason_then_rejects_and_queues_notice(office):
    item_id = unmatched(office)
    client = client_for(office.db)
    login(client, "r")
    token = csrf_of(client.get("/eingang").text)
    missing = client.post(f"/eingang/{item_id}/ablehnen", data={"csrf": token, "reason": "  "})
    assert missing.status_code == 422 and "Bitte geben Sie eine Begründung" in missing.text
    assert office.state(item_id) == "parsed" and jobs(office.db, "notify", item_id) == []
    no_csrf = client.post(f"/eingang/{item_id}/ablehnen", data={"reason": REASON})
    assert no_csrf.status_code == 403 and office.state(item_id) == "parsed"
    done = client.post(f"/eingang/{item_id}/ablehnen", data={"csrf": token, "reason": REASON})
    assert done.status_code == 303, done.text
    assert office.state(item_id) == "rejected"
    notices = jobs(office.db, "notify", item_id)
    assert len(notices) == 1 and notices[0].payload["kind"] == "workflow-rejection"
    with office.db.read() as session:
        context = _workflow_rejection_context(session, office.db, session.get(IntakeItem, item_id))
    assert context.recipient == "buchhaltung@musterbau.example" and context.reason == REASON
    again = client.post(f"/eingang/{item_id}/ablehnen", data={"csrf": token, "reason": REASON})
    assert again.status_code == 409 and "nicht mehr offen" in again.text


def test_reject_before_approval_without_address_leaves_an_audit_note(office):
    item_id = unmatched(office, email=None)
    with office.db.transaction() as session:
        item = session.get(IntakeItem, item_id)
        with pytest.raises(RejectionError):
            reject_before_approval(session, item, actor="system:test", reason=REASON)  # only a person
        assert reject_before_approval(session, item, actor="user:r", reason=REASON) is None
    assert office.state(item_id) == "rejected" and jobs(office.db, "notify", item_id) == []
    with office.db.read() as session:
        events = [e.event for e in session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == item_id))]
    assert "notice-skipped" in events


def test_raw_mail_download_and_duplicates(office):
    mailed = unmatched(office, mail=True)
    client = client_for(office.db)
    login(client, "r")
    page = client.get("/eingang")
    assert f'href="/eingang/{mailed}/mail"' in page.text
    raw = client.get(f"/eingang/{mailed}/mail")
    assert raw.status_code == 200 and raw.content == EML
    assert raw.headers["content-type"].startswith("text/plain") and "attachment" in raw.headers["content-disposition"]
    plain = unmatched(office)
    assert client.get(f"/eingang/{plain}/mail").status_code == 404
    # a duplicate links to the first item
    dup = receive(office.db, b"<Invoice>dup</Invoice>", channel="upload", sender="test", file_name="dup.xml")
    with office.db.transaction() as session:
        row = session.get(IntakeItem, dup.id)
        transition(row, "duplicate", "system:test", "test setup")
        row.duplicate_of_id = plain
    assert f'href="/rechnungen/{plain}">Eingang {plain}</a>' in client.get("/eingang").text


def test_kaemmerei_export_batch_download_book_and_cancel(office):
    first = approved(office, "1190.00", bt20=ONE_TERM)
    client = client_for(office.db)
    login(client, "k")
    page = client.get("/kaemmerei")
    assert page.status_code == 200
    assert "<strong>1</strong> Rechnung," in page.text and "1.190,00 €" in page.text
    token = csrf_of(page.text)
    assert client.post("/kaemmerei/buchungsstapel", data={"format": "csv", "mapping": "generic"}).status_code == 403
    made = client.post("/kaemmerei/buchungsstapel", data={"csrf": token, "format": "csv", "mapping": "generic"})
    assert made.status_code == 303, made.text
    page = client.get(made.headers["location"])
    assert "Buchungsstapel 1 erstellt." in page.text and office.state(first) == "exported"
    assert 'href="/kaemmerei/buchungsstapel/1/datei"' in page.text
    file = client.get("/kaemmerei/buchungsstapel/1/datei")
    assert file.status_code == 200 and "attachment" in file.headers["content-disposition"]
    assert "RE-PAY-" in file.content.decode("utf-8-sig")
    # nothing left: no empty batch
    empty = client.post("/kaemmerei/buchungsstapel", data={"csrf": token, "format": "json", "mapping": "generic"})
    assert "kein Buchungsstapel erstellt" in client.get(empty.headers["location"]).text
    # cancel needs a reason; then the invoice is ready again
    no_reason = client.post("/kaemmerei/buchungsstapel/1/stornieren", data={"csrf": token, "reason": ""})
    assert no_reason.status_code == 422 and "Grund" in no_reason.text
    cancelled = client.post("/kaemmerei/buchungsstapel/1/stornieren",
                            data={"csrf": token, "reason": "Falsche Spaltenzuordnung gewählt"})
    assert cancelled.status_code == 303 and office.state(first) == "approved"
    again = client.post("/kaemmerei/buchungsstapel", data={"csrf": token, "format": "json", "mapping": "generic"})
    assert again.headers["location"] == "/kaemmerei?erledigt=stapel&nr=2"
    assert client.post("/kaemmerei/buchungsstapel/2/gebucht", data={"csrf": token}).status_code == 303
    booked = client.get("/kaemmerei")
    assert "gebucht" in booked.text and "/kaemmerei/buchungsstapel/2/gebucht" not in booked.text
    refused = client.post("/kaemmerei/buchungsstapel/2/stornieren", data={"csrf": token, "reason": "zu spät"})
    assert refused.status_code == 409 and "bereits gebucht" in refused.text


def test_kasse_views_but_cannot_act(office):
    approved(office, "1190.00")
    client = client_for(office.db, users=("kasse",))
    login(client, "kasse")
    page = client.get("/kaemmerei")
    assert page.status_code == 200 and 'action="/kaemmerei/buchungsstapel"' not in page.text
    assert 'href="/kaemmerei"' in page.text
    refused = client.post("/kaemmerei/buchungsstapel", data={"csrf": csrf_of(page.text), "format": "csv"})
    assert refused.status_code == 403


def test_payment_run_from_the_page(office):
    item_id = approved(office, "1190.00", bt20=ONE_TERM)
    client_for(office.db)  # passwords
    client = TestClient(create_app(settings=settings_for(office.db), db=office.db), follow_redirects=False)
    login(client, "k")
    token = csrf_of(client.get("/kaemmerei").text)
    bad = client.post("/kaemmerei/zahllaeufe", data={"csrf": token, "ausfuehrung": "morgen"})
    assert bad.status_code == 422 and "Ausführungsdatum" in bad.text
    when = (date.today() + timedelta(days=2)).isoformat()
    made = client.post("/kaemmerei/zahllaeufe", data={"csrf": token, "ausfuehrung": when})
    assert made.status_code == 303, made.text
    page = client.get(made.headers["location"])
    assert "Zahllauf 1 erstellt." in page.text and 'href="/kaemmerei/zahllaeufe/1/datei"' in page.text
    file = client.get("/kaemmerei/zahllaeufe/1/datei")
    assert file.status_code == 200 and b"pain.001.001.09" in file.content and b"RE-PAY-" in file.content
    nothing = client.post("/kaemmerei/zahllaeufe", data={"csrf": token, "ausfuehrung": when})
    assert nothing.status_code == 422 and "Keine der gewählten Rechnungen" in nothing.text
    assert item_id


def test_skonto_chart_and_deadlines(office):
    captured = approved(office, "1190.00", bt20=ONE_TERM)
    lost = approved(office, "2380.00", bt20=ONE_TERM)
    with office.db.transaction() as session:
        row = session.get(InvoiceDeadline, lost)
        row.skonto_status, row.outcome_amount = "lost", row.offered_amount
        row.pay_by = date.today() + timedelta(days=5)
    client = client_for(office.db)
    login(client, "adm")
    page = client.get("/kaemmerei")
    assert page.status_code == 200
    html = page.text
    assert '<svg class="chart" role="img"' in html and "<title id=\"skonto-chart-title\">" in html
    assert "<desc" in html and "Nov 2026" in html and "schraffur-verloren" in html
    assert "verloren 47,60 €" in html and "gezogen 23,80 €" in html  # 2 % of 2380 / 1190
    assert "style=" not in html and "<script" not in html
    assert "Skonto angeboten, gezogen, verloren und offen" in html
    assert f'href="/rechnungen/{captured}"' in html  # exportbereit list
    assert "Zahlungsfristen bis" in html
    # the deadlines table lists the approved invoice due within 30 days
    section = html.split('id="fristen"', 1)[1]
    assert f'href="/rechnungen/{lost}"' in section


def test_kaemmerei_archives_booked_invoices_and_verifies(office, tmp_path):
    from dataclasses import replace

    from einvoice.handoff.bookings import batches

    item_id = approved(office, "1190.00", bt20=ONE_TERM)
    client = client_for(office.db)
    login(client, "k")
    page = client.get("/kaemmerei")
    refused = client.post("/kaemmerei/archiv", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 503 and "EINVOICE_ARCHIVE_TARGET" in refused.text  # no target configured

    with office.db.transaction() as session:
        batch = batches.create_batch(session, office.db.blobs, actor="user:k")
        batches.mark_booked(session, batch.id, actor="user:k")
    office.db.settings = replace(office.db.settings, archive_target=f"hotfolder:{tmp_path}")
    client = client_for(office.db)
    login(client, "k")
    page = client.get("/kaemmerei")
    done = client.post("/kaemmerei/archiv", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "1 Rechnungen archiviert, 0 fehlgeschlagen" in done.text, done.text
    assert office.state(item_id) == "archived"
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]  # the package in the hot folder
    checked = client.post("/kaemmerei/archiv", data={"csrf": csrf_of(done.text), "pruefen": "1"})
    assert "1 Archivpakete geprüft, 0 mit Abweichungen." in checked.text
    approver = client_for(office.db)
    login(approver, "a")
    assert approver.post("/kaemmerei/archiv", data={"csrf": csrf_of(approver.get("/aufgaben").text)}).status_code == 403
