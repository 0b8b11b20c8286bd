"""Poll IMAP mailboxes: import every message exactly once, then move it; reconcile mailbox and ledger.

Client: **imapclient** (synchronous). A poll run is a short batch job next to synchronous
SQLAlchemy code; imapclient parses FETCH responses into Python types, handles MOVE/UIDPLUS, literal
and folder-name encoding, STARTTLS and timeouts, and is mature and widely used. aioimaplib would
give asyncio, which a poll run does not need, and leaves response parsing to the caller.

One run (`poll_once`), per configured folder:

1. take the poll lock of the mailbox (`lock.poll_lock`); if another run holds it, skip;
2. SELECT the folder, read UIDVALIDITY, list the UIDs (every message still in the folder is work:
   processed ones are moved out, so ``\\Seen`` flags set by people do not matter);
3. for each UID, in order: if the ledger already has (mailbox, UIDVALIDITY, UID) — a run stored it
   and died before moving it — just move it now. Otherwise fetch it (``BODY.PEEK[]``), `store_mail`
   (.eml, attachments, ledger row, items, receipts: durable on return), and only THEN move it to the
   done folder (MOVE, or COPY + UID EXPUNGE of that one UID) and note the move in the ledger.
4. a message that fails to import stays where it is and is retried at the next run (``failing`` in
   the ledger, attempts counted); after ``EINVOICE_IMAP_MAX_ATTEMPTS`` failures, or when it is larger
   than the limit, it goes to the error folder (``error`` in the ledger, the traceback kept).
   Nothing is ever deleted.

`reconcile` compares mailbox and ledger and lists every gap (see `Gap`).

Settings (environment, read here): ``EINVOICE_IMAP_HOST``, ``_PORT`` (993 with TLS, else 143),
``_USER``, ``_PASSWORD`` (or ``_PASSWORD_FILE``), ``_TLS`` (``tls`` default, ``starttls``,
``none``), ``_TLS_VERIFY`` (1), ``_CA_FILE``, ``_FOLDERS`` (comma-separated, default ``INBOX``),
``_DONE_FOLDER`` (``einvoice-done``), ``_ERROR_FOLDER`` (``einvoice-error``), ``_POLL_SECONDS``
(60), ``_MAX_ATTEMPTS`` (5), ``_BATCH`` (messages per folder and run, 200), ``_TIMEOUT`` (60 s).
"""

from __future__ import annotations

import logging
import ssl
import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.parser import BytesHeaderParser
from email import policy as email_policy

from sqlalchemy import select

from ...config import setting
from ...store.blobs import sha256_hex
from ...store.db import Database
from ...store.mail_models import FINAL_OUTCOMES, MailMessage, MailOutcome
from ...store.types import utcnow
from .lock import poll_lock
from .message import MailLimits, MailTooLarge
from .store import StoredMail, find_delivery, normalize_message_id, record_failure, record_moved, store_mail

log = logging.getLogger("einvoice.intake.mail.imap")

DELETED = b"\\Deleted"


class ImapNotConfigured(RuntimeError):
    pass


def _env(name: str, default: str = "") -> str:
    return setting(f"EINVOICE_IMAP_{name}", default).strip()


