"""Notices by mail (receipt, rejection, duplicate, no invoice) through a real SMTP server (aiosmtpd
sink), at most once; the status-link token."""

from __future__ import annotations

import email
import email.message
import email.policy
import re

import pytest
import sqlalchemy as sa

from einvoice.handoff import mail as handoff
from einvoice.intake.receive import receive  # the module path: once imported, the submodule shadows einvoice.intake.receive
from einvoice.intake.mail.store import store_mail
from einvoice.intake.status_token import status_token, status_url, verify_status_token
from einvoice.jobs.worker import run_worker
from einvoice.samples.generate import ubl_invoice
from einvoice.store import AuditEvent, IntakeItem, Job
from einvoice.store.mail_models import MailMessage, MailNotification

pytest.register_assert_rewrite("mailservers")
from mailservers import build_mail  # noqa: E402  (tests/mailservers.py: mail servers and test mails)

pytest_plugins = ["pg", "mailservers"]  # db fixtures over SQLite and PostgreSQL; Dovecot and SMTP servers

SECRET = "test-secret-key-0123456789abcdef"


def _items(db) -> list[IntakeItem]:
    with db.read() as session:
        return list(session.scalars(sa.select(IntakeItem).order_by(IntakeItem.id)))


def _notices(db) -> list[MailNotification]:
    with db.read() as session:
        return list(session.scalars(sa.select(MailNotification).order_by(MailNotification.id)))


def _notify_jobs(db) -> list[Job]:
    with db.read() as session:
        return list(session.scalars(sa.select(Job).where(Job.kind == "notify").order_by(Job.id)))


# ---------------------------------------------------------------------------- status token


def test_status_token_is_hmac_sha256_of_the_uid(tmp_path, monkeypatch):
    import hashlib
    import hmac

    uid = "0123456789abcdef0123456789abcdef"
    expected = hmac.new(SECRET.encode(), b"einvoice-status:" + uid.encode(), hashlib.sha256).hexdigest()[:32]
    assert status_token(uid, SECRET) == expected
    assert verify_status_token(uid, expected, SECRET)
    assert not verify_status_token(uid, expected.upper(), SECRET)
    assert not verify_status_token("another", expected, SECRET)
    assert status_url(7, uid, base="https://x.example/", key=SECRET) == f"https://x.example/status/7/{expected}"
    monkeypatch.delenv("EINVOICE_BASE_URL", raising=False)
    assert status_url(7, uid, key=SECRET) is None  # no base URL: no link (the receipt leaves it out)
    # without EINVOICE_SECRET_KEY: one random key kept in the data folder, the same for every caller
    monkeypatch.delenv("EINVOICE_SECRET_KEY", raising=False)
    first = status_token(uid, data_dir=tmp_path)
    assert first == status_token(uid, data_dir=tmp_path) and first != expected
    assert (tmp_path / "web-secret-key").stat().st_mode & 0o777 == 0o600


def test_status_token_agrees_with_the_status_page(tmp_path, monkeypatch):
    auth = pytest.importorskip("einvoice.web.auth", reason="the web package is not installed here")
    monkeypatch.setenv("EINVOICE_SECRET_KEY", SECRET)
    uid = "fedcba9876543210fedcba9876543210"
    assert auth.StatusTokens(tmp_path).token(uid) == status_token(uid)
    monkeypatch.delenv("EINVOICE_SECRET_KEY")
    assert auth.StatusTokens(tmp_path).token(uid) == status_token(uid, data_dir=tmp_path)  # the same key file


# ---------------------------------------------------------------------------- the notices


