"""Builders of malicious and broken inputs for the tests/test_hostile_*.py files.

- XML: `with_doctype` (a DOCTYPE in front of the root of a valid sample), `nested` (deep elements),
  `many_namespaces`, `set_text` (one element's text replaced, the rest of the sample unchanged).
- `NetworkTrap`: a TCP listener on 127.0.0.1 that counts connections, for asserting that an XXE,
  external DTD, XInclude or schema location made no network access.
- PDF: `pdf_with` (attachments, encryption, page count), `inflating_pdf` (an embedded file whose
  FlateDecode stream inflates to many times its size).
- Mail: `raw_mail` / `part` build a message byte for byte (CRLF lines), so it can be as broken as
  needed — lost boundaries, bad base64, raw 8-bit headers — which `email.message` would repair.
- `lying_zip` (a zip whose headers understate an entry's size), `deflated_zip` (high-ratio entries).
"""

from __future__ import annotations

import base64
import io
import re
import socket
import threading
import zipfile

from lxml import etree

# ---------------------------------------------------------------------------- XML


def with_doctype(xml: bytes, doctype: bytes) -> bytes:
    """The document with ``doctype`` inserted right before its root element (after the declaration)."""
    at = re.search(rb"<[A-Za-z]", xml).start()
    return xml[:at] + doctype + xml[at:]


def nested(depth: int) -> bytes:
    """A UBL Invoice root with ``depth`` nested elements inside."""
    return (b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">' + b"<a>" * depth
            + b"</a>" * depth + b"</Invoice>")


def many_namespaces(xml: bytes, count: int) -> bytes:
    """The document with ``count`` extra (unused) namespace declarations on its root element."""
    declarations = b" ".join(b'xmlns:n%d="urn:example:%d"' % (i, i) for i in range(count))
    at = re.search(rb"<[A-Za-z][\w:.-]*", xml).end()
    return xml[:at] + b" " + declarations + xml[at:]


def set_text(xml: bytes, path: str, value: str, *, index: int = 0) -> bytes:
    """The document with the text of the ``index``-th match of the XPath ``path`` (prefixes cbc, cac,
    ram, rsm, udt) replaced by ``value``."""
    namespaces = {
        "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
        "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
        "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
        "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
        "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    }
    root = etree.fromstring(xml)
    root.xpath(path, namespaces=namespaces)[index].text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class NetworkTrap:
    """A listener on 127.0.0.1 that accepts and counts connections (and what they asked for).

    ``url(path)`` is an http URL pointing at it. Use as a context manager.
    """

    def __init__(self):
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str = "x") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    self.requests.append(connection.recv(4096))
                except OSError:
                    self.requests.append(b"")

    def __enter__(self) -> "NetworkTrap":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()


# ---------------------------------------------------------------------------- PDF


def pdf_with(files=(), *, encrypt: str | None = None, pages: int = 1) -> bytes:
    """A PDF with blank pages and embedded files ``(name, bytes)`` (in the given order)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    for name, data in files:
        writer.add_attachment(name, data)
    if encrypt is not None:
        writer.encrypt(encrypt)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def inflating_pdf(name: str, inflated_size: int) -> bytes:
    """A PDF whose embedded file ``name`` is a FlateDecode stream of ``inflated_size`` spaces (a PDF bomb:
    ~1000 times smaller than what it inflates to)."""
    import zlib

    from pypdf import PdfWriter
    from pypdf.generic import NameObject

    compressor = zlib.compressobj(9)
    head = compressor.compress(b"<a>") + compressor.flush(zlib.Z_FULL_FLUSH)
    # a full flush resets the compressor: every 1 MB block compresses to the same bytes, so repeat them
    block = compressor.compress(b" " * (1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    chunks = [head, block * (inflated_size >> 20), compressor.compress(b"</a>") + compressor.flush()]
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_attachment(name, b"placeholder")
    spec = writer._root_object["/Names"]["/EmbeddedFiles"]["/Names"][1].get_object()
    stream = spec["/EF"]["/F"].get_object()
    stream._data = b"".join(chunks)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------- mail


def crlf(data: bytes) -> bytes:
    """Bare LF line ends as CRLF (what goes over SMTP)."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def part(data: bytes, *, name: bytes | None = b"re.xml", content_type: bytes = b"application/xml",
         encoding: bytes = b"base64", extra: bytes = b"") -> bytes:
    """One MIME body part (headers + body); ``encoding`` base64 encodes ``data``, anything else puts it
    as it is."""
    body = crlf(base64.encodebytes(data)) if encoding == b"base64" else data
    head = b"Content-Type: " + content_type + (b'; name="' + name + b'"' if name is not None else b"") + b"\r\n"
    if name is not None:
        head += b'Content-Disposition: attachment; filename="' + name + b'"\r\n'
    return head + b"Content-Transfer-Encoding: " + encoding + b"\r\n" + extra + b"\r\n" + body


TEXT_PART = b"Content-Type: text/plain; charset=utf-8\r\n\r\nSehr geehrte Damen und Herren, anbei die Rechnung.\r\n"


def raw_mail(parts=(), *, message_id: str, subject: bytes = b"Rechnung",
             sender: bytes = b"Musterbau GmbH <buchhaltung@musterbau.example>", boundary: bytes = b"BOUNDARY",
             declared_boundary: bytes | None = None, close: bool = True, headers: bytes = b"") -> bytes:
    """A multipart/mixed message built byte for byte. ``declared_boundary`` (default ``boundary``) is
    the one the Content-Type names; ``close=False`` leaves out the closing boundary."""
    out = (b"From: " + sender + b"\r\nTo: rechnung@rechnung.musterstadt.example\r\nSubject: " + subject
           + b"\r\nDate: Tue, 03 Nov 2026 09:30:00 +0000\r\nMessage-ID: <" + message_id.encode()
           + b">\r\nMIME-Version: 1.0\r\n" + headers + b'Content-Type: multipart/mixed; boundary="'
           + (declared_boundary or boundary) + b'"\r\n\r\nThis is a multi-part message in MIME format.\r\n')
    for body in parts:
        out += b"--" + boundary + b"\r\n" + body + b"\r\n"
    if close:
        out += b"--" + boundary + b"--\r\n"
    return out


def deeply_nested_mail(depth: int, attachment: bytes, *, message_id: str) -> bytes:
    """``depth`` multipart levels, each the only part of the one above, an attachment at the bottom."""
    head = raw_mail(message_id=message_id, boundary=b"L0", close=False).split(b"This is a multi-part")[0]
    body = b"".join(b'--L%d\r\nContent-Type: multipart/mixed; boundary="L%d"\r\n\r\n' % (i, i + 1)
                    for i in range(depth))
    return head + body + b"--L%d\r\n" % depth + part(attachment) + b"\r\n"


# ---------------------------------------------------------------------------- zip


def deflated_zip(members) -> bytes:
    """A zip of ``(path, bytes)`` members, deflated at the highest level (paths taken as they are)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path, data in members:
            archive.writestr(zipfile.ZipInfo(path), data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def lying_zip(path: str, data: bytes, claimed_size: int) -> bytes:
    """A zip whose local and central headers claim the entry is ``claimed_size`` bytes uncompressed."""
    raw = bytearray(deflated_zip([(path, data)]))
    local = raw.index(b"PK\x03\x04")
    raw[local + 22:local + 26] = claimed_size.to_bytes(4, "little")
    central = raw.index(b"PK\x01\x02")
    raw[central + 24:central + 28] = claimed_size.to_bytes(4, "little")
    return bytes(raw)
