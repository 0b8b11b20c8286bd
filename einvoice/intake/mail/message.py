"""Split a received e-mail (.eml bytes) into invoice candidates and other attachments.

``parse_mail(raw, limits)`` reads the message with the standard library (``email``,
``policy.default``) and returns a `ParsedMail`:

- **candidates**: what becomes an intake item. XML attachments and PDF attachments are invoice
  candidates. A PDF and an XML of the same invoice are paired into ONE candidate: the XML is the
  legal original (the item's bytes), the PDF its ``companion`` (kept as a blob, named in the item's
  ``extra``). Pairing reads both: a Factur-X/ZUGFeRD PDF pairs when its embedded XML has the same
  invoice number (BT-1) and seller (BT-31/BT-32/BT-27, as the duplicate check folds them); a plain
  PDF (a visual copy without XML) pairs when its text shows the XML's invoice number as a whole
  word and, where the XML names one, the seller's name or VAT id.
- A plain PDF or a well-formed non-invoice XML is a candidate only if the mail carries no e-invoice
  at all (no invoice XML, no broken XML, no hybrid PDF): then it is received, rejected by validation
  and the sender learns why. Next to an e-invoice it is a supplementary document (cover letter,
  terms, time sheet): kept, not an invoice. A malformed XML is always a candidate (it may be a
  broken invoice: the sender gets the validation report).
- **zip archives** are unpacked in memory (nothing is written to disk, member paths are never used
  as file paths: only a cleaned base name is kept as the file name, the full path as the origin):
  at most ``zip_max_entries`` entries, ``zip_max_bytes`` uncompressed in all, a compression ratio of
  at most ``zip_max_ratio`` per entry (zip bombs), no encrypted entries; an archive that breaks a
  limit is not unpacked at all (kept, with a note). A zip inside a zip is unpacked (one level);
  deeper ones are not.
- **parts**: every attachment as received (XML, PDF, zip, anything else) and every candidate taken
  out of an archive: each is stored as a blob with the message.
- An invoice only in the mail body is not an invoice: the body (text/plain or text/html without a
  file name, or the whole content of a message that is not multipart, e.g. XML pasted as the mail)
  is never a candidate. A mail without candidates gets a polite notice (``body_has_invoice`` tells
  whether the text looked like invoice XML).
- ``notify_to`` is the address for notices (Reply-To, else From) or None for automatic mail
  (Auto-Submitted, Precedence bulk/junk/list, bounces, no-reply senders: no mail loops).

Pure: no database, no network. The size limits come from `MailLimits` (environment variables
``EINVOICE_MAIL_*``).
"""

from __future__ import annotations

import base64
import email
import email.parser
import email.policy
import email.utils
import hashlib
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from ...config import setting

log = logging.getLogger("einvoice.intake.mail")

MB = 1024 * 1024
XML_TYPES = {"application/xml", "text/xml"}
PDF_TYPES = {"application/pdf", "application/x-pdf"}
ZIP_TYPES = {"application/zip", "application/x-zip", "application/x-zip-compressed", "multipart/x-zip"}
NO_REPLY_LOCALS = {"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply"}
BODY_INVOICE = re.compile(rb"<(?:\w+:)?(?:Invoice|CreditNote|CrossIndustryInvoice|CrossIndustryDocument)\b")
MAX_NAME = 200
PDF_TEXT_PAGES = 5
PDF_TEXT_CHARS = 200_000


class MailTooLarge(ValueError):
    pass


