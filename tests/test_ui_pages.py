"""Web UI pages on the workflow `world`: the inbox, the invoice page and its actions (four-eyes, reasons,
stale versions), unit visibility (an approver of 66 gets 404 for an invoice of unit 20, like an unknown
number; the Rechnungseingangsstelle sees all), the original download, and the 500 page."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from einvoice.web.app import create_app

pytest.register_assert_rewrite("workflow_fixtures", "ui_helpers")
from ui_helpers import client_for, csrf_of, login, version_of  # noqa: E402
from workflow_fixtures import start  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]


def _ready(world, **kwargs) -> int:
    item_id = world.item(**kwargs)
    start(world, item_id)
    return item_id


def _post(client, item_id: int, action: str, reason: str = "", version: str | None = None):
    page = client.get(f"/rechnungen/{item_id}")
    data = {"csrf": csrf_of(page.text), "expected_version": version or version_of(page.text), "reason": reason}
    return client.post(f"/rechnungen/{item_id}/{action}", data=data)


def test_inbox_lists_the_task_with_link_amount_and_step(world):
    item_id = _ready(world, gross="3000")
    client = client_for(world.db)
    login(client, "a")
    page = client.get("/aufgaben")
    assert page.status_code == 200
    assert f'href="/rechnungen/{item_id}"' in page.text and "3.000,00 €" in page.text
    assert "sachlich richtig" in page.text and "Musterbau GmbH" in page.text
    filtered = client.get("/aufgaben", params={"suche": "gibt-es-nicht"})
    assert f'href="/rechnungen/{item_id}"' not in filtered.text and "0 von 1" in filtered.text
    by_amount = client.get("/aufgaben", params={"betrag_von": "2.500,00", "betrag_bis": "3500"})
    assert f'href="/rechnungen/{item_id}"' in by_amount.text


def test_substitute_sees_in_vertretung(world):
    item_id = _ready(world, gross="3000")
    for name in ("A", "B", "C", "D", "KASSE"):
        world.substitute(name, "S", starts=world.clock.now().date().replace(day=1),
                         ends=world.clock.now().date().replace(year=2100))
    client = client_for(world.db)
    login(client, "s")
    page = client.get("/aufgaben")
    assert f'href="/rechnungen/{item_id}"' in page.text and "in Vertretung für" in page.text


def test_approve_four_eyes_and_anordnung(world):
    item_id = _ready(world, gross="3000")
    clerk = client_for(world.db)
    login(clerk, "a")
    done = _post(clerk, item_id, "freigeben")
    assert done.status_code == 303, done.text
    page = clerk.get(done.headers["location"])
    assert "Freigegeben." in page.text and "Person A" in page.text
    # four-eyes: A may not give the Anordnung; the page says why and has no approve button
    assert "Vier-Augen-Prinzip" in page.text and f'/rechnungen/{item_id}/freigeben"' not in page.text
    refused = _post(clerk, item_id, "freigeben")
    assert refused.status_code == 403 and "Vier-Augen-Prinzip" in refused.text and "Traceback" not in refused.text
    boss = TestClient(clerk.app, follow_redirects=False)
    login(boss, "c")
    assert _post(boss, item_id, "freigeben").status_code == 303
    assert world.state(item_id) == "approved"
    assert "Stand: freigegeben" in boss.get(f"/rechnungen/{item_id}").text


def test_reject_needs_a_reason_and_then_rejects(world):
    item_id = _ready(world, gross="3000")
    client = client_for(world.db)
    login(client, "a")
    missing = _post(client, item_id, "ablehnen", reason="")
    assert missing.status_code == 422 and "Begründung" in missing.text
    assert _post(client, item_id, "ablehnen", reason="Leistung nicht erbracht").status_code == 303
    assert world.state(item_id) == "rejected"
    assert "Leistung nicht erbracht" in client.get(f"/rechnungen/{item_id}").text


def test_stale_version_shows_bitte_neu_laden(world):
    item_id = _ready(world, gross="3000")
    client = client_for(world.db)
    login(client, "a")
    page = client.get(f"/rechnungen/{item_id}")
    _post(client, item_id, "kommentieren", reason="Rückfrage beim Bauhof")
    other = TestClient(client.app, follow_redirects=False)
    login(other, "b")
    assert _post(other, item_id, "parken", reason="warten auf Lieferschein").status_code == 303
    stale = client.post(f"/rechnungen/{item_id}/freigeben",
                        data={"csrf": csrf_of(page.text), "expected_version": version_of(page.text)})
    assert stale.status_code == 409 and "bitte neu laden" in stale.text
    assert "Rückfrage beim Bauhof" in stale.text


def test_action_without_csrf_is_refused(world):
    item_id = _ready(world, gross="3000")
    client = client_for(world.db)
    login(client, "a")
    page = client.get(f"/rechnungen/{item_id}")
    answer = client.post(f"/rechnungen/{item_id}/freigeben", data={"expected_version": version_of(page.text)})
    assert answer.status_code == 403 and world.state(item_id) == "in_approval"


def test_invoice_of_another_unit_is_not_found(world):
    foreign = _ready(world, gross="3000", unit="20")
    client = client_for(world.db)
    login(client, "a")  # approver of 66
    for path in (f"/rechnungen/{foreign}", f"/rechnungen/{foreign}/original", f"/rechnungen/{foreign}/ansicht",
                 "/rechnungen/999999"):
        answer = client.get(path)
        assert answer.status_code == 404 and "Nicht gefunden" in answer.text, path
    page = client.get(f"/rechnungen/{foreign}")
    refused = client.post(f"/rechnungen/{foreign}/kommentieren", data={"csrf": csrf_of(page.text), "reason": "x"})
    assert refused.status_code == 404
    assert f"/rechnungen/{foreign}" not in client.get("/aufgaben").text
    central = TestClient(client.app, follow_redirects=False)
    login(central, "r")  # Rechnungseingangsstelle: sees every unit
    assert central.get(f"/rechnungen/{foreign}").status_code == 200
    member = TestClient(client.app, follow_redirects=False)
    login(member, "s")  # approver of unit 20
    assert member.get(f"/rechnungen/{foreign}").status_code == 200


def test_original_download(world):
    item_id = _ready(world, gross="3000")
    client = client_for(world.db)
    login(client, "a")
    answer = client.get(f"/rechnungen/{item_id}/original")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    assert re.match(r'attachment; filename="RE-2026-\d+\.xml"', answer.headers["content-disposition"])
    assert answer.content.startswith(b"<Invoice>")


def test_nav_by_role(world):
    client = client_for(world.db)
    login(client, "adm")
    page = client.get("/aufgaben").text
    assert all(label in page for label in ("Aufgaben", "Rechnungseingang", "Kämmerei", "Verwaltung"))
    clerk = TestClient(client.app, follow_redirects=False)
    login(clerk, "a")
    page = clerk.get("/aufgaben").text
    assert "Verwaltung" not in page and 'action="/logout"' in page


def test_server_error_page_has_no_stack_trace(world, monkeypatch):
    import einvoice.web.ui.invoice as invoice_module

    item_id = _ready(world, gross="3000")
    client_for(world.db, users=("a",))
    client = TestClient(create_app(settings=world.db.settings, db=world.db), follow_redirects=False,
                        raise_server_exceptions=False)
    login(client, "a")

    def boom(*args, **kwargs):
        raise RuntimeError("geheimes Innenleben /etc/passwd")

    monkeypatch.setattr(invoice_module, "load_invoice", boom)
    answer = client.get(f"/rechnungen/{item_id}")
    assert answer.status_code == 500 and "Technischer Fehler" in answer.text
    assert "Traceback" not in answer.text and "geheimes" not in answer.text


def test_inbox_pages(world, monkeypatch):
    import einvoice.web.ui.inbox as inbox_module

    monkeypatch.setattr(inbox_module, "PAGE_SIZE", 1)
    first, second = _ready(world, gross="3000"), _ready(world, gross="3000")
    client = client_for(world.db)
    login(client, "a")
    page = client.get("/aufgaben").text
    assert "Seite 1 von 2" in page and "seite=2" in page
    assert sum(f'href="/rechnungen/{i}"' in page for i in (first, second)) == 1
    assert "Seite 2 von 2" in client.get("/aufgaben", params={"seite": 2}).text


def test_inbox_cache_follows_decisions(world):
    first = _ready(world, gross="3000")
    client = client_for(world.db)
    login(client, "a")
    assert f'href="/rechnungen/{first}"' in client.get("/aufgaben").text
    second = _ready(world, gross="3000")  # routed meanwhile: an audit event, so the cached list is stale
    page = client.get("/aufgaben").text
    assert f'href="/rechnungen/{second}"' in page
    other = TestClient(client.app, follow_redirects=False)
    login(other, "b")
    assert "Anordnung" not in client.get("/aufgaben").text
    assert _post(other, first, "freigeben").status_code == 303  # B certifies: A sees the Anordnung at once
    assert "Anordnung" in client.get("/aufgaben").text
    assert _post(other, second, "ablehnen", reason="doppelt berechnet").status_code == 303
    assert f'href="/rechnungen/{second}"' not in client.get("/aufgaben").text


def test_forward_and_change_cost_centre_with_a_reason(world):
    import sqlalchemy as sa

    from einvoice.store.masterdata_models import CostCentre
    from einvoice.store.routing_models import ApprovalCase, ApprovalStep, Assignment

    with world.db.transaction() as session:
        session.add(CostCentre(code="2010", name="Kämmerei", unit_id=world.units["20"]))
    item_id = _ready(world, gross="3000")
    client = client_for(world.db)
    login(client, "a")
    page = client.get(f"/rechnungen/{item_id}")
    assert 'name="target"' in page.text and "Kostenstelle ändern" in page.text

    def post(action, target, reason):
        current = client.get(f"/rechnungen/{item_id}")
        return client.post(f"/rechnungen/{item_id}/{action}", data={
            "csrf": csrf_of(current.text), "expected_version": version_of(current.text), "reason": reason,
            "target": target})

    assert post("kostenstelle", "2010", "").status_code == 422  # a reason is required
    assert post("kostenstelle", "9999", "falsch zugeordnet").status_code == 422  # unknown cost centre
    assert post("kostenstelle", "2010", "Büromaterial, gehört zur Kämmerei").status_code == 303
    with world.db.read() as session:
        assignment = session.get(Assignment, item_id)
        assert (assignment.unit_id, assignment.manual) == (world.units["20"], True)
        cases = session.scalars(sa.select(ApprovalCase).where(ApprovalCase.item_id == item_id)
                                .order_by(ApprovalCase.id)).all()
        assert [c.status for c in cases] == ["cancelled", "open"]  # the approval started again for unit 20
        step = session.scalars(sa.select(ApprovalStep).where(ApprovalStep.case_id == cases[-1].id,
                                                             ApprovalStep.state == "open")).one()
        assert step.unit_id == world.units["20"]
    assert world.state(item_id) == "in_approval"
    after = client.get(f"/rechnungen/{item_id}")  # A (unit 66) still sees its history, but decides nothing now
    assert after.status_code == 200 and f'/rechnungen/{item_id}/freigeben"' not in after.text
    assert "Büromaterial, gehört zur Kämmerei" in after.text

    other = _ready(world, gross="3000")
    client2 = client_for(world.db)
    login(client2, "a")
    current = client2.get(f"/rechnungen/{other}")
    forwarded = client2.post(f"/rechnungen/{other}/weiterleiten", data={
        "csrf": csrf_of(current.text), "expected_version": version_of(current.text),
        "reason": "Zuständig ist die Kämmerei", "target": "20"})
    assert forwarded.status_code == 303, forwarded.text
    with world.db.read() as session:
        case = session.scalars(sa.select(ApprovalCase).where(ApprovalCase.item_id == other)).one()
        step = session.scalars(sa.select(ApprovalStep).where(ApprovalStep.case_id == case.id,
                                                             ApprovalStep.state == "open")).one()
        assert step.unit_id == world.units["20"] and case.status == "open"
