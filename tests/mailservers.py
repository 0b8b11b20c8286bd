"""Real mail servers for the mail tests: Dovecot IMAP, an SMTP sink for outgoing notices, and the
project's own SMTP receiver.

`dovecot` (session): Debian's ``dovecot-imapd`` (``apt-get install -y dovecot-imapd``) started from a
minimal ``dovecot.conf`` written into a temporary folder: IMAP only, on 127.0.0.1 and a free port,
no TLS, passwd-file authentication with a pool of users made before the start (each test takes an
unused one and so gets an empty mailbox of its own; dovecot notices a changed passwd-file only after
a while), maildir under the temporary folder. As root the master
runs as root and the mail processes as ``nobody``; as another user everything runs as that user.
Stopped (SIGTERM) and removed after the session. Skipped with the reason where ``dovecot`` is not
installed; ``EINVOICE_TEST_REQUIRE_DOVECOT=1`` (CI) turns the skip into a failure.

`imap_account`: a fresh user on that server, as `ImapSettings` for `einvoice.intake.mail.imap`,
with helpers to APPEND, list and move messages as a mail client would.

`smtp_sink`: an aiosmtpd server that keeps every message it gets (the relay for the notices); the
``EINVOICE_SMTP_RELAY_*`` variables point at it for the test. ``refuse`` makes it answer 451 to the
next N transactions.

`intake_smtpd`: the project's receiver (`einvoice.intake.mail.smtpd`) on a free port, for a database.

Use in a test module: ``pytest_plugins = ["pg", "mailservers"]``.
"""

from __future__ import annotations

import email
import email.policy
import grp
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REQUIRE_ENV = "EINVOICE_TEST_REQUIRE_DOVECOT"
POOL = 200  # users (each an empty mailbox) made when the server starts


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def find_dovecot() -> str | None:
    return shutil.which("dovecot", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))


# ---------------------------------------------------------------------------- Dovecot

DOVECOT_CONF = """\
# written by tests/mailservers.py for one test session
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
{users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
{chroot}}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0
  }}
}}
{services}
"""

