"""Notices to suppliers by e-mail, sent by the ``notify`` job through the SMTP relay (aiosmtplib).

Kinds (`NoticeKind`): ``receipt`` (Eingangsbestätigung with the intake id and the status link
``<EINVOICE_BASE_URL>/status/{id}/{token}``, `einvoice.intake.status_token`), ``rejection`` (the
item was rejected: German and English, the readable validation report attached as HTML),
``duplicate`` (the same invoice came before) and ``no-invoice`` (a mail without an invoice
attachment, e.g. an invoice only in the body), ``workflow-rejection`` (rejected in the approval, with
the approver's reason; queued by `einvoice.routing.workflow.decisions.reject_to_supplier` for any
channel: recipient `workflow_rejection_recipient`).

**Enqueued in the transaction that causes it**: the receipt and the no-invoice notice with the mail's
intake rows (`einvoice.intake.mail.store`), the rejection and the duplicate notice with the
transition (`notify_item`, called from `einvoice.intake.process`). A notice goes only to items that
came by mail and to a usable address of a message that was not automatic (see
`einvoice.intake.mail.message.no_notify_reason`).

**At most once** (`MailNotification`, unique per (subject, kind)): the job commits ``sending``
before the SMTP transaction and ``sent`` after it. A retried job finds ``sent`` and does nothing.
If the relay refused or could not be reached (nothing was transferred) the row is ``failed`` and the
job retries. If the worker died between ``sending`` and ``sent``, or the connection broke during
DATA, nobody knows whether the relay took the message: the row becomes ``unknown``, the notice is
NOT sent again (a second receipt or rejection is worse than a missing one, which the status page
makes up for), an audit event on the item and an error in the log report it, and
`notices_needing_attention` lists it for an admin.

Relay settings (environment): ``EINVOICE_SMTP_RELAY_HOST`` (required to send), ``_PORT`` (default 25,
465 with ``TLS=tls``, 587 with ``TLS=starttls``), ``_TLS`` (``starttls`` default, ``tls``,
``none``), ``_TLS_VERIFY`` (1), ``_USER``, ``_PASSWORD``, ``_FROM`` (the sender, required, e.g.
``Rechnungseingang Musterstadt <rechnungseingang@musterstadt.de>``), ``_TIMEOUT`` (30 s).
"""

from __future__ import annotations

import asyncio
import email.policy
import logging
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import environ as settings_env
from ..jobs.queue import enqueue
from ..jobs.registry import JobContext, job_kind
from ..store.db import Database
from ..store.mail_models import MailMessage, MailNotification, NoticeKind, NoticeState
from ..store.models import IntakeItem, Job, ValidationReport
from ..store.types import utcnow
from .notices import NoticeContext, compose

log = logging.getLogger("einvoice.handoff.mail")

JOB_KIND = "notify"
MAIL_CHANNELS = ("imap", "smtp")


class RelayNotConfigured(RuntimeError):
    pass


class NotSent(RuntimeError):
    """The relay did not take the message (refused, unreachable): safe to try again."""


class OutcomeUnknown(RuntimeError):
    """The connection broke while the message was being transferred: it may or may not have been sent."""


@dataclass(frozen=True)
class RelaySettings:
    host: str
    port: int
    sender: str
    tls: str = "starttls"  # starttls | tls | none
    verify: bool = True
    user: str | None = None
    password: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_env(cls) -> "RelaySettings":
        env = settings_env
        host = env.get("EINVOICE_SMTP_RELAY_HOST", "").strip()
        sender = env.get("EINVOICE_SMTP_RELAY_FROM", "").strip()
        if not host or not sender:
            raise RelayNotConfigured("set EINVOICE_SMTP_RELAY_HOST and EINVOICE_SMTP_RELAY_FROM to send notices")
        tls = env.get("EINVOICE_SMTP_RELAY_TLS", "starttls").strip().lower() or "starttls"
        if tls not in ("starttls", "tls", "none"):
            raise RelayNotConfigured(f"EINVOICE_SMTP_RELAY_TLS must be starttls, tls or none, not {tls!r}")
        default_port = {"tls": 465, "starttls": 587, "none": 25}[tls]
        port = int(env.get("EINVOICE_SMTP_RELAY_PORT", "").strip() or default_port)
        return cls(host=host, port=port, sender=sender, tls=tls,
                   verify=env.get("EINVOICE_SMTP_RELAY_TLS_VERIFY", "1").strip().lower() not in ("0", "false", "no"),
                   user=env.get("EINVOICE_SMTP_RELAY_USER") or None,
                   password=env.get("EINVOICE_SMTP_RELAY_PASSWORD") or None,
                   timeout=float(env.get("EINVOICE_SMTP_RELAY_TIMEOUT", "").strip() or 30.0))

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1] or self.sender