def _env_int(name: str, default: int) -> int:
    raw = setting(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {raw!r}")
    return value


@dataclass(frozen=True)
class MailLimits:
    max_message_bytes: int = 64 * MB  # EINVOICE_MAIL_MAX_BYTES: larger messages are not taken
    max_parts: int = 200  # EINVOICE_MAIL_MAX_PARTS: MIME leaves looked at
    max_depth: int = 20  # nesting of multiparts / attached messages
    zip_max_entries: int = 200  # EINVOICE_MAIL_ZIP_MAX_ENTRIES
    zip_max_bytes: int = 100 * MB  # EINVOICE_MAIL_ZIP_MAX_BYTES: uncompressed, per archive
    zip_max_ratio: int = 100  # EINVOICE_MAIL_ZIP_MAX_RATIO: uncompressed / compressed, per entry

    @classmethod
    def from_env(cls) -> "MailLimits":
        return cls(
            max_message_bytes=_env_int("EINVOICE_MAIL_MAX_BYTES", cls.max_message_bytes),
            max_parts=_env_int("EINVOICE_MAIL_MAX_PARTS", cls.max_parts),
            zip_max_entries=_env_int("EINVOICE_MAIL_ZIP_MAX_ENTRIES", cls.zip_max_entries),
            zip_max_bytes=_env_int("EINVOICE_MAIL_ZIP_MAX_BYTES", cls.zip_max_bytes),
            zip_max_ratio=_env_int("EINVOICE_MAIL_ZIP_MAX_RATIO", cls.zip_max_ratio),
        )


@dataclass
class Identity:
    """Who issued which invoice, read from an XML or the XML inside a PDF."""

    number: str
    seller: str | None  # seller key as the duplicate check folds it (vat:/tax:/name:)
    seller_name: str | None = None
    seller_vat_id: str | None = None


@dataclass
class Part:
    """One attachment (or archive member) as received."""

    file_name: str  # cleaned base name (never a path)
    data: bytes
    content_type: str = "application/octet-stream"
    origin: str = "attachment"  # "attachment", or "<archive>!<member path>"
    kind: str = "other"  # xml | pdf | zip | other
    role: str = "other"  # invoice | companion | archive | other
    status: str = ""  # xml: invoice | broken | not-invoice; pdf: hybrid | plain | unreadable
    identity: Identity | None = None
    pdf_text: str | None = field(default=None, repr=False)
    stored: bool = True  # archive members that are not candidates live only inside their archive

    inline: bool = False  # shown in the message (e.g. a logo in the signature), not attached

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def describe(self) -> dict:
        return {"file_name": self.file_name, "origin": self.origin, "content_type": self.content_type,
                "kind": self.kind, "role": self.role, "status": self.status or None,
                "sha256": self.sha256, "size": len(self.data), "stored": self.stored, "inline": self.inline}


@dataclass
class Candidate:
    """One future intake item: the invoice bytes and, if paired, the PDF of the same invoice."""

    part: Part
    companion: Part | None = None
    pairing: str | None = None  # "facturx" (same number and seller in the embedded XML) or "visual-copy"

    @property
    def file_name(self) -> str:
        return self.part.file_name

    @property
    def data(self) -> bytes:
        return self.part.data


@dataclass
class ParsedMail:
    message_id: str | None
    subject: str | None
    sender: str | None  # From address
    reply_to: str | None  # Reply-To (else From) address
    notify_to: str | None  # where notices go; None for automatic mail
    no_notify_reason: str | None
    date: datetime | None
    candidates: list[Candidate] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)
    body_has_invoice: bool = False

    def stored_parts(self) -> list[Part]:
        return [p for p in self.parts if p.stored]

    def details(self) -> dict:
        return {
            "parts": [p.describe() for p in self.parts],
            "candidates": [{"file_name": c.file_name, "origin": c.part.origin, "sha256": c.part.sha256,
                            "companion": c.companion.file_name if c.companion else None,
                            "companion_sha256": c.companion.sha256 if c.companion else None,
                            "pairing": c.pairing} for c in self.candidates],
            "notes": self.notes,
            "body_has_invoice": self.body_has_invoice,
            "no_notify_reason": self.no_notify_reason,
        }


# ---------------------------------------------------------------------------- headers


