"""The demo invoices through the real intake paths, then the worker until nothing is due.

- API: the app (`einvoice.web.create_app`) runs with uvicorn on a free loopback port for the time of
  the upload; each invoice is POSTed to ``/api/v1/invoices`` with `http.client` (raw body,
  ``X-Filename``, ``X-Sender``), exactly as a supplier's software would.
- Mail: einvoice's SMTP receiver (`einvoice.intake.mail.smtpd`, the one ``einvoice smtpd`` runs)
  listens on a free loopback port for ``rechnung.musterstadt.example``; each mail invoice is sent
  with `smtplib` as a message with the invoice attached.
- Outgoing notices (receipts of mail invoices, rejections …) go through ``EINVOICE_SMTP_RELAY_*`` to
  `Outbox`, a local SMTP sink that writes each message as ``<data dir>/outbox/NNN.eml``.
- `einvoice.jobs.run_worker` (``once``): validate, parse, detect duplicates, match, start approvals.
"""

from __future__ import annotations

import http.client
import json
import os
import smtplib
import socket
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import quote

MAIL_DOMAIN = "rechnung.musterstadt.example"
MAIL_TO = f"eingang@{MAIL_DOMAIN}"
RELAY_FROM = "Rechnungseingang Stadt Musterstadt <rechnungseingang@musterstadt.example>"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _OutboxHandler:
    def __init__(self, folder: Path):
        self.folder = folder
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        with self.lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            number = len(list(self.folder.glob("*.eml"))) + 1
            (self.folder / f"{number:03d}.eml").write_bytes(raw)
        return "250 OK"


class Outbox:
    """A local SMTP sink as the relay for einvoice's outgoing notices (started by `start`)."""

    def __init__(self, folder: Path):
        from aiosmtpd.controller import Controller

        self.folder = folder
        self.port = free_port()
        self.controller = Controller(_OutboxHandler(folder), hostname="127.0.0.1", port=self.port,
                                     server_hostname="einvoice-demo-outbox")

    def start(self) -> "Outbox":
        self.controller.start()
        os.environ.update({"EINVOICE_SMTP_RELAY_HOST": "127.0.0.1", "EINVOICE_SMTP_RELAY_PORT": str(self.port),
                           "EINVOICE_SMTP_RELAY_TLS": "none", "EINVOICE_SMTP_RELAY_FROM": RELAY_FROM})
        for name in ("EINVOICE_SMTP_RELAY_USER", "EINVOICE_SMTP_RELAY_PASSWORD"):
            os.environ.pop(name, None)
        return self

    def stop(self) -> None:
        self.controller.stop()

    def count(self) -> int:
        return len(list(self.folder.glob("*.eml"))) if self.folder.is_dir() else 0


class _Server:
    """uvicorn with the app in a thread on a free loopback port (no worker: `ingest` runs it after)."""

    def __init__(self, settings, db):
        import uvicorn

        from ..web.app import create_app

        self.port = free_port()
        config = uvicorn.Config(create_app(settings, db, worker=False), host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="einvoice-demo-upload", daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the demo's upload server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(30)


def post(port: int, invoice) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        content_type = "application/pdf" if invoice.name.endswith(".pdf") else "application/xml"
        connection.request("POST", "/api/v1/invoices", body=invoice.data,
                           headers={"Content-Type": content_type, "X-Filename": quote(invoice.name),
                                    "X-Sender": invoice.sender})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status not in (202, 422):
        raise RuntimeError(f"POST /api/v1/invoices {invoice.name}: HTTP {response.status} {body[:300]!r}")
    return json.loads(body)


def mail(port: int, invoice) -> None:
    message = EmailMessage()
    message["From"] = invoice.sender
    message["To"] = MAIL_TO
    message["Subject"] = f"Rechnung {invoice.name.rsplit('.', 1)[0]}"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=invoice.sender.rpartition("@")[2])
    message.set_content("Sehr geehrte Damen und Herren,\n\nanbei unsere Rechnung als E-Rechnung.\n\n"
                        "Mit freundlichen Grüßen\nIhre Buchhaltung\n")
    maintype, subtype = ("application", "pdf") if invoice.name.endswith(".pdf") else ("application", "xml")
    message.add_attachment(invoice.data, maintype=maintype, subtype=subtype, filename=invoice.name)
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.send_message(message, from_addr=invoice.sender, to_addrs=[MAIL_TO])


def ingest(settings, db, invoices) -> dict[str, int]:
    """Deliver every invoice by its channel, then run the worker until no job is due."""
    from ..intake.mail.smtpd import SmtpdSettings, make_controller
    from ..jobs.worker import run_worker

    counts = {"api": 0, "smtp": 0, "jobs": 0}
    api = [i for i in invoices if i.channel == "api"]
    by_mail = [i for i in invoices if i.channel == "smtp"]
    if api:
        with _Server(settings, db) as server:
            for invoice in api:
                post(server.port, invoice)
                counts["api"] += 1
    if by_mail:
        smtpd_settings = SmtpdSettings(domains=(MAIL_DOMAIN,), host="127.0.0.1", port=free_port(),
                                       hostname="einvoice-demo")
        controller = make_controller(db, smtpd_settings)
        controller.start()
        try:
            for invoice in by_mail:
                mail(smtpd_settings.port, invoice)
                counts["smtp"] += 1
        finally:
            controller.stop()
    counts["jobs"] = run_worker(once=True, db=db)
    return counts