@dataclass(frozen=True)
class ImapSettings:
    host: str
    user: str
    password: str = field(repr=False)
    port: int = 993
    tls: str = "tls"  # tls | starttls | none
    verify: bool = True
    ca_file: str | None = None
    folders: tuple[str, ...] = ("INBOX",)
    done_folder: str = "einvoice-done"
    error_folder: str = "einvoice-error"
    poll_seconds: float = 60.0
    max_attempts: int = 5
    batch: int = 200
    timeout: float = 60.0

    @classmethod
    def from_env(cls) -> "ImapSettings":
        host, user = _env("HOST"), _env("USER")
        password = setting("EINVOICE_IMAP_PASSWORD", "")
        if not password and _env("PASSWORD_FILE"):
            with open(_env("PASSWORD_FILE"), encoding="utf-8") as stream:
                password = stream.read().strip()
        if not host or not user or not password:
            raise ImapNotConfigured("set EINVOICE_IMAP_HOST, EINVOICE_IMAP_USER and EINVOICE_IMAP_PASSWORD "
                                    "(or EINVOICE_IMAP_PASSWORD_FILE)")
        tls = _env("TLS", "tls").lower() or "tls"
        if tls not in ("tls", "starttls", "none"):
            raise ImapNotConfigured(f"EINVOICE_IMAP_TLS must be tls, starttls or none, not {tls!r}")
        folders = tuple(f.strip() for f in _env("FOLDERS", "INBOX").split(",") if f.strip()) or ("INBOX",)
        settings = cls(host=host, user=user, password=password, port=int(_env("PORT") or (993 if tls == "tls" else 143)),
                       tls=tls, verify=_env("TLS_VERIFY", "1").lower() not in ("0", "false", "no"),
                       ca_file=_env("CA_FILE") or None, folders=folders,
                       done_folder=_env("DONE_FOLDER") or cls.done_folder,
                       error_folder=_env("ERROR_FOLDER") or cls.error_folder,
                       poll_seconds=float(_env("POLL_SECONDS") or 60.0),
                       max_attempts=max(1, int(_env("MAX_ATTEMPTS") or 5)),
                       batch=max(1, int(_env("BATCH") or 200)), timeout=float(_env("TIMEOUT") or 60.0))
        if set(settings.folders) & {settings.done_folder, settings.error_folder}:
            raise ImapNotConfigured("the done and error folders must not be polled")
        return settings

    @property
    def account(self) -> str:
        return f"imap://{self.user}@{self.host}:{self.port}"

    def mailbox(self, folder: str) -> str:
        return f"{self.account}/{folder}"


def connect(settings: ImapSettings):
    from imapclient import IMAPClient

    context = None
    if settings.tls != "none":
        context = ssl.create_default_context(cafile=settings.ca_file)
        if not settings.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    client = IMAPClient(settings.host, port=settings.port, ssl=settings.tls == "tls", ssl_context=context,
                        timeout=settings.timeout)
    client.normalise_times = False  # INTERNALDATE with its zone
    try:
        if settings.tls == "starttls":
            client.starttls(context)
        client.login(settings.user, settings.password)
    except Exception:
        try:
            client.shutdown()
        except Exception:
            pass
        raise
    return client


def _logout(client) -> None:
    try:
        client.logout()
    except Exception:
        try:
            client.shutdown()
        except Exception:
            pass


def ensure_folders(client, settings: ImapSettings) -> None:
    for folder in (settings.done_folder, settings.error_folder):
        if not client.folder_exists(folder):
            try:
                client.create_folder(folder)
            except Exception:
                if not client.folder_exists(folder):  # created by a concurrent run meanwhile: fine
                    raise


def move(client, uid: int, folder: str) -> None:
    """Move one message (MOVE, else COPY + UID EXPUNGE of just this UID: a copy exists before the original goes).

    A message that is gone already (a concurrent run moved it) is no error.
    """
    try:
        _move(client, uid, folder)
    except Exception:
        if client.search(["UID", str(uid)]):
            raise
        log.info("uid %s is no longer in the folder (moved by another run)", uid)


def _move(client, uid: int, folder: str) -> None:
    if client.has_capability("MOVE"):
        client.move([uid], folder)
        return
    client.copy([uid], folder)
    client.add_flags([uid], [DELETED])
    if client.has_capability("UIDPLUS"):
        client.uid_expunge([uid])
    # without UIDPLUS the original stays flagged \Deleted (never expunged by us) and is not polled again


def _header_value(raw: bytes | None, name: str) -> str | None:
    if not raw:
        return None
    try:
        value = BytesHeaderParser(policy=email_policy.default).parsebytes(raw).get(name)
    except Exception:
        return None
    return " ".join(str(value).split()) if value else None


def _aware(moment) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


@dataclass
class PollReport:
    locked: bool = False  # another run held the lock: this one did nothing
    imported: list[int] = field(default_factory=list)  # ledger ids stored by this run
    items: int = 0
    recovered: int = 0  # stored by an earlier run that died before moving: moved now
    moved: int = 0
    failed: list[dict] = field(default_factory=list)
    to_error: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        if self.locked:
            return "another poll run holds the lock: skipped"
        return (f"{len(self.imported)} messages imported ({self.items} items), {self.recovered} recovered, "
                f"{self.moved} moved, {len(self.failed)} failed, {len(self.to_error)} to the error folder")