def _header(message, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # a malformed header: the stdlib may raise while parsing it
        return None
    if value is None:
        return None
    text = " ".join(str(value).split())
    text = "".join(ch for ch in text if ch.isprintable())  # no NUL or other controls (PostgreSQL refuses NUL)
    return text[:998] or None


def _addresses(message, name: str) -> list[str]:
    try:
        header = message.get(name)
        if header is None:
            return []
        found = [a.addr_spec for a in getattr(header, "addresses", ())]
    except Exception:
        found = [addr for _, addr in email.utils.getaddresses([str(message.get(name, ""))])]
    return [a for a in found if _plausible_address(a)]


def _plausible_address(address: str | None) -> bool:
    if not address or len(address) > 320 or any(ch in address for ch in "\r\n\t <>,;\"()") \
            or not address.isprintable():
        return False
    local, _, domain = address.rpartition("@")
    return bool(local) and "." in domain and not domain.startswith(".")


def no_notify_reason(message, envelope_from: str | None = None) -> str | None:
    """Why no automatic notice may answer this message (RFC 3834), or None."""
    auto = (_header(message, "Auto-Submitted") or "").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = (_header(message, "Precedence") or "").lower()
    if precedence in ("bulk", "junk", "list"):
        return f"Precedence: {precedence}"
    suppress = (_header(message, "X-Auto-Response-Suppress") or "").lower()
    if "all" in suppress or "autoreply" in suppress:
        return f"X-Auto-Response-Suppress: {suppress}"
    if _header(message, "List-Id"):
        return "mailing list (List-Id)"
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return "null envelope sender (a bounce)"
    return None


# ---------------------------------------------------------------------------- classification


def clean_name(name: str | None, fallback: str) -> str:
    """A base name safe to show and to use as a label: no folders, no control characters."""
    text = (name or "").replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if ch.isprintable()).strip().lstrip(".").strip()
    return text[:MAX_NAME] or fallback


def _sniff(data: bytes) -> str:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return "zip"
    if head.startswith(b"<?xml") or (head.startswith(b"<") and not head[:20].lower().startswith((b"<html", b"<!doc"))):
        return "xml"
    return "other"


def classify(file_name: str, content_type: str, data: bytes) -> str:
    name = file_name.lower()
    ctype = content_type.lower()
    sniffed = _sniff(data)
    if name.endswith(".pdf") or ctype in PDF_TYPES or sniffed == "pdf":
        return "pdf" if sniffed in ("pdf", "other") else sniffed
    if name.endswith(".zip") or ctype in ZIP_TYPES or sniffed == "zip":
        return "zip" if sniffed in ("zip", "other") else sniffed
    if name.endswith(".xml") or ctype in XML_TYPES or ctype.endswith("+xml"):
        return "xml"
    if sniffed == "xml" and ctype in ("application/octet-stream", "text/plain", ""):
        return "xml"
    return "other"


def _identity_of(result) -> Identity | None:
    from ..process import seller_key

    invoice = result.invoice
    number = " ".join((invoice.number or "").split())
    if not number:
        return None
    seller = invoice.seller
    return Identity(number=number, seller=seller_key(seller),
                    seller_name=seller.name if seller and seller.name else None,
                    seller_vat_id=seller.vat_id if seller and seller.vat_id else None)


def _inspect_xml(part: Part) -> None:
    from ...formats.read import FormatError, read_invoice

    try:
        part.identity = _identity_of(read_invoice(part.data, part.file_name))
        part.status = "invoice"
    except FormatError as exc:
        part.status = "not-invoice" if exc.code == "EINVOICE-NOT-INVOICE" else "broken"
    except Exception:  # a reader bug must not lose the mail: validation will tell
        log.exception("reading %s for pairing failed", part.file_name)
        part.status = "broken"


def _pdf_text(data: bytes) -> str | None:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return None
        texts, size = [], 0
        for page in reader.pages[:PDF_TEXT_PAGES]:
            text = page.extract_text() or ""
            texts.append(text)
            size += len(text)
            if size > PDF_TEXT_CHARS:
                break
        return "\n".join(texts)[:PDF_TEXT_CHARS]
    except Exception:
        return None


