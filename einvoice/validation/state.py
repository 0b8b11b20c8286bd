"""The one state object a validation run passes from step to step (KoSIT's "Check" state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .findings import Finding, Severity
from .identifiers import Specification
from .kinds import DocumentKind
from .packs.model import RulePack, Scenario
from .pdf_attachments import PdfInvoice


@dataclass
class ValidationState:
    # input
    raw: bytes
    file_name: str = ""
    receipt_date: date | None = None  # decides which pack validity window applies (default: today)
    pack_name: str | None = None  # restrict routing to one pack (--pack)

    # filled in by the steps, in this order
    container: str = "xml"  # "xml" or "pdf"
    pdf: PdfInvoice | None = None
    xml: bytes = b""
    tree: object | None = None  # lxml ElementTree
    kind: DocumentKind | None = None
    spec_id: str | None = None
    specification: Specification | None = None
    pack: RulePack | None = None
    scenario: Scenario | None = None
    triage_scenario: Scenario | None = None  # EN 16931 check for documents no scenario accepts
    xsd_ok: bool | None = None
    findings: list[Finding] = field(default_factory=list)
    processing_errors: list[str] = field(default_factory=list)
    valid: bool | None = None
    triage: str | None = None

    # control and measurement
    stopped: str | None = None  # why the chain stopped early (a reason, not an error text)
    timings_ms: dict[str, float] = field(default_factory=dict)
    _saxon_doc: object | None = None

    def stop(self, reason: str) -> None:
        if self.stopped is None:
            self.stopped = reason

    def saxon_document(self):
        """The document parsed once into Saxon, shared by match expressions and all XSLTs."""
        if self._saxon_doc is None:
            from .steps.parse_saxon import parse_into_saxon

            self._saxon_doc = parse_into_saxon(self)
        return self._saxon_doc

    @property
    def active_scenario(self) -> Scenario | None:
        return self.scenario or self.triage_scenario

    def errors(self, layers: set[str] | None = None) -> list[Finding]:
        return [
            f for f in self.findings if f.severity is Severity.ERROR and (layers is None or f.layer in layers)
        ]
