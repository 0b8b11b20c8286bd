"""Hostile e-mail at three layers:

- PARSE: `parse_mail` (pure) on messages built byte for byte: lost and missing boundaries, bad
  base64, unknown charsets, invalid RFC 2047 words, raw 8-bit and NUL in headers, thousands of
  parts, 2,000 nested multiparts, zip bombs (ratio, lying sizes, many entries), path traversal in
  zip members. Each gives its candidates within the limits and a note that says why
  (``mime-defects``, ``mime-too-many-parts``, ``mime-too-deep``, ``zip-*``); nothing raises.
- RECEIVER: the real aiosmtpd receiver (`intake_smtpd`, SQLite and PostgreSQL) takes every such
  message with 250, stores it raw (the ledger row's SHA-256 is that of the bytes sent), keeps its
  notes; the worker then processes every item and sends every notice without a failed job, and the
  receiver still takes the next normal mail. A header line over SMTP's 1,000 characters is refused
  by the protocol (500) and nothing is stored.
- STORE: `store_mail` (what the IMAP poller calls) keeps that huge-header message, too.

Zip limits with small settings, encrypted entries and one level of nesting are in
tests/test_mail_message.py.
"""

from __future__ import annotations

import hashlib
import smtplib

import pytest
import sqlalchemy as sa

from einvoice.intake.mail.message import MailLimits, parse_mail
from einvoice.intake.mail.store import store_mail
from einvoice.jobs.worker import run_worker
from einvoice.samples.generate import ubl_invoice
from einvoice.store import IntakeItem, Job
from einvoice.store.mail_models import MailMessage

from hostile_data import TEXT_PART, deeply_nested_mail, deflated_zip, lying_zip, part, raw_mail

pytest.register_assert_rewrite("mailservers")
from mailservers import INTAKE_DOMAIN  # noqa: E402  (tests/mailservers.py: mail servers and test mails)

pytest_plugins = ["pg", "mailservers"]  # db fixtures over SQLite and PostgreSQL; SMTP receiver and sink

INVOICE = ubl_invoice(number="MAIL-1")
ZIP = b"application/zip"


def hostile_mails() -> dict[str, tuple[bytes, list[str], set[str]]]:
    """name -> (raw message, candidate file names, note codes)."""
    def invoice(number: str) -> bytes:
        return ubl_invoice(number=number)

    return {
        "lost-boundary": (raw_mail([TEXT_PART, part(invoice("M-1"))], message_id="lost@x.example",
                                   declared_boundary=b"NEVER-USED"), [], {"mime-defects"}),
        "no-closing-boundary": (raw_mail([TEXT_PART, part(invoice("M-2"))], message_id="open@x.example", close=False),
                                ["re.xml"], {"mime-defects"}),
        "bad-base64": (raw_mail([TEXT_PART, part(b"x", encoding=b"base64").replace(b"eA==", b"!!no*base64@@\r\n=x")],
                                message_id="b64@x.example"), ["re.xml"], {"mime-defects"}),
        "unknown-charset": (raw_mail([b"Content-Type: text/plain; charset=x-klingon\r\n\r\nQapla\xff\r\n",
                                      part(invoice("M-4"))], message_id="charset@x.example"), ["re.xml"], set()),
        "invalid-encoded-words": (raw_mail([TEXT_PART, part(invoice("M-5"), name=b"=?utf-8?B?/+4=?=.xml")],
                                           subject=b"=?utf-8?B?/w==?= =?x-unknown?Q?Rechnung?=",
                                           message_id="rfc2047@x.example"), ["\ufffd\ufffd.xml"], set()),
        "raw-8bit-headers": (raw_mail([TEXT_PART, part(invoice("M-6"), name=b"Rechnung M\xe4rz.xml")],
                                      subject=b"Rechnung f\xfcr M\xe4rz \xff", message_id="8bit@x.example"),
                             ["Rechnung M\ufffdrz.xml"], set()),
        "nul-in-headers": (raw_mail([TEXT_PART, part(invoice("M-7"), name=b"re\x00.xml",
                                                     content_type=b"application/x\x00ml")],
                                    subject=b"Rech\x00nung =?utf-8?B?AA==?=", message_id="nul\x00@x.example",
                                    sender=b"Muster <buch\x00haltung@musterbau.example>"), ["re.xml"], set()),
        "thousands-of-parts": (raw_mail([part(invoice("M-8"))]
                                        + [part(b"x", name=b"p%d.txt" % i, content_type=b"text/plain", encoding=b"7bit")
                                           for i in range(1000)], message_id="parts@x.example"),
                               ["re.xml"], {"mime-too-many-parts"}),
        "deep-nesting": (deeply_nested_mail(2000, invoice("M-9"), message_id="deep@x.example"), [],
                         {"mime-too-deep"}),
        "zip-bomb": (raw_mail([TEXT_PART, part(deflated_zip([("bomb.xml", b"0" * 50_000_000)]), name=b"r.zip",
                                               content_type=ZIP)], message_id="bomb@x.example"), [], {"zip-ratio"}),
        "zip-lying-small": (raw_mail([TEXT_PART, part(lying_zip("re.xml", invoice("M-11"), 100), name=b"r.zip",
                                                      content_type=ZIP)], message_id="lie1@x.example"), [],
                            {"zip-bad-entry"}),
        "zip-lying-huge": (raw_mail([TEXT_PART, part(lying_zip("re.xml", invoice("M-12"), 2**32 - 1), name=b"r.zip",
                                                     content_type=ZIP)], message_id="lie2@x.example"), [],
                           {"zip-too-large"}),
        "zip-many-entries": (raw_mail([TEXT_PART, part(deflated_zip([(f"f{i}.txt", b"x") for i in range(1000)]),
                                                       name=b"r.zip", content_type=ZIP)],
                                      message_id="entries@x.example"), [], {"zip-too-many-entries"}),
        "zip-traversal": (raw_mail([TEXT_PART, part(deflated_zip([("../x.xml", invoice("M-14a")),
                                                                  ("/etc/passwd.xml", invoice("M-14b")),
                                                                  ("a\\..\\..\\b.xml", invoice("M-14c"))]),
                                                    name=b"r.zip", content_type=ZIP)],
                                    message_id="traversal@x.example"), ["x.xml", "passwd.xml", "b.xml"], set()),
    }