# ---------------------------------------------------------------------------- sending


async def _deliver(relay: RelaySettings, data: bytes, recipients: list[str]) -> str:
    import aiosmtplib

    context = None
    if relay.tls != "none":
        context = ssl.create_default_context()
        if not relay.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    smtp = aiosmtplib.SMTP(hostname=relay.host, port=relay.port, use_tls=relay.tls == "tls",
                           start_tls=relay.tls == "starttls", tls_context=context, timeout=relay.timeout)
    try:
        try:  # nothing is transferred before DATA: any failure here means "not sent"
            await smtp.connect()
            if relay.user:
                await smtp.login(relay.user, relay.password or "")
            await smtp.mail(relay.sender_address)
            for recipient in recipients:
                await smtp.rcpt(recipient)
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            raise NotSent(f"{type(exc).__name__}: {exc}") from exc
        try:
            response = await smtp.data(data)
        except aiosmtplib.SMTPResponseException as exc:  # the relay answered and refused the message
            raise NotSent(f"refused: {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            raise OutcomeUnknown(f"{type(exc).__name__} during DATA: {exc}") from exc
        try:
            await smtp.quit()
        except Exception:  # the message is taken; a failing QUIT changes nothing
            pass
        return f"{response.code} {response.message}"
    finally:
        smtp.close()


def send_mail(relay: RelaySettings, message: EmailMessage, recipients: list[str]) -> str:
    """Send one message; returns the relay's answer. Raises `NotSent` or `OutcomeUnknown`."""
    data = message.as_bytes(policy=email.policy.SMTP)
    return asyncio.run(_deliver(relay, data, recipients))


# ---------------------------------------------------------------------------- enqueueing


def enqueue_notice(session: Session, kind: NoticeKind | str, *, item_id: int | None = None,
                   mail_message_id: int | None = None, max_attempts: int | None = None) -> Job:
    """Queue a notice in the caller's transaction (the one that makes the transition causing it).

    ``max_attempts`` defaults to ``EINVOICE_NOTICE_MAX_ATTEMPTS`` (16: with the default backoff of 30 s doubled
    up to an hour, a notice outlasts about 9 hours of relay outage before it is dead and listed for an admin).
    """
    if max_attempts is None:
        from ..config import load_settings

        max_attempts = load_settings().notice_max_attempts
    kind = NoticeKind(kind)
    if (item_id is None) == (mail_message_id is None):
        raise ValueError("a notice is about an item or about a mail message")
    payload = {"kind": kind.value}
    if mail_message_id is not None:
        payload["mail_message_id"] = mail_message_id
    return enqueue(session, JOB_KIND, item_id=item_id, payload=payload, max_attempts=max_attempts)


def notify_item(session: Session, item: IntakeItem, kind: NoticeKind | str) -> Job | None:
    """Queue a notice about an item that came by mail (no-op for other channels or automatic mail)."""
    if item.channel not in MAIL_CHANNELS:
        return None
    mail = (item.extra or {}).get("mail") or {}
    if not mail.get("notify_to"):
        return None
    return enqueue_notice(session, kind, item_id=item.id)


# ---------------------------------------------------------------------------- the job


def _subject(job: Job) -> str:
    if job.item_id is not None:
        return f"item:{job.item_id}"
    return f"mail:{int((job.payload or {})['mail_message_id'])}"


def _other_files(row: MailMessage | None) -> list[str]:
    parts = ((row.details or {}).get("parts") or []) if row is not None else []
    return [p["file_name"] for p in parts if p.get("role") == "other" and p.get("origin") == "attachment"
            and not (p.get("inline") and str(p.get("content_type", "")).startswith("image/"))]  # no signature logos


def _context(session: Session, db: Database, kind: NoticeKind, job: Job) -> NoticeContext | None:
    from ..intake.status_token import status_url

    if job.item_id is None:
        row = session.get(MailMessage, int(job.payload["mail_message_id"]))
        if row is None or not row.reply_to:
            return None
        details = row.details or {}
        return NoticeContext(kind=kind.value, recipient=row.reply_to, original_message_id=row.message_id,
                             original_subject=row.subject, received_at=row.received_at,
                             notes=details.get("notes") or [], body_has_invoice=bool(details.get("body_has_invoice")))
    item = session.get(IntakeItem, job.item_id)
    if item is None:
        return None
    if kind is NoticeKind.WORKFLOW_REJECTION:
        return _workflow_rejection_context(session, db, item)
    mail = (item.extra or {}).get("mail") or {}
    recipient = mail.get("notify_to")
    if not recipient:
        return None
    row = session.get(MailMessage, mail["ledger_id"]) if mail.get("ledger_id") else None
    context = NoticeContext(kind=kind.value, recipient=recipient, original_message_id=mail.get("message_id"),
                            original_subject=mail.get("subject"), item_id=item.id, file_name=item.file_name,
                            invoice_number=item.invoice_number, received_at=item.received_at,
                            companion=(item.extra or {}).get("companion"), triage=item.triage,
                            other_files=_other_files(row))
    context.status_url = status_url(item.id, item.uid, data_dir=db.settings.data_dir)
    if kind is NoticeKind.REJECTION:
        report = session.scalars(select(ValidationReport).where(ValidationReport.item_id == item.id)
                                 .order_by(ValidationReport.id.desc())).first()
        context.report = report.report if report is not None else None
    if kind is NoticeKind.DUPLICATE and item.duplicate_of_id is not None:
        first = session.get(IntakeItem, item.duplicate_of_id)
        context.duplicate_of = {"id": item.duplicate_of_id, "received_at": first.received_at if first else None,
                                "invoice_number": first.invoice_number if first else None,
                                "same_file": bool(first and first.sha256 == item.sha256)}
    return context


def _seller_email(model: dict) -> str | None:
    terms = model.get("terms") or {}
    candidates = [terms.get("BT-43")]
    if str(terms.get("BT-34-1") or "").strip().upper() == "EM":
        candidates.append(terms.get("BT-34"))
    for value in candidates:
        value = value[0] if isinstance(value, list) and value else value
        address = parseaddr(" ".join(str(value or "").split()))[1]
        if "@" in address and " " not in address:
            return address
    return None


def workflow_rejection_recipient(session: Session, item: IntakeItem) -> str | None:
    """Where a rejection in the approval goes: the mail's sender if the item came by mail (its
    notify address), else the seller's e-mail (BT-43, else BT-34 with scheme EM) of the parsed
    invoice, else None."""
    from ..store.models import ParsedInvoice

    mail = (item.extra or {}).get("mail") or {}
    if item.channel in MAIL_CHANNELS and mail.get("notify_to"):
        return mail["notify_to"]
    parsed = session.scalars(select(ParsedInvoice).where(ParsedInvoice.item_id == item.id)
                             .order_by(ParsedInvoice.id.desc())).first()
    return _seller_email(parsed.model) if parsed is not None else None


def _workflow_rejection_context(session: Session, db: Database, item: IntakeItem) -> NoticeContext | None:
    from ..intake.status_token import status_url
    from ..store.routing_models import ApprovalCase, ApprovalStep

    recipient = workflow_rejection_recipient(session, item)
    if not recipient:
        return None
    reason = session.scalars(select(ApprovalStep.reason).join(ApprovalCase, ApprovalCase.id == ApprovalStep.case_id)
                             .where(ApprovalCase.item_id == item.id, ApprovalStep.decision == "reject")
                             .order_by(ApprovalStep.decided_at.desc(), ApprovalStep.id.desc())).first()
    if reason is None:  # rejected before the approval started (einvoice.routing.rejection)
        from ..routing.rejection import rejection_reason

        reason = rejection_reason(session, item.id)
    mail = (item.extra or {}).get("mail") or {}
    by_mail = item.channel in MAIL_CHANNELS and mail.get("notify_to") == recipient
    return NoticeContext(kind=NoticeKind.WORKFLOW_REJECTION.value, recipient=recipient,
                         original_message_id=mail.get("message_id") if by_mail else None,
                         original_subject=mail.get("subject") if by_mail else None, item_id=item.id,
                         file_name=item.file_name, invoice_number=item.invoice_number, received_at=item.received_at,
                         status_url=status_url(item.id, item.uid, data_dir=db.settings.data_dir), reason=reason)


def _audit(session: Session, item_id: int | None, *, actor: str, event: str, reason: str, details: dict) -> None:
    if item_id is None:
        return
    from ..intake.states import audit

    item = session.get(IntakeItem, item_id)
    if item is not None:
        audit(item, actor=actor, event=event, reason=reason, details=details)


def send_notice(db: Database, job: Job, *, actor: str, relay: RelaySettings | None = None) -> str:
    """Send the notice of a ``notify`` job at most once; returns what happened (sent, sent-before,
    unknown, skipped). Raises (so that the job retries) when the relay did not take it."""
    kind = NoticeKind((job.payload or {})["kind"])
    subject = _subject(job)
    with db.transaction() as session:
        row = session.scalars(select(MailNotification).where(MailNotification.subject == subject,
                                                             MailNotification.kind == kind.value)
                              .with_for_update()).first()
        if row is not None and row.state == NoticeState.SENT:
            return "sent-before"
        if row is not None and row.state == NoticeState.UNKNOWN:
            return "unknown"
        if row is not None and row.state == NoticeState.SENDING:
            # the previous attempt stopped between "sending" and "sent": the relay may have it
            row.state, row.updated_at = NoticeState.UNKNOWN.value, utcnow()
            row.error = ("an earlier attempt stopped while sending (worker crash or lost lease): not sent again, "
                         "so that the supplier never gets it twice; check with the relay's log or the recipient")
            _audit(session, row.item_id, actor=actor, event="notice-unknown",
                   reason=f"{kind.value} notice to {row.recipient}: outcome unknown, not sent again",
                   details={"notification_id": row.id, "message_id": row.message_id})
            log.error("notice %s %s to %s: an earlier attempt stopped while sending; not sent again (at most once)",
                      kind.value, subject, row.recipient)
            return "unknown"
        context = _context(session, db, kind, job)
        if context is None:
            log.info("notice %s %s: nobody to send it to, skipped", kind.value, subject)
            return "skipped"
        relay = relay or RelaySettings.from_env()
        message = compose(context, relay.sender)
        if row is None:
            row = MailNotification(subject=subject, kind=kind.value, item_id=job.item_id,
                                   mail_message_id=(job.payload or {}).get("mail_message_id"),
                                   recipient=context.recipient[:1024], attempts=0, created_at=utcnow())
            session.add(row)
        row.state, row.updated_at = NoticeState.SENDING.value, utcnow()
        row.attempts = (row.attempts or 0) + 1
        row.message_id = str(message["Message-ID"])
        row.recipient = context.recipient[:1024]
        session.flush()
        row_id = row.id
    # committed: "sending". From here until "sent" commits, a crash means: outcome unknown.
    try:
        answer = send_mail(relay, message, [context.recipient])
    except NotSent as exc:
        with db.transaction() as session:
            row = session.get(MailNotification, row_id, with_for_update=True)
            row.state, row.error, row.updated_at = NoticeState.FAILED.value, str(exc)[:4000], utcnow()
        raise
    except OutcomeUnknown as exc:
        with db.transaction() as session:
            row = session.get(MailNotification, row_id, with_for_update=True)
            row.state, row.error, row.updated_at = NoticeState.UNKNOWN.value, str(exc)[:4000], utcnow()
            _audit(session, row.item_id, actor=actor, event="notice-unknown",
                   reason=f"{kind.value} notice to {row.recipient}: connection lost during sending, not sent again",
                   details={"notification_id": row.id, "message_id": row.message_id, "error": str(exc)[:500]})
        log.error("notice %s %s to %s: %s; not sent again (at most once)", kind.value, subject, context.recipient, exc)
        return "unknown"
    with db.transaction() as session:
        row = session.get(MailNotification, row_id, with_for_update=True)
        row.state, row.sent_at, row.updated_at, row.error = NoticeState.SENT.value, utcnow(), utcnow(), None
        _audit(session, row.item_id, actor=actor, event="notice-sent",
               reason=f"{kind.value} notice sent to {row.recipient}",
               details={"notification_id": row.id, "message_id": row.message_id, "relay": answer[:200]})
    return "sent"


@job_kind(JOB_KIND)
def notify_job(ctx: JobContext, job: Job) -> None:
    send_notice(ctx.db, job, actor=ctx.actor)


def notices_needing_attention(session: Session, limit: int = 100) -> list[MailNotification]:
    """Notices whose outcome is unknown or that still fail: for the admin view."""
    query = select(MailNotification).where(MailNotification.state.in_((NoticeState.UNKNOWN.value,
                                                                       NoticeState.FAILED.value,
                                                                       NoticeState.SENDING.value)))
    return list(session.scalars(query.order_by(MailNotification.id.desc()).limit(limit)))
