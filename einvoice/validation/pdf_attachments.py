"""Find the invoice XML embedded in a ZUGFeRD / Factur-X / XRechnung PDF (zugferd-facturx.md sections 3-5)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError

# The standard names of the invoice XML attachment (zugferd-facturx.md section 3).
STANDARD_NAMES = ("factur-x.xml", "xrechnung.xml", "zugferd-invoice.xml", "ZUGFeRD-invoice.xml")
ORDER_NAMES = ("order-x.xml",)


class PdfInvoiceError(ValueError):
    """The PDF cannot be read or carries no usable invoice XML."""


@dataclass
class EmbeddedFile:
    name: str
    data: bytes
    relationship: str = ""
    mime_type: str = ""


@dataclass
class PdfInvoice:
    """The chosen invoice XML plus what the PDF says about it."""

    xml: bytes
    file_name: str
    relationship: str
    attachments: list[str] = field(default_factory=list)
    xmp_conformance_level: str = ""
    xmp_document_file_name: str = ""
    notes: list[str] = field(default_factory=list)


def _name_of(spec) -> str:
    return str(spec.get("/UF") or spec.get("/F") or "")


def _file_specs(reader: PdfReader):
    """All file specifications: the EmbeddedFiles name tree plus the catalog /AF array."""
    root = reader.trailer["/Root"]
    seen = set()
    names = root.get("/Names")
    if names is not None:
        tree = names.get_object().get("/EmbeddedFiles")
        if tree is not None:
            yield from _walk_name_tree(tree.get_object(), seen, depth=0)
    for ref in root.get("/AF") or []:
        spec = ref.get_object()
        if id(spec) not in seen:
            seen.add(id(spec))
            yield spec


def _walk_name_tree(node, seen: set, depth: int):
    if depth > 32:  # refuse pathological nesting
        raise PdfInvoiceError("the PDF's embedded-files name tree is nested too deeply")
    pairs = node.get("/Names") or []
    for i in range(1, len(pairs), 2):
        spec = pairs[i].get_object()
        if id(spec) not in seen:
            seen.add(id(spec))
            yield spec
    for kid in node.get("/Kids") or []:
        yield from _walk_name_tree(kid.get_object(), seen, depth + 1)


def _embedded(spec, max_bytes: int) -> EmbeddedFile | None:
    ef = spec.get("/EF")
    if ef is None:
        return None
    ef = ef.get_object()
    stream = ef.get("/UF") or ef.get("/F")
    if stream is None:
        return None
    stream = stream.get_object()
    declared = stream.get("/Length")
    if declared is not None and int(declared) > max_bytes:
        raise PdfInvoiceError(f"embedded file {_name_of(spec)!r} is larger than the limit of {max_bytes} bytes")
    data = stream.get_data()
    if len(data) > max_bytes:
        raise PdfInvoiceError(f"embedded file {_name_of(spec)!r} is larger than the limit of {max_bytes} bytes")
    relationship = str(spec.get("/AFRelationship") or "").lstrip("/")
    return EmbeddedFile(_name_of(spec), data, relationship, str(stream.get("/Subtype") or "").lstrip("/"))


def _xmp_value(xmp: str, prop: str) -> str:
    """A zf/fx property as element (<fx:Prop>v</fx:Prop>) or attribute (fx:Prop="v")."""
    m = re.search(rf"<(?:\w+:)?{prop}>\s*([^<]*?)\s*</(?:\w+:)?{prop}>", xmp) or re.search(
        rf"\b\w+:{prop}\s*=\s*\"([^\"]*)\"", xmp
    )
    return m.group(1) if m else ""


def _xmp(reader: PdfReader) -> str:
    try:
        meta = reader.trailer["/Root"].get("/Metadata")
        if meta is None:
            return ""
        return meta.get_object().get_data().decode("utf-8", errors="replace")
    except Exception:  # XMP is informative only
        return ""


def _choose(files: list[EmbeddedFile]) -> tuple[EmbeddedFile | None, list[str]]:
    notes: list[str] = []
    # the first attachment (name-tree order) with a standard name, as mustang's importer does
    for f in files:
        if f.name in STANDARD_NAMES:
            return f, notes
    lowered = {f.name.lower(): f for f in files}
    for name in STANDARD_NAMES:
        if name.lower() in lowered:
            chosen = lowered[name.lower()]
            notes.append(f"attachment name {chosen.name!r} differs in case from the standard name {name!r}")
            return chosen, notes
    for name in ORDER_NAMES:
        if name in lowered:
            return lowered[name], notes
    xml_like = [f for f in files if f.name.lower().endswith(".xml") and _looks_like_invoice(f.data)]
    if len(xml_like) == 1:
        notes.append(f"non-standard attachment name {xml_like[0].name!r} used as the invoice XML")
        return xml_like[0], notes
    if len(xml_like) > 1:
        raise PdfInvoiceError(
            "several XML attachments look like invoices and none has a standard name: "
            + ", ".join(f.name for f in xml_like)
        )
    return None, notes


def _looks_like_invoice(data: bytes) -> bool:
    head = data[:4096]
    return any(tag in head for tag in (b"CrossIndustryInvoice", b"CrossIndustryDocument", b"Invoice-2", b"CreditNote-2"))


def extract_invoice_xml(pdf: bytes, max_xml_bytes: int) -> PdfInvoice:
    """Return the embedded invoice XML of a hybrid PDF; raise PdfInvoiceError with a reason otherwise."""
    try:
        reader = PdfReader(io.BytesIO(pdf), strict=False)
        if reader.is_encrypted:
            raise PdfInvoiceError("the PDF is encrypted; an invoice PDF must be readable without a password")
        files = [f for f in (_embedded(s, max_xml_bytes) for s in _file_specs(reader)) if f is not None]
        xmp = _xmp(reader)
    except PdfInvoiceError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError,
            PyPdfError) as exc:  # PyPdfError: also pypdf's LimitReachedError (a stream that inflates past 75 MB)
        raise PdfInvoiceError(f"the PDF cannot be read: {exc}") from exc
    if not files:
        raise PdfInvoiceError("no embedded invoice XML in the PDF: the PDF has no embedded files")
    chosen, notes = _choose(files)
    if chosen is None:
        raise PdfInvoiceError(
            "no embedded invoice XML in the PDF: attachments are " + ", ".join(repr(f.name) for f in files)
        )
    result = PdfInvoice(
        xml=chosen.data,
        file_name=chosen.name,
        relationship=chosen.relationship,
        attachments=[f.name for f in files],
        xmp_conformance_level=_xmp_value(xmp, "ConformanceLevel"),
        xmp_document_file_name=_xmp_value(xmp, "DocumentFileName"),
        notes=notes,
    )
    if result.xmp_document_file_name and result.xmp_document_file_name != chosen.name:
        result.notes.append(
            f"XMP DocumentFileName {result.xmp_document_file_name!r} does not name the embedded file {chosen.name!r}"
        )
    return result
