"""Reject to the supplier: mandatory reason, item and case rejected, the ``workflow-rejection`` notice
queued in the same transaction and delivered to a real SMTP server (aiosmtpd) — to the mail sender
for mailed invoices, else to the seller's e-mail of the invoice — or an audit note when nobody can
be written to."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from einvoice.jobs.worker import run_worker
from einvoice.routing.workflow import ReasonRequired, approve, reject_to_supplier
from einvoice.store import Job
from einvoice.store.mail_models import MailNotification

pytest.register_assert_rewrite("workflow_fixtures")
from workflow_fixtures import act, start  # noqa: E402

pytest_plugins = ["pg", "mailservers", "workflow_fixtures"]

REASON = "Leistung nicht erbracht: die Pflasterarbeiten in der Hauptstraße sind nicht abgenommen."


def notify_jobs(db):
    with db.read() as session:
        return session.scalars(sa.select(Job).where(Job.kind == "notify")).all()


def test_reject_needs_a_reason_and_mails_the_supplier(world, smtp_sink):
    uploaded = world.item("3000")
    mail = {"notify_to": "rechnungswesen@musterbau.example", "message_id": "<m1@musterbau.example>",
            "subject": "Rechnung"}
    mailed = world.item("3000", channel="smtp", extra={"mail": mail})
    for item_id in (uploaded, mailed):
        start(world, item_id)
    with pytest.raises(ReasonRequired):
        act(world, reject_to_supplier, uploaded, "A", reason="")
    assert world.state(uploaded) == "in_approval" and notify_jobs(world.db) == []

    case = act(world, reject_to_supplier, uploaded, "A", reason=REASON)
    assert case.status == "rejected" and world.state(uploaded) == "rejected"
    assert [s.state for s in world.steps(uploaded)] == ["done", "auto", "cancelled"]
    assert world.steps(uploaded)[0].decision == "reject"
    [event] = [e for e in world.events(uploaded) if e.details["decision"] == "reject"]
    assert event.reason == REASON and event.details["notice_to"] == "buchhaltung@musterbau.example"
    [transition] = [e for e in world.events(uploaded, "transition") if e.to_state == "rejected"]
    assert transition.actor == "user:a" and REASON in transition.reason
    act(world, approve, mailed, "A")
    act(world, reject_to_supplier, mailed, "C", reason="Falscher Empfänger")
    assert len(notify_jobs(world.db)) == 2

    assert run_worker(once=True, db=world.db, kinds=["notify"]) == 2
    notices = smtp_sink.by_notice()
    [message] = notices[f"workflow-rejection; item={uploaded}"]
    assert message.rcpt_tos == ["buchhaltung@musterbau.example"]
    subject = message.message["Subject"]
    assert "Rechnung abgelehnt" in subject and f"Eingangsnummer {uploaded}" in subject
    text = message.text
    assert REASON in text and "Begründung:" in text and "Reason" in text and "neuen Rechnungsnummer" in text
    assert f"https://rechnung.musterstadt.example/status/{uploaded}/" in text
    [reply] = notices[f"workflow-rejection; item={mailed}"]
    assert reply.rcpt_tos == ["rechnungswesen@musterbau.example"]
    assert reply.message["In-Reply-To"] == "<m1@musterbau.example>" and "Falscher Empfänger" in reply.text
    with world.db.read() as session:
        states = session.scalars(sa.select(MailNotification.state)).all()
    assert states == ["sent", "sent"]
    assert [e.reason for e in world.events(uploaded, "notice-sent")] == [
        "workflow-rejection notice sent to buchhaltung@musterbau.example"]


def test_reject_without_any_address_leaves_an_audit_note(world, smtp_sink):
    item_id = world.item("3000", email=None)
    start(world, item_id)
    act(world, reject_to_supplier, item_id, "A", reason="Doppelt berechnet")
    assert world.state(item_id) == "rejected" and notify_jobs(world.db) == []
    [note] = world.events(item_id, "notice-skipped")
    assert "keine E-Mail-Adresse" in note.reason and note.actor == "user:a"
    assert smtp_sink.messages == []
