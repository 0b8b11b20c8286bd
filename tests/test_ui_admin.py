"""Web UI admin pages (``/verwaltung``) on the workflow `world`: admins only (403 for every other role on
every route, GET and POST), CSRF on every POST, master data CSV import through the page (saved, and
refused with the line-numbered error shown), CSV export download, setting a password (the user can log
in with it) and deactivating a user, reloading the matching rules and re-running matching, reloading
the workflows, the rule packs listed, and a dead job shown and retried (a failed item goes back to
``received`` with a new process job; another dead job goes back to ``queued``)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from einvoice.intake.receive import receive
from einvoice.jobs import queue
from einvoice.store import Job
from einvoice.store.masterdata_models import CostCentre, User
from einvoice.store.models import IntakeItem
from einvoice.store.routing_models import MatchingRule, Workflow

pytest.register_assert_rewrite("workflow_fixtures", "ui_helpers")
from ui_helpers import client_for, csrf_of, login  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]

GETS = ["/verwaltung", "/verwaltung/stammdaten", "/verwaltung/stammdaten/users", "/verwaltung/stammdaten/units/export",
        "/verwaltung/zuordnung", "/verwaltung/workflows", "/verwaltung/regelpakete", "/verwaltung/auftraege"]
POSTS = ["/verwaltung/stammdaten/units/import", "/verwaltung/benutzer/a/passwort", "/verwaltung/benutzer/a/aktiv",
         "/verwaltung/zuordnung/neu-laden", "/verwaltung/zuordnung/neu-berechnen", "/verwaltung/workflows/neu-laden",
         "/verwaltung/auftraege/1/erneut"]


def admin(world) -> TestClient:
    client = client_for(world.db)
    login(client, "adm")
    return client


def token(client: TestClient, path: str = "/verwaltung") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def dead_job(db, *, failed_item: bool) -> tuple[int, int]:
    """A dead job: the process job of a received item (its on_dead hook makes the item failed), or a
    route job whose item stays where it is."""
    item = receive(db, b"<Invoice>kaputt</Invoice>", channel="upload", sender="test", file_name="kaputt.xml")
    with db.transaction() as session:
        if failed_item:
            job = session.scalars(sa.select(Job).where(Job.item_id == item.id, Job.kind == "process")).one()
        else:
            session.execute(sa.delete(Job).where(Job.item_id == item.id))
            job = queue.enqueue(session, "route", item_id=item.id)
            session.flush()
        job.attempts = job.max_attempts
        queue.mark_dead(session, job, "Traceback (most recent call last):\n  ...\nRuntimeError: Platte voll",
                        "system:test")
        return job.id, item.id


def test_other_roles_get_403_everywhere(world):
    client = client_for(world.db)
    for username in ("a", "k", "r"):
        other = TestClient(client.app, follow_redirects=False)
        login(other, username)
        csrf = csrf_of(other.get({"a": "/aufgaben", "k": "/kaemmerei", "r": "/eingang"}[username]).text)
        for path in GETS:
            page = other.get(path)
            assert page.status_code == 403 and "Kein Zugriff" in page.text, (username, path)
        for path in POSTS:
            page = other.post(path, data={"csrf": csrf, "password": "ganz-neues-passwort", "active": "nein"})
            assert page.status_code == 403 and "Kein Zugriff" in page.text, (username, path)
    with world.db.read() as session:
        assert session.scalars(sa.select(User).where(User.username == "a")).one().active
    anonymous = TestClient(client.app, follow_redirects=False)
    assert anonymous.get("/verwaltung").status_code == 303
    assert 'href="/verwaltung"' not in TestClient(client.app).get("/login").text


def test_overview_and_nav(world):
    client = admin(world)
    page = client.get("/verwaltung")
    assert page.status_code == 200
    assert "<script" not in page.text and " style=" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for href in ("/verwaltung/stammdaten", "/verwaltung/zuordnung", "/verwaltung/workflows", "/verwaltung/regelpakete",
                 "/verwaltung/auftraege"):
        assert f'href="{href}"' in page.text


def test_post_without_csrf_is_refused(world):
    client = admin(world)
    for path in POSTS:
        page = client.post(path, data={"password": "ganz-neues-passwort", "active": "nein"})
        assert page.status_code == 403 and "Sicherheitsprüfung" in page.text, path
        page = client.post(path, data={"csrf": "falsch", "password": "ganz-neues-passwort", "active": "nein"})
        assert page.status_code == 403, path
    wrong = client.post("/verwaltung/stammdaten/units/import", data={"csrf": "falsch"},
                        files={"datei": ("units.csv", b"code;name\n99;Neu\n", "text/csv")})
    assert wrong.status_code == 403
    with world.db.read() as session:
        assert session.scalars(sa.select(User).where(User.username == "a")).one().active
        assert session.scalar(sa.select(sa.func.count()).select_from(MatchingRule)) == 0


def test_csv_import_ok_and_with_line_numbered_error(world):
    client = admin(world)
    csrf = token(client, "/verwaltung/stammdaten/cost_centres")
    csv = "code;name;unit\n6610;Straßenunterhaltung;66\n2000;Kämmerei allgemein;20\n".encode()
    page = client.post("/verwaltung/stammdaten/cost_centres/import", data={"csrf": csrf},
                       files={"datei": ("kst.csv", csv, "text/csv")})
    assert page.status_code == 200, page.text
    assert "Import gespeichert: 2 neu, 0 geändert, 0 unverändert." in page.text
    assert "Straßenunterhaltung" in page.text
    bad = "code;name;unit\n6620;Brücken;66\n6630;Ampeln;99\n".encode()
    page = client.post("/verwaltung/stammdaten/cost_centres/import", data={"csrf": csrf},
                       files={"datei": ("kst.csv", bad, "text/csv")})
    assert page.status_code == 422
    assert "Import abgelehnt: 1 Fehler, nichts gespeichert." in page.text and "Zeile 3" in page.text
    with world.db.read() as session:
        assert sorted(session.scalars(sa.select(CostCentre.code))) == ["2000", "6610"]
    empty = client.post("/verwaltung/stammdaten/cost_centres/import", data={"csrf": csrf},
                        files={"datei": ("kst.csv", b"", "text/csv")})
    assert empty.status_code == 422
    assert client.get("/verwaltung/stammdaten/nichts").status_code == 404


def test_export_download(world):
    client = admin(world)
    response = client.get("/verwaltung/stammdaten/users/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"] and "users.csv" in response.headers[
        "content-disposition"]
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("username;display_name")
    assert "adm;Person ADM" in text


def test_password_set_and_user_can_log_in(world):
    client = admin(world)
    csrf = token(client, "/verwaltung/stammdaten/users")
    short = client.post("/verwaltung/benutzer/a/passwort", data={"csrf": csrf, "password": "kurz"})
    assert short.status_code == 422 and "mindestens 10 Zeichen" in short.text
    page = client.post("/verwaltung/benutzer/a/passwort", data={"csrf": csrf, "password": "ganz-neues-passwort"})
    assert page.status_code == 200 and "Neues Passwort für a gesetzt" in page.text
    assert client.post("/verwaltung/benutzer/niemand/passwort",
                       data={"csrf": csrf, "password": "ganz-neues-passwort"}).status_code == 404
    person = TestClient(client.app, follow_redirects=False)
    done = login(person, "a", "ganz-neues-passwort")
    assert done.status_code == 303 and person.get("/aufgaben").status_code == 200
    old = TestClient(client.app, follow_redirects=False)
    assert login(old, "a").status_code != 303  # the old password no longer works


def test_deactivate_and_activate_user(world):
    client = admin(world)
    csrf = token(client, "/verwaltung/stammdaten/users")
    person = TestClient(client.app, follow_redirects=False)
    login(person, "a")
    assert person.get("/aufgaben").status_code == 200
    page = client.post("/verwaltung/benutzer/a/aktiv", data={"csrf": csrf, "active": "nein"})
    assert page.status_code == 200 and "a ist deaktiviert" in page.text
    assert person.get("/aufgaben").status_code == 303  # the session ended
    assert login(TestClient(client.app, follow_redirects=False), "a").status_code != 303
    own = client.post("/verwaltung/benutzer/adm/aktiv", data={"csrf": csrf, "active": "nein"})
    assert own.status_code == 422 and "eigenes Konto" in own.text
    page = client.post("/verwaltung/benutzer/a/aktiv", data={"csrf": csrf, "active": "ja"})
    assert page.status_code == 200 and "a ist aktiv" in page.text
    assert login(TestClient(client.app, follow_redirects=False), "a").status_code == 303


def test_rules_reseed_and_rerun(world):
    client = admin(world)
    csrf = token(client, "/verwaltung/zuordnung")
    page = client.post("/verwaltung/zuordnung/neu-laden", data={"csrf": csrf})
    assert page.status_code == 200, page.text
    with world.db.read() as session:
        names = list(session.scalars(sa.select(MatchingRule.name).order_by(MatchingRule.position)))
    assert names and f"{len(names)} Regeln aus" in page.text
    assert names[0] in page.text
    page = client.post("/verwaltung/zuordnung/neu-berechnen", data={"csrf": csrf})
    assert page.status_code == 200 and "Zuordnung neu berechnet." in page.text
    assert "Ergebnis der Neuberechnung" in page.text and "Freigaben gestartet" in page.text


def test_workflows_reload(world):
    client = admin(world)
    with world.db.transaction() as session:
        for row in session.scalars(sa.select(Workflow)):
            row.active = False
    page = client.get("/verwaltung/workflows")
    assert page.status_code == 200 and "inaktiv" in page.text
    page = client.post("/verwaltung/workflows/neu-laden", data={"csrf": csrf_of(page.text)})
    assert page.status_code == 200, page.text
    assert "Workflows geladen: 0 neu, 2 aktualisiert, 0 deaktiviert." in page.text
    assert "Standard" in page.text and "Anordnung" in page.text
    with world.db.read() as session:
        assert all(session.scalars(sa.select(Workflow.active)))


def test_rule_packs_listed(world):
    page = admin(world).get("/verwaltung/regelpakete")
    assert page.status_code == 200
    assert "eingebaut" in page.text and "Szenarien" in page.text and "gültig" in page.text


def test_dead_job_shown_and_item_reprocessed(world):
    job_id, item_id = dead_job(world.db, failed_item=True)
    assert world.state(item_id) == "failed"
    client = admin(world)
    page = client.get("/verwaltung/auftraege")
    assert page.status_code == 200
    assert f'id="auftrag-{job_id}"' in page.text and "RuntimeError: Platte voll" in page.text
    assert "<details>" in page.text
    page = client.post(f"/verwaltung/auftraege/{job_id}/erneut",
                       data={"csrf": csrf_of(page.text), "reason": "Platte aufgeräumt"})
    assert page.status_code == 200 and f"Eingang {item_id} wird erneut verarbeitet" in page.text
    assert world.state(item_id) == "received"
    with world.db.read() as session:
        jobs = {j.id: j.state for j in session.scalars(sa.select(Job).where(Job.item_id == item_id))}
    assert jobs[job_id] == "dead" and sorted(s for i, s in jobs.items() if i != job_id) == ["queued"]
    assert "Ersetzt durch Auftrag" in page.text
    again = client.post(f"/verwaltung/auftraege/{job_id}/erneut", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 409  # replaced: no second job, the old one is not requeued
    with world.db.read() as session:
        assert session.get(Job, job_id).state == "dead"


def test_dead_job_requeued(world):
    job_id, item_id = dead_job(world.db, failed_item=False)
    client = admin(world)
    csrf = token(client, "/verwaltung/auftraege")
    page = client.post(f"/verwaltung/auftraege/{job_id}/erneut", data={"csrf": csrf})
    assert page.status_code == 200 and f"Auftrag {job_id} ist wieder in der Warteschlange." in page.text
    with world.db.read() as session:
        job = session.get(Job, job_id)
        assert job.state == "queued" and job.attempts == 0
        assert session.get(IntakeItem, item_id).state == "received"
    again = client.post(f"/verwaltung/auftraege/{job_id}/erneut", data={"csrf": csrf})
    assert again.status_code == 409