def test_receipt_rejection_duplicate_and_no_invoice(db, smtp_sink):
    good = build_mail([("re-1.xml", ubl_invoice(number="RE-2026-0001"))], message_id="<m1@musterbau.example>",
                      subject="Rechnung November")
    bad = build_mail([("re-2.xml", ubl_invoice(number="RE-2026-0002", defect="amount-due"))],
                     message_id="<m2@musterbau.example>")
    again = build_mail([("re-1-kopie.xml", ubl_invoice(number="RE-2026-0001", lines=2))],
                       message_id="<m3@musterbau.example>", headers={"Reply-To": "rechnungswesen@musterbau.example"})
    body_only = build_mail(body=ubl_invoice(number="RE-2026-0004").decode(), message_id="<m4@musterbau.example>",
                           subject="Rechnung im Text")
    stored = [store_mail(db, raw, channel="smtp", envelope_from="bounce@musterbau.example") for raw in
              (good, bad, again, body_only)]
    assert [s.outcome for s in stored] == ["invoices", "invoices", "invoices", "no-invoice"]
    assert [len(s.item_ids) for s in stored] == [1, 1, 1, 0]

    run_worker(once=True, db=db)

    first, broken, duplicate = _items(db)
    assert (first.state, broken.state, duplicate.state) == ("parsed", "rejected", "duplicate")
    assert duplicate.duplicate_of_id == first.id
    assert smtp_sink.kinds() == ["duplicate", "no-invoice", "receipt", "receipt", "receipt", "rejection"]
    notices = smtp_sink.by_notice()

    [receipt] = notices[f"receipt; item={first.id}"]
    assert receipt.rcpt_tos == ["buchhaltung@musterbau.example"]
    assert receipt.mail_from == "rechnungseingang@musterstadt.example"
    message = receipt.message
    assert message["In-Reply-To"] == "<m1@musterbau.example>" and message["Auto-Submitted"] == "auto-replied"
    assert "Eingangsbestätigung" in message["Subject"] and f"Eingangsnummer {first.id}" in message["Subject"]
    text = receipt.text
    assert f"Eingangsnummer:   {first.id}" in text and "Intake number" in text and "„Rechnung November“" in text
    [link] = re.findall(r"https://rechnung\.musterstadt\.example/status/(\d+)/([0-9a-f]{32})", text)[:1]
    assert int(link[0]) == first.id and verify_status_token(first.uid, link[1], SECRET)

    [rejection] = notices[f"rejection; item={broken.id}"]
    assert "nicht angenommen" in rejection.message["Subject"]
    assert "BR-CO-16" in rejection.text
    report = rejection.attachments()[f"pruefbericht-{broken.id}.html"]
    assert report.startswith(b"<!DOCTYPE html>") and b"BR-CO-16" in report and b"re-2.xml" in report

    [dup] = notices[f"duplicate; item={duplicate.id}"]
    assert dup.rcpt_tos == ["rechnungswesen@musterbau.example"]  # Reply-To wins
    assert f"Eingangsnummer {first.id}" in dup.text and "RE-2026-0001" in dup.text

    [none] = notices["no-invoice"]
    assert "Keine Rechnung" in none.message["Subject"] and "im Text" in none.text
    assert none.message["In-Reply-To"] == "<m4@musterbau.example>"

    assert {(n.kind, n.state) for n in _notices(db)} == {("receipt", "sent"), ("rejection", "sent"),
                                                         ("duplicate", "sent"), ("no-invoice", "sent")}
    with db.read() as session:
        events = session.scalars(sa.select(AuditEvent.event).where(AuditEvent.item_id == broken.id)).all()
    assert events.count("notice-sent") == 2  # receipt and rejection, on the item's audit trail

    # running every notify job again sends nothing (the ledger says sent)
    for job in _notify_jobs(db):
        assert handoff.send_notice(db, job, actor="test") == "sent-before"
    assert len(smtp_sink.messages) == 6


def test_no_notices_for_automatic_mail_or_other_channels(db, smtp_sink):
    auto = build_mail([("re.xml", ubl_invoice(number="RE-1", defect="amount-due"))],
                      headers={"Auto-Submitted": "auto-generated"})
    store_mail(db, auto, channel="imap", mailbox="imap://x@h:1/INBOX", uidvalidity=1, uid=1)
    store_mail(db, build_mail(headers={"Precedence": "bulk"}), channel="smtp")
    receive(db, ubl_invoice(number="RE-2", defect="amount-due"), channel="upload", sender="alice", file_name="a.xml")
    run_worker(once=True, db=db)
    assert [i.state for i in _items(db)] == ["rejected", "rejected"]
    assert _notify_jobs(db) == [] and smtp_sink.messages == []


def test_refused_by_the_relay_is_retried_and_sent_once(db, smtp_sink):
    smtp_sink.refuse = 1  # 451 to the first DATA
    stored = store_mail(db, build_mail([("re.xml", ubl_invoice(number="RE-1"))]), channel="smtp")
    run_worker(once=True, db=db)  # job retry delay is 0 in the test settings
    [notice] = _notices(db)
    assert (notice.kind, notice.state, notice.attempts) == ("receipt", "sent", 2)
    assert [m.notice for m in smtp_sink.messages] == [f"receipt; item={stored.item_ids[0]}"]


class Crash(BaseException):
    """The worker process dies (kill -9) right after the relay took the message."""


def test_crash_between_sending_and_sent_never_sends_twice(db, smtp_sink, monkeypatch, caplog):
    stored = store_mail(db, build_mail([("re.xml", ubl_invoice(number="RE-1"))]), channel="smtp")
    [job] = _notify_jobs(db)
    original = handoff.send_mail

    def send_then_die(*args, **kwargs):
        original(*args, **kwargs)
        raise Crash()

    monkeypatch.setattr(handoff, "send_mail", send_then_die)
    with pytest.raises(Crash):
        handoff.send_notice(db, job, actor="worker:a")
    assert [n.state for n in _notices(db)] == ["sending"]
    monkeypatch.setattr(handoff, "send_mail", original)

    assert handoff.send_notice(db, job, actor="worker:b") == "unknown"  # the retry after the crash
    assert handoff.send_notice(db, job, actor="worker:c") == "unknown"
    assert len(smtp_sink.messages) == 1  # at most once
    [notice] = _notices(db)
    assert notice.state == "unknown" and "not sent again" in notice.error
    assert "not sent again" in caplog.text
    with db.read() as session:
        assert [n.id for n in handoff.notices_needing_attention(session)] == [notice.id]
        reasons = session.scalars(sa.select(AuditEvent.reason).where(AuditEvent.item_id == stored.item_ids[0],
                                                                    AuditEvent.event == "notice-unknown")).all()
    assert len(reasons) == 1 and "outcome unknown" in reasons[0]


