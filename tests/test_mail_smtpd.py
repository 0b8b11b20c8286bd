"""The SMTP receiver (aiosmtpd) with a real SMTP client: stored durably before 250, each mail exactly
once, 550 for foreign domains, 552 above the size limit, 451 (and a retry) when storing fails."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys

import pytest
import sqlalchemy as sa

from einvoice.intake.mail import smtpd as smtpd_module
from einvoice.jobs.worker import run_worker
from einvoice.samples.generate import ubl_invoice
from einvoice.store import IntakeItem
from einvoice.store.mail_models import MailMessage

pytest.register_assert_rewrite("mailservers")
from mailservers import (  # noqa: E402  (tests/mailservers.py: mail servers and test mails)
    INTAKE_DOMAIN, build_mail, check_landed_once, free_port, the_test_mails, wait_for_port,
)

pytest_plugins = ["pg", "mailservers"]  # db fixtures over SQLite and PostgreSQL; Dovecot and SMTP servers

SUPPLIER = "buchhaltung@musterbau.example"
TO = f"rechnung@{INTAKE_DOMAIN}"


def _ledger(db) -> list[MailMessage]:
    with db.read() as session:
        return list(session.scalars(sa.select(MailMessage).order_by(MailMessage.id)))


def _items(db) -> list[IntakeItem]:
    with db.read() as session:
        return list(session.scalars(sa.select(IntakeItem).order_by(IntakeItem.id)))


def _send(settings, raw: bytes, *, sender: str = SUPPLIER, to: str = TO):
    with smtplib.SMTP(settings.host, settings.port, timeout=30) as client:
        return client.sendmail(sender, [to], raw)


def test_mails_by_smtp_land_exactly_once(db, intake_smtpd, smtp_sink):
    settings = intake_smtpd(db)
    for name, raw in the_test_mails().items():
        assert _send(settings, raw) == {}  # 250
        # the answer came after the commit: the ledger row is there the moment sendmail returns
        assert f"<{name}@musterbau.example>" in {row.message_id for row in _ledger(db)}
    rows = _ledger(db)
    assert {r.channel for r in rows} == {"smtp"} and {r.envelope_from for r in rows} == {SUPPLIER}
    assert all(r.recipients == [TO] for r in rows)
    for row in rows:
        assert db.blobs.get(row.sha256).startswith(b"From: Musterbau GmbH")  # the bytes exactly as sent
    run_worker(once=True, db=db)
    check_landed_once(db, smtp_sink, "smtp")


def test_the_same_message_again_is_stored_once(db, intake_smtpd):
    """A forwarding server whose 250 got lost sends the message again: imported once."""
    settings = intake_smtpd(db)
    raw = build_mail([("RE-1.xml", ubl_invoice(number="RE-2026-0001"))], message_id="<twice@musterbau.example>")
    _send(settings, raw)
    _send(settings, raw)
    first, second = _ledger(db)
    assert (first.outcome, second.outcome, second.first_id) == ("invoices", "already-imported", first.id)
    assert len(_items(db)) == 1


def test_foreign_recipient_domain_is_refused_with_550(db, intake_smtpd):
    settings = intake_smtpd(db)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        _send(settings, build_mail([("RE-1.xml", ubl_invoice())]), to="someone@elsewhere.example")
    assert refused.value.recipients["someone@elsewhere.example"][0] == 550
    assert _ledger(db) == []


def test_too_large_is_refused_with_552(db, intake_smtpd):
    settings = intake_smtpd(db, max_bytes=20_000)
    raw = build_mail([("RE-1.xml", ubl_invoice(lines=60))])
    assert len(raw) > 20_000
    with pytest.raises(smtplib.SMTPSenderRefused) as announced:  # the client announced SIZE: refused at MAIL FROM
        _send(settings, raw)
    assert announced.value.smtp_code == 552
    with smtplib.SMTP(settings.host, settings.port, timeout=30) as client:  # no SIZE: refused after DATA
        client.ehlo()
        assert client.mail(SUPPLIER)[0] == 250
        assert client.rcpt(TO)[0] == 250
        assert client.data(raw)[0] == 552
    assert _ledger(db) == []


def test_storing_fails_answers_451_and_the_retry_is_stored(db, intake_smtpd, monkeypatch):
    settings = intake_smtpd(db)
    original = smtpd_module.store_mail
    failures = [1]

    def store(*args, **kwargs):
        if failures[0]:
            failures[0] -= 1
            raise OSError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(smtpd_module, "store_mail", store)
    raw = build_mail([("RE-1.xml", ubl_invoice(number="RE-2026-0001"))])
    with pytest.raises(smtplib.SMTPDataError) as temporary:
        _send(settings, raw)
    assert temporary.value.smtp_code == 451
    assert _ledger(db) == []
    _send(settings, raw)  # the forwarding server tries again
    assert [r.outcome for r in _ledger(db)] == ["invoices"] and len(_items(db)) == 1


def test_allowed_peers():
    settings = smtpd_module.SmtpdSettings(domains=("a.example",), allowed_peers=(
        __import__("ipaddress").ip_network("10.1.0.0/16"),))
    assert settings.peer_allowed(("10.1.2.3", 2525)) and not settings.peer_allowed(("127.0.0.1", 2525))
    assert settings.accepts("x@A.example") and not settings.accepts("x@b.example")


def test_einvoice_smtpd_command(db, tmp_path):
    port = free_port()
    env = dict(os.environ, EINVOICE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               EINVOICE_DATA_DIR=str(db.settings.data_dir), EINVOICE_SMTPD_DOMAINS=INTAKE_DOMAIN)
    process = subprocess.Popen([sys.executable, "-m", "einvoice.intake.mail.cli", "smtpd", "--host", "127.0.0.1",
                                "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, process=process)
        settings = smtpd_module.SmtpdSettings(domains=(INTAKE_DOMAIN,), host="127.0.0.1", port=port)
        _send(settings, build_mail([("RE-1.xml", ubl_invoice(number="RE-2026-0001"))]))
        assert [r.outcome for r in _ledger(db)] == ["invoices"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, process.stderr.read().decode()
