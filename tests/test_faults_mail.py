"""SMTP relay down: the supplier notices wait in the job queue and are sent exactly once when it is back.

Mail comes in through the project's own SMTP receiver while the relay (the municipality's mail server,
here an aiosmtpd sink of tests/mailservers.py on a fixed port) is first not listening at all
(connection refused), then answering ``451`` to every message, then up. The intake is never blocked —
the mails are stored and the invoices processed (parsed, rejected) while the relay is away —, each
failed notice is retried by the job queue after its backoff (``job_retry_seconds × 2^(attempt−1)``),
and the receipts and the rejection notice each reach the relay exactly once. A relay that takes the
message and then drops the connection before answering leaves the notice ``unknown``: it is not sent
again, the item's audit trail says so, and it is listed for the admins (``/verwaltung/auftraege``).
"""

from __future__ import annotations

import smtplib
import socket
import threading
import time
from dataclasses import replace

import pytest
import sqlalchemy as sa

from einvoice.handoff import mail as handoff
from einvoice.jobs.worker import run_worker
from einvoice.samples.generate import ubl_invoice
from einvoice.store import AuditEvent, IntakeItem, Job
from einvoice.store.mail_models import MailNotification
from einvoice.store.masterdata_models import User

pytest.register_assert_rewrite("mailservers", "ui_helpers")
from mailservers import INTAKE_DOMAIN, SmtpSink, build_mail, free_port  # noqa: E402

pytest_plugins = ["pg", "mailservers"]
BACKOFF = 1.0  # seconds before the first retry; doubled for each further attempt


@pytest.fixture
def relay_port(monkeypatch) -> int:
    """The relay's address (nothing listens there yet), as ``EINVOICE_SMTP_RELAY_*`` for the notify job."""
    port = free_port()
    for name, value in {"HOST": "127.0.0.1", "PORT": str(port), "TLS": "none", "TIMEOUT": "5",
                        "FROM": "Rechnungseingang Musterstadt <rechnungseingang@musterstadt.example>"}.items():
        monkeypatch.setenv(f"EINVOICE_SMTP_RELAY_{name}", value)
    monkeypatch.setenv("EINVOICE_BASE_URL", "https://rechnung.musterstadt.example")
    monkeypatch.setenv("EINVOICE_SECRET_KEY", "test-secret-key-0123456789abcdef")
    return port


def _send(settings, raw: bytes) -> dict:
    with smtplib.SMTP(settings.host, settings.port, timeout=30) as client:
        return client.sendmail("buchhaltung@musterbau.example", [f"rechnung@{INTAKE_DOMAIN}"], raw)


def _notices(db) -> list[MailNotification]:
    with db.read() as session:
        return list(session.scalars(sa.select(MailNotification).order_by(MailNotification.id)))


def _notify_jobs(db) -> list[Job]:
    with db.read() as session:
        return list(session.scalars(sa.select(Job).where(Job.kind == "notify").order_by(Job.id)))


def _run_due(db) -> int:
    """One pass of a worker over the due jobs; returns how many notify jobs it ran."""
    before = sum(job.attempts for job in _notify_jobs(db))
    run_worker(once=True, db=db)
    return sum(job.attempts for job in _notify_jobs(db)) - before


def _wait_until_due(db) -> float:
    """Sleep until every queued notify job is due; returns the longest wait (its backoff)."""
    from einvoice.store.types import utcnow

    waits = [(job.run_after - utcnow()).total_seconds() for job in _notify_jobs(db) if job.state == "queued"]
    longest = max(waits, default=0.0)
    time.sleep(max(0.0, longest) + 0.05)
    return longest