MAILS = hostile_mails()


@pytest.mark.parametrize("name", sorted(MAILS))
def test_parse_gives_candidates_within_limits_and_notes_why(name):
    raw, candidates, codes = MAILS[name]
    parsed = parse_mail(raw, MailLimits())
    assert [c.file_name for c in parsed.candidates] == candidates
    assert codes <= {n["code"] for n in parsed.notes}, parsed.notes
    assert all(len(p.data) <= MailLimits().zip_max_bytes for p in parsed.parts)
    if name == "zip-traversal":
        assert [c.part.origin for c in parsed.candidates] == ["r.zip!../x.xml", "r.zip!/etc/passwd.xml",
                                                              "r.zip!a\\..\\..\\b.xml"]
    if name == "nul-in-headers":  # nothing that PostgreSQL would refuse
        assert "\x00" not in repr(parsed.details()) + (parsed.subject or "") + (parsed.message_id or "")
        assert parsed.sender is None  # an address with a NUL is no address
    if candidates:
        assert parsed.candidates[0].data.startswith(b"<?xml") or name == "bad-base64"


def _send(settings, raw: bytes):
    with smtplib.SMTP(settings.host, settings.port, timeout=60) as client:
        return client.sendmail("lieferant@musterbau.example", [f"rechnung@{INTAKE_DOMAIN}"], raw)


def test_smtp_receiver_stores_every_hostile_mail_and_nothing_fails(db, intake_smtpd, smtp_sink):
    settings = intake_smtpd(db, max_bytes=20 * 1024 * 1024)
    for name, (raw, _, _) in MAILS.items():
        assert _send(settings, raw) == {}, name  # 250: stored
    huge = raw_mail([part(INVOICE)], subject=b"A" * 100_000, message_id="huge@x.example")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        _send(settings, huge)
    assert refused.value.smtp_code == 500 and b"too long" in refused.value.smtp_error.lower()
    assert _send(settings, raw_mail([part(INVOICE, name=b"normal.xml")], message_id="normal@x.example")) == {}

    with db.read() as session:
        rows = {row.sha256: row for row in session.scalars(sa.select(MailMessage))}
    assert len(rows) == len(MAILS) + 1  # the huge one was not stored
    for name, (raw, candidates, codes) in MAILS.items():
        row = rows[hashlib.sha256(raw).hexdigest()]  # stored exactly as sent
        assert db.blobs.get(row.sha256) == raw, name
        assert codes <= {n["code"] for n in row.details["notes"]}, name
        assert row.outcome == ("invoices" if candidates else "no-invoice") and row.item_count == len(candidates), name

    run_worker(once=True, db=db)
    with db.read() as session:
        dead = session.scalars(sa.select(Job).where(Job.state != "done")).all()
        items = session.scalars(sa.select(IntakeItem)).all()
    assert [(job.kind, job.item_id, job.last_error) for job in dead] == []
    states = {item.file_name: item.state for item in items}
    assert states["normal.xml"] == "parsed" and {i.state for i in items} <= {"parsed", "rejected", "duplicate"}
    assert "failed" not in states.values() and all(i.error is None for i in items)
    kinds = smtp_sink.kinds()
    assert kinds.count("no-invoice") == sum(1 for _, c, _ in MAILS.values() if not c)
    texts = " ".join(message.text for message in smtp_sink.messages if "Keine Rechnung" in message.message["Subject"])
    assert "fehlerhaft aufgebaut (MIME)" in texts and "zu tief verschachtelt" in texts


def test_store_mail_keeps_a_header_line_smtp_would_refuse(db):
    """The IMAP path has no line limit: a 2 MB Subject line is stored, clipped in the ledger."""
    raw = raw_mail([part(INVOICE)], subject=b"A" * 2_000_000, message_id="imap-huge@x.example")
    stored = store_mail(db, raw, channel="imap", mailbox="INBOX", uidvalidity=1, uid=7, limits=MailLimits())
    assert stored.outcome == "invoices" and len(stored.item_ids) == 1
    with db.read() as session:
        row = session.get(MailMessage, stored.ledger_id)
        assert db.blobs.get(row.sha256) == raw and len(row.subject) <= 1024