def test_connection_lost_during_data_is_not_retried(db, smtp_sink, monkeypatch):
    store_mail(db, build_mail([("re.xml", ubl_invoice(number="RE-1"))]), channel="smtp")

    async def lost(relay, data, recipients):
        raise handoff.OutcomeUnknown("SMTPServerDisconnected during DATA: Connection lost")

    monkeypatch.setattr(handoff, "_deliver", lost)
    run_worker(once=True, db=db)
    [notice] = _notices(db)
    assert notice.state == "unknown" and notice.attempts == 1
    assert [j.state for j in _notify_jobs(db)] == ["done"]  # no second attempt


def test_relay_unreachable_fails_the_job_until_it_is_dead(db, monkeypatch):
    from mailservers import free_port

    monkeypatch.setenv("EINVOICE_SMTP_RELAY_HOST", "127.0.0.1")
    monkeypatch.setenv("EINVOICE_SMTP_RELAY_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setenv("EINVOICE_SMTP_RELAY_TLS", "none")
    monkeypatch.setenv("EINVOICE_SMTP_RELAY_FROM", "rechnungseingang@musterstadt.example")
    stored = store_mail(db, build_mail([("re.xml", ubl_invoice(number="RE-1"))]), channel="smtp")
    run_worker(once=True, db=db)
    [job] = _notify_jobs(db)
    assert job.state == "dead" and "NotSent" in job.last_error
    [notice] = _notices(db)
    assert (notice.state, notice.attempts) == ("failed", 3)
    item = _items(db)[0]
    assert item.id == stored.item_ids[0] and item.state == "parsed"  # a lost notice never fails the invoice


def test_ledger_rows_link_the_message(db, smtp_sink):
    message = email.message_from_bytes(build_mail([("re.xml", ubl_invoice(number="RE-1")),
                                                   ("anschreiben.txt", "Guten Tag".encode())],
                                                  message_id="<cover@musterbau.example>"), policy=email.policy.default)
    logo = email.message.EmailMessage()
    logo.set_content(b"\x89PNG fake logo", maintype="image", subtype="png", disposition="inline")
    message.attach(logo)  # a logo in the signature
    raw = message.as_bytes(policy=email.policy.SMTP)
    stored = store_mail(db, raw, channel="smtp", envelope_from="bounce@musterbau.example",
                        recipients=["rechnung@rechnung.musterstadt.example"])
    with db.read() as session:
        row = session.get(MailMessage, stored.ledger_id)
        assert (row.channel, row.outcome, row.item_count, row.message_id) == ("smtp", "invoices", 1,
                                                                               "<cover@musterbau.example>")
        assert row.envelope_from == "bounce@musterbau.example" and row.recipients == ["rechnung@rechnung.musterstadt.example"]
        parts = {p["file_name"]: p for p in row.details["parts"]}
        assert parts["anschreiben.txt"]["role"] == "other" and parts["re.xml"]["role"] == "invoice"
    assert db.blobs.get(row.sha256) == raw  # the whole .eml, exactly
    assert db.blobs.get(parts["anschreiben.txt"]["sha256"]).rstrip() == b"Guten Tag"  # the cover letter is kept too
    item = _items(db)[0]
    assert item.envelope_sha256 == row.sha256 and item.extra["mail"]["ledger_id"] == row.id
    run_worker(once=True, db=db)
    [receipt] = smtp_sink.messages
    assert "anschreiben.txt" in receipt.text  # told that it was kept but not processed as an invoice
    assert "attachment-" not in receipt.text  # but not about the logo in the signature
    assert parts["attachment-4"]["inline"] and db.blobs.exists(parts["attachment-4"]["sha256"])  # kept all the same


def test_supplier_text_cannot_inject_headers():
    from einvoice.handoff.notices import NoticeContext, compose

    context = NoticeContext(kind="receipt", recipient="a@musterbau.example", item_id=1,
                            invoice_number="RE-1\r\nBcc: victim@example.org", file_name="re.xml",
                            original_subject="Rechnung\nX-Evil: 1")
    message = compose(context, "rechnungseingang@musterstadt.example")
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert "RE-1 Bcc: victim@example.org" in message["Subject"]
