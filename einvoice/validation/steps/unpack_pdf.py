"""Step 2 (PDF only): take the invoice XML out of a ZUGFeRD / Factur-X / XRechnung PDF."""

from __future__ import annotations

from ...config import Settings
from ..contract import Step
from ..findings import Finding, Severity, input_error
from ..pdf_attachments import PdfInvoiceError, extract_invoice_xml
from ..state import ValidationState


class UnpackPdf(Step):
    name = "unpack-pdf"

    def __init__(self, settings: Settings):
        self.settings = settings

    def able_to_run(self, state: ValidationState) -> bool:
        return state.stopped is None and state.container == "pdf"

    def run(self, state: ValidationState) -> None:
        try:
            state.pdf = extract_invoice_xml(state.raw, self.settings.max_xml_bytes)
        except PdfInvoiceError as exc:
            state.findings.append(input_error("EINVOICE-PDF", str(exc)))
            state.stop("no invoice XML in the PDF")
            return
        state.xml = state.pdf.xml
        for note in state.pdf.notes:
            state.findings.append(Finding("EINVOICE-PDF-NOTE", Severity.WARNING, note, source="pdf", layer="einvoice"))
