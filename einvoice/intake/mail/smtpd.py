"""SMTP receiver (aiosmtpd) for mail forwarded by the municipality's mail server.

Answers **250 only after the message is durably stored**: the .eml and attachments are in the blob
store and the ledger row, the items and the receipts are committed (`store_mail`, run in a thread so
the event loop keeps serving other connections). A failure to store answers ``451`` (the sending
server keeps the message and tries again; the ledger's SHA-256/Message-ID keys make the retry of a
message that was in fact stored an ``already-imported`` no-op), a full disk ``452 4.3.1`` (likewise).
Mail larger than the limit gets ``552`` (at MAIL FROM when the client announces SIZE, else after
DATA), recipients outside the configured domains ``550`` at RCPT TO, and, if
``EINVOICE_SMTPD_ALLOWED_PEERS`` is set, clients from other addresses ``550`` at MAIL FROM.

The bytes are stored exactly as received (no trace header is added, so the SHA-256 of the archived
.eml is that of what the forwarding server sent); the envelope (MAIL FROM, RCPT TO) is kept in the
ledger row.

Settings (environment): ``EINVOICE_SMTPD_DOMAINS`` (required: comma-separated recipient domains, e.g.
``rechnung.musterstadt.de``), ``EINVOICE_SMTPD_HOST`` (127.0.0.1), ``EINVOICE_SMTPD_PORT`` (2525),
``EINVOICE_SMTPD_MAX_BYTES`` (default ``EINVOICE_MAIL_MAX_BYTES``, 64 MiB),
``EINVOICE_SMTPD_ALLOWED_PEERS`` (comma-separated addresses or networks; default: any),
``EINVOICE_SMTPD_HOSTNAME`` (the name in the greeting).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass, field
from functools import partial

from ...config import environ as settings_env
from ...store.blobs import StorageFull
from ...store.db import Database
from .message import MailLimits, MailTooLarge
from .store import store_mail

log = logging.getLogger("einvoice.intake.mail.smtpd")


class SmtpdNotConfigured(RuntimeError):
    pass


@dataclass(frozen=True)
class SmtpdSettings:
    domains: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 2525
    max_bytes: int = MailLimits.max_message_bytes
    allowed_peers: tuple = field(default_factory=tuple)  # ip networks; empty: any
    hostname: str | None = None

    @classmethod
    def from_env(cls, *, host: str | None = None, port: int | None = None) -> "SmtpdSettings":
        env = settings_env
        domains = tuple(d.strip().lower().rstrip(".") for d in env.get("EINVOICE_SMTPD_DOMAINS", "").split(",")
                        if d.strip())
        if not domains:
            raise SmtpdNotConfigured("set EINVOICE_SMTPD_DOMAINS to the recipient domain(s) this receiver accepts")
        peers = tuple(ipaddress.ip_network(p.strip(), strict=False)
                      for p in env.get("EINVOICE_SMTPD_ALLOWED_PEERS", "").split(",") if p.strip())
        limit = env.get("EINVOICE_SMTPD_MAX_BYTES", "").strip() or env.get("EINVOICE_MAIL_MAX_BYTES", "").strip()
        return cls(domains=domains, host=host or env.get("EINVOICE_SMTPD_HOST", "").strip() or "127.0.0.1",
                   port=int(port or env.get("EINVOICE_SMTPD_PORT", "").strip() or 2525),
                   max_bytes=int(limit) if limit else MailLimits.max_message_bytes, allowed_peers=peers,
                   hostname=env.get("EINVOICE_SMTPD_HOSTNAME", "").strip() or None)

    def accepts(self, address: str) -> bool:
        domain = address.strip().strip("<>").rpartition("@")[2].lower().rstrip(".")
        return bool(domain) and domain in self.domains

    def peer_allowed(self, peer) -> bool:
        if not self.allowed_peers:
            return True
        try:
            address = ipaddress.ip_address(peer[0] if isinstance(peer, (tuple, list)) else peer)
        except (ValueError, TypeError, IndexError):
            return False
        return any(address in network for network in self.allowed_peers)


class IntakeHandler:
    """aiosmtpd handler: checks the envelope, stores each message durably before answering."""

    def __init__(self, db: Database, settings: SmtpdSettings, limits: MailLimits | None = None):
        self.db = db
        self.settings = settings
        base = limits or MailLimits.from_env()
        self.limits = MailLimits(**{**base.__dict__, "max_message_bytes": settings.max_bytes})

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if not self.settings.peer_allowed(session.peer):
            log.warning("refused mail from %s (not an allowed peer)", session.peer)
            return "550 5.7.1 Mail from this host is not accepted here"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.settings.accepts(address):
            return f"550 5.1.1 <{address}>: recipient domain not accepted here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            stored = await loop.run_in_executor(None, partial(
                store_mail, self.db, raw, channel="smtp", envelope_from=envelope.mail_from,
                recipients=list(envelope.rcpt_tos), limits=self.limits, actor="intake:smtp"))
        except MailTooLarge as exc:
            return f"552 5.3.4 {exc}"
        except StorageFull as exc:  # nothing half-written was kept (store.blobs): the sender tries again later
            log.error("storing a message from %s (peer %s) failed, storage full: answered 452: %s", envelope.mail_from,
                      session.peer, exc)
            return "452 4.3.1 Insufficient system storage, please try again later"
        except Exception:
            log.exception("storing a message from %s (peer %s) failed: answered 451", envelope.mail_from, session.peer)
            return "451 4.3.0 Temporary failure: the message was not stored, please try again later"
        log.info("stored mail #%s from %s (%s, %d items)", stored.ledger_id, envelope.mail_from, stored.outcome,
                 len(stored.item_ids))
        return f"250 2.0.0 Stored as mail #{stored.ledger_id} ({stored.outcome})"


def make_controller(db: Database, settings: SmtpdSettings, limits: MailLimits | None = None):
    from aiosmtpd.controller import Controller

    handler = IntakeHandler(db, settings, limits)
    return Controller(handler, hostname=settings.host, port=settings.port, data_size_limit=settings.max_bytes,
                      server_hostname=settings.hostname or socket.getfqdn(), ident="einvoice smtpd")


def serve(db: Database, settings: SmtpdSettings, stop_event: threading.Event) -> None:
    """Run the receiver until ``stop_event`` is set."""
    controller = make_controller(db, settings)
    controller.start()
    log.info("einvoice smtpd listening on %s:%s for %s", settings.host, settings.port, ", ".join(settings.domains))
    try:
        stop_event.wait()
    finally:
        controller.stop()