class Dovecot:
    def __init__(self, binary: str):
        self.binary = binary
        self.base = Path(tempfile.mkdtemp(prefix="einvoice-dovecot-"))
        self.base.chmod(0o755)
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.passwords: dict[str, str] = {}
        self._next = itertools.count(1)

    def start(self) -> None:
        as_root = os.geteuid() == 0
        if as_root:
            mail_user = pwd.getpwnam("nobody")
            uid, gid = mail_user.pw_uid, mail_user.pw_gid
            users, chroot, services = "", "", ""
        else:
            me = pwd.getpwuid(os.geteuid())
            uid, gid = me.pw_uid, me.pw_gid
            group = grp.getgrgid(os.getgid()).gr_name
            users = f"default_internal_user = {me.pw_name}\ndefault_login_user = {me.pw_name}\n" \
                    f"default_internal_group = {group}"
            chroot, services = "  chroot =\n", "service anvil {\n  chroot =\n}\n"
        for sub in ("run", "state", "home"):
            (self.base / sub).mkdir()
        os.chown(self.base / "home", uid, gid)
        for number in range(1, POOL + 1):  # users made up front: dovecot notices a changed passwd-file late
            self.passwords[f"invoices{number}"] = f"secret-{number}"
        self._write_passwd()
        conf = DOVECOT_CONF.format(base=self.base, port=self.port, uid=uid, gid=gid, users=users, chroot=chroot,
                                   services=services)
        (self.base / "dovecot.conf").write_text(conf)
        self.process = subprocess.Popen([self.binary, "-F", "-c", str(self.base / "dovecot.conf")],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_port(self.port, process=self.process)
        except RuntimeError as exc:
            output = self.process.stdout.read().decode(errors="replace") if self.process.poll() is not None else ""
            log = (self.base / "dovecot.log").read_text(errors="replace") if (self.base / "dovecot.log").exists() else ""
            self.stop()
            raise RuntimeError(f"dovecot did not start: {exc}\n{output}\n{log}") from exc

    def _write_passwd(self) -> None:
        lines = "".join(f"{user}:{{PLAIN}}{secret}::::::\n" for user, secret in self.passwords.items())
        tmp = self.base / "passwd.tmp"
        tmp.write_text(lines)
        os.replace(tmp, self.base / "passwd")

    def new_user(self) -> tuple[str, str]:
        """An unused user with an empty mailbox (from the pool made at start, else added and waited for)."""
        number = next(self._next)
        name = f"invoices{number}"
        if name not in self.passwords:
            self.passwords[name] = f"secret-{number}"
            self._write_passwd()
            self._wait_for_login(name, self.passwords[name])
        return name, self.passwords[name]

    def _wait_for_login(self, user: str, password: str, timeout: float = 20.0) -> None:
        from imapclient import IMAPClient

        deadline = time.monotonic() + timeout
        while True:
            client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
            try:
                client.login(user, password)
                client.logout()
                return
            except Exception:
                client.shutdown()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the master stops its children
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot():
    binary = find_dovecot()
    if binary is None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but dovecot is not installed (apt-get install -y dovecot-imapd)")
        pytest.skip("dovecot is not installed (apt-get install -y dovecot-imapd): skipping the IMAP tests")
    server = Dovecot(binary)
    started = time.perf_counter()
    server.start()
    server.startup_seconds = time.perf_counter() - started
    try:
        yield server
    finally:
        server.stop()


@dataclass
class ImapAccount:
    """One user's mailbox on the test Dovecot, and what a mail client would do with it."""

    server: Dovecot
    user: str
    password: str
    settings: object  # einvoice.intake.mail.imap.ImapSettings

    def client(self):
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.server.port, ssl=False, timeout=30)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> int:
        client = self.client()
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            answer = client.append(folder, raw)
            return int(answer.split(b"APPENDUID ")[1].split(b"]")[0].split()[1])
        finally:
            client.logout()

    def messages(self, folder: str = "INBOX") -> dict[int, bytes]:
        client = self.client()
        try:
            if not client.folder_exists(folder):
                return {}
            client.select_folder(folder, readonly=True)
            uids = client.search(["NOT", "DELETED"])
            if not uids:
                return {}
            return {uid: data[b"BODY[]"] for uid, data in client.fetch(uids, ["BODY.PEEK[]"]).items()}
        finally:
            client.logout()

    def message_ids(self, folder: str = "INBOX") -> list[str]:
        return sorted(str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])
                      for raw in self.messages(folder).values())

    def move(self, uid: int, source: str, target: str) -> None:
        client = self.client()
        try:
            client.select_folder(source)
            client.move([uid], target)
        finally:
            client.logout()

    def delete(self, folder: str, uid: int) -> None:
        """Remove a message behind the poller's back (to make a gap)."""
        client = self.client()
        try:
            client.select_folder(folder)
            client.add_flags([uid], [b"\\Deleted"])
            client.uid_expunge([uid])
        finally:
            client.logout()


@pytest.fixture
def imap_account(dovecot) -> ImapAccount:
    from einvoice.intake.mail.imap import ImapSettings

    user, password = dovecot.new_user()
    settings = ImapSettings(host="127.0.0.1", port=dovecot.port, user=user, password=password, tls="none",
                            folders=("INBOX",), done_folder="einvoice-done", error_folder="einvoice-error",
                            poll_seconds=0.1, max_attempts=2, timeout=30)
    return ImapAccount(dovecot, user, password, settings)


# ---------------------------------------------------------------------------- SMTP sink (the relay)


@dataclass
class SinkMessage:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self):
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def notice(self) -> str:
        """The X-Einvoice-Notice header: kind and item."""
        return str(self.message.get("X-Einvoice-Notice", ""))

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    def attachments(self) -> dict[str, bytes]:
        return {part.get_filename(): part.get_payload(decode=True) for part in self.message.iter_attachments()}