def after_store(stored: StoredMail) -> None:
    """Called after a message is stored and before it is moved (a seam for crash tests)."""


def poll_once(db: Database, settings: ImapSettings | None = None, *, limits: MailLimits | None = None,
              stop_event: threading.Event | None = None) -> PollReport:
    settings = settings or ImapSettings.from_env()
    limits = limits or MailLimits.from_env()
    report = PollReport()
    with poll_lock(db, settings.account) as acquired:
        if not acquired:
            log.info("%s: another poll run holds the lock, skipping", settings.account)
            report.locked = True
            return report
        client = connect(settings)
        try:
            ensure_folders(client, settings)
            for folder in settings.folders:
                if stop_event is not None and stop_event.is_set():
                    break
                _poll_folder(db, client, settings, folder, limits, report, stop_event)
        finally:
            _logout(client)
    log.info("%s: %s", settings.account, report.summary())
    return report


def _poll_folder(db: Database, client, settings: ImapSettings, folder: str, limits: MailLimits,
                 report: PollReport, stop_event: threading.Event | None) -> None:
    selected = client.select_folder(folder)
    uidvalidity = int(selected[b"UIDVALIDITY"])
    mailbox = settings.mailbox(folder)
    uids = sorted(client.search(["NOT", "DELETED"]))[: settings.batch]
    if not uids:
        return
    meta = client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    for uid in uids:
        if stop_event is not None and stop_event.is_set():
            return
        data = meta.get(uid)
        if data is None:  # expunged meanwhile (someone else moved it)
            continue
        size = int(data.get(b"RFC822.SIZE") or 0)
        internal = _aware(data.get(b"INTERNALDATE"))
        message_id = _header_value(data.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]"), "Message-ID")
        with db.read() as session:
            known = find_delivery(session, mailbox, uidvalidity, uid)
            known_id, known_outcome = (known.id, known.outcome) if known is not None else (None, None)
        if known_outcome in FINAL_OUTCOMES:
            target = settings.error_folder if known_outcome == MailOutcome.ERROR else settings.done_folder
            log.info("%s uid %s: stored before (ledger #%s), moving it to %s now", mailbox, uid, known_id, target)
            move(client, uid, target)
            record_moved(db, known_id, target)
            report.recovered += 1
            report.moved += 1
            continue
        if size > limits.max_message_bytes:
            _give_up(db, client, settings, mailbox, uidvalidity, uid, size, internal, message_id, report,
                     f"the message has {size} bytes, more than the limit of {limits.max_message_bytes}", give_up=True)
            continue
        try:
            fetched = client.fetch([uid], ["BODY.PEEK[]"]).get(uid) or {}
            raw = fetched.get(b"BODY[]")
            if raw is None:
                raise RuntimeError(f"the server returned no body for UID {uid}")
            stored = store_mail(db, raw, channel="imap", received_at=internal, mailbox=mailbox,
                                uidvalidity=uidvalidity, uid=uid, limits=limits)
        except MailTooLarge as exc:
            _give_up(db, client, settings, mailbox, uidvalidity, uid, size, internal, message_id, report, str(exc),
                     give_up=True)
            continue
        except Exception:
            error = traceback.format_exc()
            log.error("%s uid %s: import failed, it stays in %s and is retried:\n%s", mailbox, uid, folder, error)
            _give_up(db, client, settings, mailbox, uidvalidity, uid, size, internal, message_id, report, error,
                     give_up=False)
            continue
        if stored.created:
            report.imported.append(stored.ledger_id)
            report.items += len(stored.item_ids)
        else:
            report.recovered += 1
        after_store(stored)
        target = settings.error_folder if stored.outcome == MailOutcome.ERROR else settings.done_folder
        move(client, uid, target)
        record_moved(db, stored.ledger_id, target)
        report.moved += 1