def test_relay_down_then_refusing_then_up_sends_each_notice_once(db, intake_smtpd, relay_port):
    from aiosmtpd.controller import Controller

    db.settings = replace(db.settings, job_retry_seconds=BACKOFF, job_max_attempts=5)
    settings = intake_smtpd(db)
    good = build_mail([("RE-2026-0701.xml", ubl_invoice(number="RE-2026-0701"))], message_id="<gut@musterbau.example>")
    bad = build_mail([("RE-2026-0702.xml", ubl_invoice(number="RE-2026-0702", defect="amount-due"))],
                     message_id="<falsch@musterbau.example>")

    # 1. relay not listening: the intake takes the mails and processes them all the same
    assert _send(settings, good) == {} and _send(settings, bad) == {}
    assert _run_due(db) == 3  # two receipts, one rejection notice: one attempt each
    with db.read() as session:
        states = sorted(session.scalars(sa.select(IntakeItem.state)))
    assert states == ["parsed", "rejected"]
    notices = _notices(db)
    assert sorted(n.kind for n in notices) == ["receipt", "receipt", "rejection"]
    assert {(n.state, n.attempts) for n in notices} == {("failed", 1)}
    assert all("connect" in n.error.lower() for n in notices), [n.error for n in notices]  # connection refused
    jobs = _notify_jobs(db)
    assert {job.state for job in jobs} == {"queued"} and all("NotSent" in job.last_error for job in jobs)
    assert _run_due(db) == 0  # not before the backoff

    sink = SmtpSink(relay_port, refuse=3)  # 2. the relay answers 451 to each of them
    controller = Controller(sink, hostname="127.0.0.1", port=relay_port)
    controller.start()
    try:
        assert 0 < _wait_until_due(db) <= BACKOFF
        assert _run_due(db) == 3
        assert {(n.state, n.attempts) for n in _notices(db)} == {("failed", 2)}
        assert all("451" in n.error for n in _notices(db)) and sink.messages == []

        # 3. the relay is back: each notice goes out once
        assert BACKOFF < _wait_until_due(db) <= 2 * BACKOFF  # the backoff doubled
        assert _run_due(db) == 3
        assert {(n.state, n.attempts) for n in _notices(db)} == {("sent", 3)}
        assert {job.state for job in _notify_jobs(db)} == {"done"}
        assert sink.kinds() == ["receipt", "receipt", "rejection"]
        assert all(len(sent) == 1 for sent in sink.by_notice().values())
        for job in _notify_jobs(db):  # a job run once more (a lost lease) sends nothing
            assert handoff.send_notice(db, job, actor="worker:test") == "sent-before"
        assert len(sink.messages) == 3
    finally:
        controller.stop()


class DroppingRelay:
    """A relay that takes the whole message and hangs up instead of answering it (e.g. it crashed)."""

    def __init__(self, port: int):
        self.port, self.connections, self.messages = port, 0, []
        self.server = socket.create_server(("127.0.0.1", port))
        self.server.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b"220 relay.test ESMTP\r\n")
                for line in lines:
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        conn.sendall(b"354 go ahead\r\n")
                        self.messages.append(b"".join(iter(lines.readline, b".\r\n")))
                        break  # the message is here, and the connection goes away without an answer
                    conn.sendall(b"221 bye\r\n" if verb == b"QUIT" else b"250 ok\r\n")

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.server.close()


def test_relay_dropping_the_connection_during_data_is_unknown_and_listed(db, intake_smtpd, relay_port):
    settings = intake_smtpd(db)
    relay = DroppingRelay(relay_port)
    try:
        assert _send(settings, build_mail([("RE-2026-0703.xml", ubl_invoice(number="RE-2026-0703"))])) == {}
        run_worker(once=True, db=db)
        [notice] = _notices(db)
        assert (notice.kind, notice.state, notice.attempts) == ("receipt", "unknown", 1)
        assert [job.state for job in _notify_jobs(db)] == ["done"]  # no retry: it may have gone out
        assert relay.connections == 1 and len(relay.messages) == 1
        [job] = _notify_jobs(db)
        assert handoff.send_notice(db, job, actor="worker:test") == "unknown"  # run again: still not resent
        assert relay.connections == 1
    finally:
        relay.stop()
    with db.read() as session:
        reasons = session.scalars(sa.select(AuditEvent.reason).where(AuditEvent.item_id == notice.item_id,
                                                                    AuditEvent.event == "notice-unknown")).all()
        assert [n.id for n in handoff.notices_needing_attention(session)] == [notice.id]
    assert len(reasons) == 1 and "not sent again" in reasons[0]
    page = _admin_page(db, "/verwaltung/auftraege")
    assert "Benachrichtigungen, die Aufmerksamkeit brauchen (1)" in page
    assert "buchhaltung@musterbau.example" in page and ">unklar (evtl. zugestellt)<" in page


def _admin_page(db, path: str) -> str:
    from fastapi.testclient import TestClient

    from einvoice.web.app import create_app
    from einvoice.web.ui.passwords import set_password
    from ui_helpers import PASSWORD, login

    with db.transaction() as session:
        session.add(User(username="it-admin", display_name="IT", roles=["admin"], active=True))
    set_password(db, "it-admin", PASSWORD)
    client = TestClient(create_app(settings=db.settings, db=db), follow_redirects=False,
                        base_url="https://testserver")  # EINVOICE_BASE_URL is https: a Secure cookie
    assert login(client, "it-admin").status_code == 303
    page = client.get(path)
    assert page.status_code == 200
    return page.text
