"""Finished invoices for the archive tests, made through the real chain on the example organisation.

`town(db)`: master data of "Stadt Musterstadt", matching rules and workflows (rules/routing).
`exported(db, data, name)`: receive the bytes by upload, run the worker (process, route), approve
(m.mueller sachlich richtig, e.schneider Anordnung) and mark exported (as the booking export does).
`rejected(db)`: a broken invoice the process job rejects. `mailed(db, attachments)`: an e-mail
through `store_mail` (the .eml and its attachments kept), processed. Each returns the item id.
"""

from __future__ import annotations

import email.policy
import itertools
from datetime import date, datetime, timezone
from email.message import EmailMessage
from pathlib import Path

import sqlalchemy as sa

from einvoice.intake.mail.store import store_mail
from einvoice.intake.receive import receive
from einvoice.intake.states import transition
from einvoice.jobs import run_worker
from einvoice.routing.masterdata import import_folder
from einvoice.routing.matching.rules import seed_rules
from einvoice.routing.workflow import approve, latest_case, run_decision
from einvoice.routing.workflow.definitions import load_file, replace_workflows
from einvoice.samples.generate import EN16931, cii_invoice, facturx_pdf, ubl_invoice
from einvoice.store.masterdata_models import User
from einvoice.store.models import IntakeItem

ROOT = Path(__file__).resolve().parent.parent
RECEIVED = datetime(2026, 11, 3, 9, 30, tzinfo=timezone.utc)
_numbers = itertools.count(1)


def number() -> str:
    return f"RE-ARC-{next(_numbers):04d}"


def xml(invoice_number: str | None = None, **kwargs) -> bytes:
    return ubl_invoice(2, number=invoice_number or number(), issue_date=date.today(), **kwargs)


def cii(invoice_number: str | None = None) -> bytes:
    return cii_invoice(2, number=invoice_number or number(), customization=EN16931, issue_date=date.today())


def pdf(invoice_number: str | None = None, embedded: bytes | None = None) -> bytes:
    """A Factur-X PDF with ``embedded`` (default: a fresh EN 16931 CII invoice) as factur-x.xml, byte for byte."""
    return facturx_pdf(embedded or cii(invoice_number))


def town(db):
    with db.transaction() as session:
        result = import_folder(session, ROOT / "rules/routing/example-masterdata", actor="system:test")
        assert all(r.ok for r in result.results), [r.errors for r in result.results if not r.ok]
        seed_rules(session, actor="system:test")
        replace_workflows(session, load_file())
    return db


def work(db) -> None:
    run_worker(once=True, db=db, kinds=["process", "route"])


def state(db, item_id: int) -> str:
    with db.read() as session:
        return session.get(IntakeItem, item_id).state


def _user(db, username: str) -> User:
    with db.read() as session:
        return session.scalars(sa.select(User).where(User.username == username)).one()


def approve_and_export(db, item_id: int) -> None:
    assert state(db, item_id) == "in_approval", state(db, item_id)
    for username in ("m.mueller", "e.schneider"):
        with db.read() as session:
            case = latest_case(session, item_id)
        run_decision(db, approve, case.id, user=_user(db, username), expected_version=case.version)
    assert state(db, item_id) == "approved"
    with db.transaction() as session:
        transition(session.get(IntakeItem, item_id), "exported", "system:test", "Buchungsexport (Test)")


def exported(db, data: bytes, file_name: str, *, received_at: datetime = RECEIVED) -> int:
    item = receive(db, data, channel="upload", sender="rechnung@musterbau.example", file_name=file_name,
                   received_at=received_at)
    work(db)
    approve_and_export(db, item.id)
    return item.id


def rejected(db, file_name: str = "kaputt.xml", *, received_at: datetime = RECEIVED) -> tuple[int, bytes]:
    data = xml(defect="grand-total")
    item = receive(db, data, channel="api", sender="rechnung@musterbau.example", file_name=file_name,
                   received_at=received_at)
    work(db)
    assert state(db, item.id) == "rejected"
    return item.id, data


def mail(attachments) -> bytes:
    message = EmailMessage()
    message["From"] = "Musterbau GmbH <buchhaltung@musterbau.example>"
    message["To"] = "rechnung@rechnung.musterstadt.example"
    message["Subject"] = "Rechnung"
    message["Message-ID"] = f"<{number()}@musterbau.example>"
    message.set_content("Sehr geehrte Damen und Herren,\n\nanbei unsere Rechnung.\n")
    for name, data in attachments:
        maintype, subtype = ("application", "pdf") if name.endswith(".pdf") else ("application", "xml")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(policy=email.policy.SMTP)


def mailed(db, attachments, *, received_at: datetime = RECEIVED) -> tuple[list[int], bytes]:
    raw = mail(attachments)
    stored = store_mail(db, raw, channel="smtp", received_at=received_at)
    work(db)
    return stored.item_ids, raw