def _inspect_pdf(part: Part) -> None:
    from ...formats.read import FormatError, read_invoice

    try:
        part.identity = _identity_of(read_invoice(part.data, part.file_name))
        part.status = "hybrid"
        return
    except FormatError:
        pass
    except Exception:
        log.exception("reading %s for pairing failed", part.file_name)
    part.pdf_text = _pdf_text(part.data)
    part.status = "plain" if part.pdf_text is not None else "unreadable"


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _shows(text: str, identity: Identity) -> bool:
    """Does a plain PDF's text show this invoice (number as a whole word, and the seller if known)?"""
    pattern = r"(?<![\w/-])" + r"\s*".join(re.escape(ch) for ch in identity.number if not ch.isspace()) + r"(?![\w/-])"
    if not re.search(pattern, text):
        return False
    if not identity.seller_name and not identity.seller_vat_id:
        return True
    folded = _fold(text)
    if identity.seller_name and _fold(identity.seller_name) in folded:
        return True
    if identity.seller_vat_id:
        compact = re.sub(r"\s", "", identity.seller_vat_id).upper()
        return compact in re.sub(r"\s", "", text).upper()
    return False


# ---------------------------------------------------------------------------- zip archives


def _unzip(archive: Part, limits: MailLimits, level: int, notes: list[dict]) -> list[Part]:
    """The members of an archive as parts (not yet classified); [] if a limit is broken."""

    def refuse(code: str, detail: str) -> list[Part]:
        notes.append({"code": code, "file": archive.file_name, "detail": detail})
        return []

    try:
        zf = zipfile.ZipFile(io.BytesIO(archive.data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        return refuse("zip-unreadable", str(exc))
    files = [info for info in infos if not info.is_dir()]
    if len(infos) > limits.zip_max_entries:
        return refuse("zip-too-many-entries", f"{len(infos)} entries, at most {limits.zip_max_entries}")
    declared = sum(info.file_size for info in files)
    if declared > limits.zip_max_bytes:
        return refuse("zip-too-large", f"{declared} bytes uncompressed, at most {limits.zip_max_bytes}")
    members: list[Part] = []
    total = 0
    for index, info in enumerate(files):
        if info.flag_bits & 0x1:
            notes.append({"code": "zip-encrypted-entry", "file": archive.file_name, "detail": info.filename})
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 64 * 1024 and ratio > limits.zip_max_ratio:
            return refuse("zip-ratio", f"{info.filename!r}: compression ratio {ratio:.0f}, at most {limits.zip_max_ratio}")
        try:
            with zf.open(info) as stream:
                data = stream.read(info.file_size + 1)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            notes.append({"code": "zip-bad-entry", "file": archive.file_name, "detail": f"{info.filename}: {exc}"})
            continue
        if len(data) > info.file_size:
            return refuse("zip-lying-size", f"{info.filename!r} is larger than its header says")
        total += len(data)
        if total > limits.zip_max_bytes:
            return refuse("zip-too-large", f"more than {limits.zip_max_bytes} bytes uncompressed")
        name = clean_name(info.filename, f"{archive.file_name}-{index + 1}")
        members.append(Part(file_name=name, data=data, content_type="application/octet-stream",
                            origin=f"{archive.origin if archive.origin != 'attachment' else archive.file_name}"
                                   f"!{info.filename[:500]}", stored=False))
    if level >= 1:
        return members
    expanded: list[Part] = []
    for member in members:
        member.kind = classify(member.file_name, member.content_type, member.data)
        if member.kind == "zip":  # one level of nesting: unpack, but no deeper
            member.role = "archive"
            member.stored = True
            expanded.append(member)
            for inner in _unzip(member, limits, level + 1, notes):
                inner.kind = classify(inner.file_name, inner.content_type, inner.data)
                if inner.kind == "zip":
                    notes.append({"code": "zip-nested-too-deep", "file": member.file_name, "detail": inner.origin})
                    inner.kind = "other"
                expanded.append(inner)
        else:
            expanded.append(member)
    return expanded


# ---------------------------------------------------------------------------- the message


def _leaves(message, limits: MailLimits, notes: list[dict]):
    """(part, depth) for every non-multipart part, attached messages included, within the limits."""
    stack = [(message, 0)]
    count = 0
    while stack:
        part, depth = stack.pop()
        if depth > limits.max_depth:
            notes.append({"code": "mime-too-deep", "file": None, "detail": f"nesting deeper than {limits.max_depth}"})
            continue
        if part.get_content_type() == "message/rfc822" and \
                str(part.get("Content-Transfer-Encoding", "")).strip().lower() == "base64":
            # RFC 2046 forbids it, some clients do it: the parser took the base64 text for a message
            inner = _base64_message(part)
            if inner is not None:
                stack.append((inner, depth + 1))
            continue
        if part.is_multipart():
            try:
                children = part.get_payload()
            except Exception:
                children = []
            if not isinstance(children, list):
                children = [children]
            stack.extend((child, depth + 1) for child in reversed(children))
            continue
        count += 1
        if count > limits.max_parts:
            notes.append({"code": "mime-too-many-parts", "file": None, "detail": f"more than {limits.max_parts}"})
            return
        yield part


def _base64_message(part):
    try:
        payload = part.get_payload()
        text = payload[0].get_payload() if isinstance(payload, list) and payload else payload
        if not isinstance(text, str):
            return None
        raw = base64.b64decode("".join(text.split()), validate=False)
        return email.message_from_bytes(raw, policy=email.policy.default)
    except Exception:
        return None


def _decoded(part) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return bytes(payload)


def _is_body(part, root) -> bool:
    """The text of the mail (never an invoice): text/plain or text/html without a file name, and the
    content of a message that is not multipart at all (e.g. an XML pasted as the whole mail)."""
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment" or part.get_filename():
        return False
    if part is root:
        return True
    return part.get_content_maintype() == "text" and part.get_content_subtype() in ("plain", "html")


def parse_mail(raw: bytes, limits: MailLimits | None = None, *, envelope_from: str | None = None) -> ParsedMail:
    """Split the message; raises `MailTooLarge` above ``limits.max_message_bytes``."""
    limits = limits or MailLimits.from_env()
    if len(raw) > limits.max_message_bytes:
        raise MailTooLarge(f"the message has {len(raw)} bytes, at most {limits.max_message_bytes} are taken")
    notes: list[dict] = []
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        readable = True
    except RecursionError:  # the stdlib parser recurses once per multipart level: keep the mail, unread
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
        readable = False
        notes.append({"code": "mime-too-deep", "file": None,
                      "detail": "the MIME structure is nested too deeply to be read; the message is kept unread"})
    froms = _addresses(message, "From")
    reply_tos = _addresses(message, "Reply-To")
    sender = froms[0] if froms else None
    reply_to = reply_tos[0] if reply_tos else sender
    reason = no_notify_reason(message, envelope_from)
    if reason is None and not reply_to:
        reason = "no usable From/Reply-To address"
    if reason is None and reply_to.rpartition("@")[0].lower() in NO_REPLY_LOCALS:
        reason = f"automatic sender {reply_to}"
    try:
        date = email.utils.parsedate_to_datetime(_header(message, "Date") or "")
        if date is not None and date.tzinfo is None:
            date = None
    except (TypeError, ValueError, IndexError):
        date = None
    parsed = ParsedMail(message_id=_header(message, "Message-ID"), subject=_header(message, "Subject"),
                        sender=sender, reply_to=reply_to, notify_to=None if reason else reply_to,
                        no_notify_reason=reason, date=date, notes=notes)

    attachments: list[Part] = []
    for index, leaf in enumerate(_leaves(message, limits, notes) if readable else ()):
        data = _decoded(leaf)
        if _is_body(leaf, message):
            if BODY_INVOICE.search(data):
                parsed.body_has_invoice = True
            continue
        if not data:
            continue
        ctype = leaf.get_content_type()
        if not ctype.isprintable():  # e.g. a NUL in the header: no type worth keeping
            ctype = "application/octet-stream"
        try:
            original = leaf.get_filename()
        except Exception:
            original = None
        extension = {"application/pdf": ".pdf", "application/xml": ".xml", "text/xml": ".xml",
                     "application/zip": ".zip"}.get(ctype, "")
        inline = (leaf.get_content_disposition() or "inline").lower() == "inline" and not original
        attachments.append(Part(file_name=clean_name(original, f"attachment-{index + 1}{extension}"), data=data,
                                content_type=ctype, inline=inline))

    parts: list[Part] = []
    for part in attachments:
        part.kind = classify(part.file_name, part.content_type, part.data)
        parts.append(part)
        if part.kind == "zip":
            part.role = "archive"
            parts.extend(_unzip(part, limits, 0, notes))
    for part in parts:
        if part.kind == "zip" and part.origin != "attachment" and part.role != "archive":
            part.kind = "other"  # a zip found too deep: only inside its archive
        if part.kind == "xml":
            _inspect_xml(part)
        elif part.kind == "pdf":
            _inspect_pdf(part)

    _choose_candidates(parsed, parts)
    parsed.parts = parts
    defects = _defects(message, limits) if readable else []
    if defects:  # what the parser had to repair or skip (a lost boundary hides attachments): say so
        notes.append({"code": "mime-defects", "file": None, "detail": ", ".join(defects)})
    return parsed


def _defects(message, limits: MailLimits) -> list[str]:
    """The names of the email parser's defects in the message and its parts (iterative, bounded)."""
    names, stack, seen = [], [(message, 0)], 0
    while stack and seen < 2 * limits.max_parts:
        part, depth = stack.pop()
        seen += 1
        names += [type(defect).__name__ for defect in getattr(part, "defects", ())]
        payload = part.get_payload() if part.is_multipart() and depth < limits.max_depth else None
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload if not isinstance(child, str))
    return list(dict.fromkeys(names))


def _choose_candidates(parsed: ParsedMail, parts: list[Part]) -> None:
    xmls = [p for p in parts if p.kind == "xml"]
    pdfs = [p for p in parts if p.kind == "pdf"]
    e_invoice = any(p.status in ("invoice", "broken") for p in xmls) or any(p.status == "hybrid" for p in pdfs)
    paired: dict[int, tuple[Part, str]] = {}  # id(xml part) -> (pdf part, how)
    taken: set[int] = set()
    for xml in xmls:
        if xml.identity is None:
            continue
        for pdf in pdfs:  # a Factur-X with the same invoice first
            if id(pdf) not in taken and pdf.status == "hybrid" and pdf.identity is not None \
                    and pdf.identity.number == xml.identity.number and pdf.identity.seller == xml.identity.seller:
                paired[id(xml)] = (pdf, "facturx")
                taken.add(id(pdf))
                break
        else:
            for pdf in pdfs:
                if id(pdf) not in taken and pdf.status == "plain" and pdf.pdf_text and _shows(pdf.pdf_text,
                                                                                               xml.identity):
                    paired[id(xml)] = (pdf, "visual-copy")
                    taken.add(id(pdf))
                    break

    for part in parts:
        if part.kind not in ("xml", "pdf"):
            if part.role != "archive":
                part.role = "other"
            continue
        if id(part) in taken:
            continue  # a companion: added with its XML below
        if part.kind == "xml":
            if part.status == "not-invoice" and e_invoice:
                part.role = "other"
                parsed.notes.append({"code": "xml-not-invoice-kept", "file": part.file_name,
                                     "detail": "a non-invoice XML next to an e-invoice: kept, not an invoice"})
                continue
        elif part.status != "hybrid" and e_invoice:
            part.role = "other"
            parsed.notes.append({"code": "pdf-kept", "file": part.file_name,
                                 "detail": "a PDF without invoice data next to an e-invoice: kept as a "
                                           "supplementary document, not an invoice"})
            continue
        part.role = "invoice"
        part.stored = True
        candidate = Candidate(part=part)
        if id(part) in paired:
            pdf, how = paired[id(part)]
            pdf.role, pdf.stored = "companion", True
            candidate.companion, candidate.pairing = pdf, how
            parsed.notes.append({"code": "paired", "file": part.file_name,
                                 "detail": f"{pdf.file_name} is the {how} of the same invoice"})
        parsed.candidates.append(candidate)
