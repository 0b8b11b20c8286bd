"""Step 1: look at the raw bytes: empty, too large, PDF or XML."""

from __future__ import annotations

from ...config import Settings
from ..contract import Step
from ..findings import input_error
from ..state import ValidationState


class ReadInput(Step):
    name = "read"

    def __init__(self, settings: Settings):
        self.settings = settings

    def run(self, state: ValidationState) -> None:
        data = state.raw
        if not data or not data.strip():
            state.findings.append(input_error("EINVOICE-EMPTY", "the file is empty / die Datei ist leer"))
            state.stop("empty input")
            return
        if data[:1024].lstrip().startswith(b"%PDF-") or b"%PDF-" in data[:1024]:
            state.container = "pdf"
            limit = self.settings.max_pdf_bytes
        else:
            state.container = "xml"
            limit = self.settings.max_xml_bytes
        if len(data) > limit:
            state.findings.append(
                input_error(
                    "EINVOICE-TOO-LARGE",
                    f"the {state.container.upper()} file has {len(data)} bytes, more than the limit of {limit} bytes",
                )
            )
            state.stop("input too large")
            return
        if state.container == "xml":
            state.xml = data