@dataclass
class SmtpSink:
    port: int
    messages: list[SinkMessage] = field(default_factory=list)
    refuse: int = 0  # answer 451 to the next N DATA commands
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 try again later (test sink)"
            self.messages.append(SinkMessage(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 2.0.0 OK (test sink)"

    def by_notice(self) -> dict[str, list[SinkMessage]]:
        found: dict[str, list[SinkMessage]] = {}
        for message in self.messages:
            found.setdefault(message.notice, []).append(message)
        return found

    def kinds(self) -> list[str]:
        return sorted(m.notice.split(";")[0] for m in self.messages)


@pytest.fixture
def smtp_sink(monkeypatch):
    from aiosmtpd.controller import Controller

    port = free_port()
    sink = SmtpSink(port)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("EINVOICE_SMTP_RELAY_HOST", "127.0.0.1")
    monkeypatch.setenv("EINVOICE_SMTP_RELAY_PORT", str(port))
    monkeypatch.setenv("EINVOICE_SMTP_RELAY_TLS", "none")
    monkeypatch.setenv("EINVOICE_SMTP_RELAY_FROM", "Rechnungseingang Musterstadt <rechnungseingang@musterstadt.example>")
    monkeypatch.setenv("EINVOICE_SMTP_RELAY_TIMEOUT", "10")
    monkeypatch.setenv("EINVOICE_BASE_URL", "https://rechnung.musterstadt.example")
    monkeypatch.setenv("EINVOICE_SECRET_KEY", "test-secret-key-0123456789abcdef")
    try:
        yield sink
    finally:
        controller.stop()


# ---------------------------------------------------------------------------- test mails

CONTENT_TYPES = {".xml": ("application", "xml"), ".pdf": ("application", "pdf"), ".zip": ("application", "zip"),
                 ".txt": ("text", "plain"), ".docx": ("application", "vnd.openxmlformats-officedocument")}


def build_mail(attachments=(), *, sender: str = "Musterbau GmbH <buchhaltung@musterbau.example>",
               to: str = "rechnung@rechnung.musterstadt.example", subject: str = "Rechnung",
               message_id: str | None = None, body: str = "Sehr geehrte Damen und Herren,\n\nanbei unsere Rechnung.\n",
               headers: dict[str, str] | None = None) -> bytes:
    """An e-mail as a supplier's mail program writes it: text body plus attachments ``(name, bytes)``."""
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid
    from datetime import datetime, timezone

    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2026, 11, 3, 9, 30, tzinfo=timezone.utc))
    message["Message-ID"] = message_id or make_msgid("supplier", domain="musterbau.example")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for name, data in attachments:
        maintype, subtype = CONTENT_TYPES.get(Path(name).suffix.lower(), ("application", "octet-stream"))
        if maintype == "text":
            message.add_attachment(data.decode("utf-8"), subtype=subtype, filename=name)
        else:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(policy=email.policy.SMTP)