def _give_up(db: Database, client, settings: ImapSettings, mailbox: str, uidvalidity: int, uid: int, size: int,
             internal, message_id, report: PollReport, error: str, *, give_up: bool) -> None:
    entry = {"mailbox": mailbox, "uidvalidity": uidvalidity, "uid": uid, "message_id": message_id,
             "error": error.strip().splitlines()[-1] if error.strip() else error}
    try:
        row = record_failure(db, channel="imap", mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, size=size,
                             received_at=internal, message_id=message_id, error=error,
                             max_attempts=settings.max_attempts, give_up=give_up)
    except Exception:  # the database is away: the message stays and the next run tries again
        log.exception("%s uid %s: recording the failure failed too", mailbox, uid)
        report.failed.append(entry)
        return
    if row.outcome == MailOutcome.ERROR:
        log.error("%s uid %s: giving up after %s attempt(s), moving it to %s: %s", mailbox, uid, row.attempts,
                  settings.error_folder, entry["error"])
        move(client, uid, settings.error_folder)
        record_moved(db, row.id, settings.error_folder)
        report.to_error.append({**entry, "ledger_id": row.id, "attempts": row.attempts})
    else:
        report.failed.append({**entry, "ledger_id": row.id, "attempts": row.attempts})


def run_poller(db: Database, settings: ImapSettings | None = None, *, stop_event: threading.Event | None = None,
               once: bool = False) -> PollReport | None:
    """Poll every ``poll_seconds`` until ``stop_event`` is set (or once). Errors are logged, never fatal."""
    settings = settings or ImapSettings.from_env()
    stop_event = stop_event or threading.Event()
    last = None
    while not stop_event.is_set():
        try:
            last = poll_once(db, settings, stop_event=stop_event)
        except Exception:
            if once:
                raise
            log.exception("%s: poll run failed, trying again in %s s", settings.account, settings.poll_seconds)
        if once:
            return last
        stop_event.wait(settings.poll_seconds)
    return last


# ---------------------------------------------------------------------------- reconciliation


@dataclass
class Gap:
    kind: str
    folder: str
    detail: str
    uid: int | None = None
    message_id: str | None = None
    ledger_id: int | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "folder": self.folder, "uid": self.uid, "message_id": self.message_id,
                "ledger_id": self.ledger_id, "detail": self.detail}


GAP_TEXT = {
    "not-imported": "in the mailbox for longer than the grace period, not in the ledger (not imported)",
    "failing": "import failed, will be retried",
    "stored-not-moved": "imported, not yet moved (the next poll run moves it)",
    "moved-not-imported": "in the done folder, but the ledger has no import of it",
    "in-error-folder": "in the error folder: needs a person",
    "ledger-without-message": "imported and moved, but no longer in the done folder",
}


@dataclass
class ReconcileReport:
    account: str
    gaps: list[Gap] = field(default_factory=list)
    pending: int = 0  # in the poll folders, younger than the grace period: the next run takes them
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.gaps

    def to_dict(self) -> dict:
        return {"account": self.account, "ok": self.ok, "pending": self.pending, "counts": self.counts,
                "gaps": [g.to_dict() for g in self.gaps]}


