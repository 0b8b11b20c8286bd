"""Entry point: bytes (XML or hybrid PDF) → `ReadResult` with the EN 16931 model.

``read_invoice(data, file_name)`` detects the document kind from the XML root
(`einvoice.validation.kinds`), takes the invoice XML out of a ZUGFeRD / Factur-X / XRechnung PDF
(`pdf_attachments.extract_invoice_xml`; the PDF bytes stay on the result as the human-readable
original) and parses with the hardened parser (`safe_xml.parse_untrusted`). Input that is not an
invoice raises `FormatError` with a code matching the validation findings (EINVOICE-PARSE, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from ..config import load_settings
from ..validation.identifiers import Specification, classify
from ..validation.kinds import DocumentKind, kind_of_root
from ..validation.pdf_attachments import PdfInvoiceError, extract_invoice_xml
from ..validation.safe_xml import UnsafeXmlError, parse_untrusted
from .cii import read_cii
from .model import Invoice
from .problems import Problem
from .ubl import read_ubl
from .xmlsource import XmlSource
from .zugferd1 import read_zugferd1


class FormatError(ValueError):
    """The input cannot be read into the model; ``code`` is an EINVOICE-* id."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class ReadResult:
    invoice: Invoice
    kind: DocumentKind
    specification: Specification
    xml: bytes
    file_name: str = ""
    pdf: bytes | None = None  # the hybrid PDF as received: the human-readable original
    embedded_file: str | None = None  # name of the invoice XML inside the PDF
    problems: list[Problem] = field(default_factory=list)
    source: XmlSource | None = field(default=None, repr=False, compare=False)

    @property
    def is_en16931(self) -> bool:
        return self.kind is not DocumentKind.ZUGFERD1

    def coverage(self):
        """What the supplier sent that the model did not read (see coverage.py)."""
        from .coverage import uncovered

        return uncovered(self.source) if self.source is not None else []

    def payment_terms(self, **kwargs):
        """BT-20 / CII discount terms as structured Skonto terms (see skonto.py)."""
        from .skonto import payment_terms

        return payment_terms(self.invoice, **kwargs)


def _is_pdf(data: bytes) -> bool:
    return b"%PDF-" in data[:1024]


def read_invoice(data: bytes, file_name: str = "") -> ReadResult:
    if not data or not data.strip():
        raise FormatError("EINVOICE-EMPTY", "the file is empty / die Datei ist leer")
    settings = load_settings()
    pdf = None
    embedded = None
    problems: list[Problem] = []
    xml = data
    if _is_pdf(data):
        if len(data) > settings.max_pdf_bytes:
            raise FormatError("EINVOICE-TOO-LARGE", f"the PDF has {len(data)} bytes, more than {settings.max_pdf_bytes}")
        try:
            extracted = extract_invoice_xml(data, settings.max_xml_bytes)
        except PdfInvoiceError as exc:
            raise FormatError("EINVOICE-PDF", str(exc)) from exc
        pdf, xml, embedded = data, extracted.xml, extracted.file_name
        problems += [Problem("EINVOICE-PDF-NOTE", note, "warning") for note in extracted.notes]
    elif len(data) > settings.max_xml_bytes:
        raise FormatError("EINVOICE-TOO-LARGE", f"the XML has {len(data)} bytes, more than {settings.max_xml_bytes}")
    try:
        root = parse_untrusted(xml).getroot()
    except UnsafeXmlError as exc:
        raise FormatError("EINVOICE-XML-UNSAFE", str(exc)) from exc
    except etree.XMLSyntaxError as exc:
        raise FormatError("EINVOICE-PARSE", f"the XML is not well-formed: {exc}") from exc
    kind = kind_of_root(root.tag)
    if kind is None:
        raise FormatError("EINVOICE-NOT-INVOICE", f"not an invoice document (root element {root.tag})")
    if kind in (DocumentKind.UBL_INVOICE, DocumentKind.UBL_CREDITNOTE):
        invoice, source = read_ubl(root, kind)
    elif kind is DocumentKind.CII:
        invoice, source = read_cii(root)
    else:
        invoice, source = read_zugferd1(root)
        problems.append(Problem(
            "ZUGFERD1-NOT-EN16931",
            "ZUGFeRD 1.0 ist keine E-Rechnung nach EN 16931: Kopf, Parteien, Summen und Positionen wurden nach "
            "bestem Bemühen gelesen, maßgeblich ist das PDF / ZUGFeRD 1.0 is not an EN 16931 e-invoice: header, "
            "parties, totals and lines are read best-effort, the PDF is the invoice",
            "warning"))
    return ReadResult(
        invoice=invoice,
        kind=kind,
        specification=classify(invoice.specification_id),
        xml=xml,
        file_name=file_name,
        pdf=pdf,
        embedded_file=embedded,
        problems=problems + source.problems,
        source=source,
    )