def make_zip(members) -> bytes:
    """A zip archive of ``(path, bytes)`` members (deflated)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in members:
            archive.writestr(path, data)
    return buffer.getvalue()



# ---------------------------------------------------------------------------- the done-when mail set

DONE, ERROR = "einvoice-done", "einvoice-error"


def the_test_mails() -> dict[str, bytes]:
    """The done-when set: 0, 1 and 3 invoice attachments, a zip, a broken XML, a duplicate, an XML + PDF pair."""
    from einvoice.samples.generate import EN16931, cii_invoice, facturx_pdf, ubl_invoice

    paired = cii_invoice(number="RE-2026-0401", customization=EN16931)
    return {
        "none": build_mail(body="Rechnung RE-2026-0001: 100,00 EUR. Bitte überweisen.", subject="Rechnung im Text",
                           message_id="<none@musterbau.example>"),
        "one": build_mail([("RE-2026-0101.xml", ubl_invoice(number="RE-2026-0101"))],
                          message_id="<one@musterbau.example>"),
        "three": build_mail([("RE-2026-0201.xml", ubl_invoice(number="RE-2026-0201")),
                             ("RE-2026-0202.xml", cii_invoice(number="RE-2026-0202")),
                             ("RE-2026-0203.pdf", facturx_pdf(cii_invoice(number="RE-2026-0203",
                                                                          customization=EN16931)))],
                            message_id="<three@musterbau.example>"),
        "zip": build_mail([("rechnungen.zip", make_zip([("2026/RE-2026-0301.xml", ubl_invoice(number="RE-2026-0301")),
                                                        ("2026/RE-2026-0302.xml", cii_invoice(number="RE-2026-0302")),
                                                        ("anschreiben.txt", b"Guten Tag")]))],
                          message_id="<zip@musterbau.example>"),
        "broken": build_mail([("RE-2026-0501.xml", ubl_invoice(number="RE-2026-0501")[:700])],
                             message_id="<broken@musterbau.example>"),
        "duplicate": build_mail([("RE-2026-0101-neu.xml", ubl_invoice(number="RE-2026-0101", lines=2))],
                                message_id="<duplicate@musterbau.example>", subject="Rechnung (nochmals)"),
        "pair": build_mail([("RE-2026-0401.xml", paired), ("RE-2026-0401.pdf", facturx_pdf(paired))],
                           message_id="<pair@musterbau.example>"),
    }


EXPECTED_STATES = {  # file name -> state after processing
    "RE-2026-0101.xml": "parsed", "RE-2026-0201.xml": "parsed", "RE-2026-0202.xml": "parsed",
    "RE-2026-0203.pdf": "parsed", "RE-2026-0301.xml": "parsed", "RE-2026-0302.xml": "parsed",
    "RE-2026-0501.xml": "rejected", "RE-2026-0101-neu.xml": "duplicate", "RE-2026-0401.xml": "parsed",
}


def check_landed_once(db, smtp_sink, channel: str) -> None:
    """The state after the_test_mails() were imported and the worker ran: each exactly once, right notices."""
    import sqlalchemy as sa

    from einvoice.store import IntakeItem
    from einvoice.store.mail_models import MailMessage

    with db.read() as session:
        items = list(session.scalars(sa.select(IntakeItem).order_by(IntakeItem.id)))
        ledger = list(session.scalars(sa.select(MailMessage).order_by(MailMessage.id)))
    assert {i.file_name: i.state for i in items} == EXPECTED_STATES
    assert len(items) == len(EXPECTED_STATES)  # nothing twice
    assert {i.channel for i in items} == {channel}
    by_name = {i.file_name: i for i in items}
    assert by_name["RE-2026-0101-neu.xml"].duplicate_of_id == by_name["RE-2026-0101.xml"].id
    pair = by_name["RE-2026-0401.xml"]
    assert pair.extra["companion"]["file_name"] == "RE-2026-0401.pdf" and pair.extra["companion"]["pairing"] == "facturx"
    assert db.blobs.exists(pair.extra["companion"]["sha256"])
    assert sorted(r.outcome for r in ledger) == ["invoices"] * 6 + ["no-invoice"]
    for item in items:  # the whole .eml and the item's bytes are kept
        assert db.blobs.exists(item.envelope_sha256) and db.blobs.exists(item.sha256)

    expected = sorted(["receipt"] * len(items) + ["rejection", "duplicate", "no-invoice"])
    assert smtp_sink.kinds() == expected
    notices = smtp_sink.by_notice()
    assert all(len(sent) == 1 for sent in notices.values())  # one of each per item
    for item in items:
        assert f"receipt; item={item.id}" in notices
    rejection = notices[f"rejection; item={by_name['RE-2026-0501.xml'].id}"][0]
    assert "EINVOICE-PARSE" in rejection.text and f"pruefbericht-{by_name['RE-2026-0501.xml'].id}.html" in rejection.attachments()
    assert f"Eingangsnummer {by_name['RE-2026-0101.xml'].id}" in notices[
        f"duplicate; item={by_name['RE-2026-0101-neu.xml'].id}"][0].text
    assert "RE-2026-0401.pdf" in notices[f"receipt; item={pair.id}"][0].text
    assert "Keine Rechnung" in notices["no-invoice"][0].message["Subject"]


# ---------------------------------------------------------------------------- the project's receiver

INTAKE_DOMAIN = "rechnung.musterstadt.example"


@pytest.fixture
def intake_smtpd():
    """A factory: ``intake_smtpd(db, max_bytes=...)`` starts the receiver and returns its settings."""
    from einvoice.intake.mail.smtpd import SmtpdSettings, make_controller

    controllers = []

    def start(db, *, max_bytes: int = 5 * 1024 * 1024, domains=(INTAKE_DOMAIN,)):
        settings = SmtpdSettings(domains=tuple(domains), host="127.0.0.1", port=free_port(), max_bytes=max_bytes,
                                 hostname="einvoice.test")
        controller = make_controller(db, settings)
        controller.start()
        controllers.append(controller)
        return settings

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop()