def _folder_index(client, folder: str) -> tuple[int, dict[int, dict]]:
    """UIDVALIDITY and {uid: {message_id, internal, size}} of a folder (read-only)."""
    selected = client.select_folder(folder, readonly=True)
    uidvalidity = int(selected[b"UIDVALIDITY"])
    uids = client.search(["NOT", "DELETED"])
    index: dict[int, dict] = {}
    if uids:
        fetched = client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        for uid, data in fetched.items():
            index[uid] = {"message_id": normalize_message_id(
                              _header_value(data.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]"), "Message-ID")),
                          "internal": _aware(data.get(b"INTERNALDATE")), "size": int(data.get(b"RFC822.SIZE") or 0)}
    return uidvalidity, index


def _add_shas(client, folder: str, index: dict[int, dict], uids: list[int]) -> None:
    """SHA-256 of the full messages (for those without Message-ID)."""
    if not uids:
        return
    client.select_folder(folder, readonly=True)
    for uid, data in client.fetch(uids, ["BODY.PEEK[]"]).items():
        if data.get(b"BODY[]") is not None:
            index[uid]["sha256"] = sha256_hex(data[b"BODY[]"])


def reconcile(db: Database, settings: ImapSettings | None = None, *, grace_seconds: float = 3600.0,
              now: datetime | None = None) -> ReconcileReport:
    """Compare the mailbox with the ledger and list every gap. Changes nothing."""
    settings = settings or ImapSettings.from_env()
    now = now or utcnow()
    report = ReconcileReport(account=settings.account)
    mailboxes = [settings.mailbox(f) for f in settings.folders]
    client = connect(settings)
    try:
        with db.read() as session:
            rows = list(session.scalars(select(MailMessage).where(MailMessage.mailbox.in_(mailboxes))))
            known_ids = {normalize_message_id(m) for m in session.scalars(
                select(MailMessage.message_id).where(MailMessage.outcome.in_(
                    (MailOutcome.INVOICES.value, MailOutcome.NO_INVOICE.value, MailOutcome.ALREADY_IMPORTED.value))))}
            known_shas = set(session.scalars(select(MailMessage.sha256).where(MailMessage.sha256.is_not(None))))
        known_ids.discard(None)
        by_uid = {(r.mailbox, r.uidvalidity, r.uid): r for r in rows}

        for folder in settings.folders:
            mailbox = settings.mailbox(folder)
            uidvalidity, index = _folder_index(client, folder)
            report.counts[folder] = len(index)
            for uid, info in sorted(index.items()):
                row = by_uid.get((mailbox, uidvalidity, uid))
                if row is None:
                    internal = info["internal"]
                    if internal is not None and now - internal < timedelta(seconds=grace_seconds):
                        report.pending += 1
                    else:
                        report.gaps.append(Gap("not-imported", folder, GAP_TEXT["not-imported"], uid,
                                               info["message_id"]))
                elif row.outcome == MailOutcome.FAILING:
                    report.gaps.append(Gap("failing", folder, f"{GAP_TEXT['failing']} ({row.attempts} attempts): "
                                           f"{(row.error or '').strip().splitlines()[-1:] or ''}", uid,
                                           info["message_id"], row.id))
                else:
                    report.gaps.append(Gap("stored-not-moved", folder, GAP_TEXT["stored-not-moved"], uid,
                                           info["message_id"], row.id))

        done_validity, done = _folder_index(client, settings.done_folder)
        report.counts[settings.done_folder] = len(done)
        _add_shas(client, settings.done_folder, done, [uid for uid, info in done.items() if not info["message_id"]])
        for uid, info in sorted(done.items()):
            if info["message_id"] in known_ids or info.get("sha256") in known_shas:
                continue
            report.gaps.append(Gap("moved-not-imported", settings.done_folder, GAP_TEXT["moved-not-imported"], uid,
                                   info["message_id"]))

        _, errors = _folder_index(client, settings.error_folder)
        report.counts[settings.error_folder] = len(errors)
        error_rows = {normalize_message_id(r.message_id): r for r in rows if r.outcome == MailOutcome.ERROR}
        for uid, info in sorted(errors.items()):
            row = error_rows.get(info["message_id"])
            detail = GAP_TEXT["in-error-folder"]
            if row is not None and row.error:
                detail += f": {row.error.strip().splitlines()[-1]}"
            report.gaps.append(Gap("in-error-folder", settings.error_folder, detail, uid, info["message_id"],
                                   row.id if row is not None else None))

        in_done_ids = {info["message_id"] for info in done.values() if info["message_id"]}
        in_done_shas = {info.get("sha256") for info in done.values() if info.get("sha256")}
        for row in rows:
            if row.outcome not in FINAL_OUTCOMES or row.outcome == MailOutcome.ERROR:
                continue
            if row.moved_to is None:
                continue  # not moved yet: listed above as stored-not-moved while it is in the folder
            mid = normalize_message_id(row.message_id)
            present = (mid in in_done_ids) if mid else (row.sha256 in in_done_shas)
            if not present:
                _add_shas(client, settings.done_folder, done, [uid for uid, info in done.items()
                                                               if "sha256" not in info])
                in_done_shas = {info.get("sha256") for info in done.values() if info.get("sha256")}
                if row.sha256 in in_done_shas:
                    continue
                report.gaps.append(Gap("ledger-without-message", settings.done_folder,
                                       GAP_TEXT["ledger-without-message"], row.uid, row.message_id, row.id))
    finally:
        _logout(client)
    return report
