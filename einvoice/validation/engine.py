"""The validation engine: runs the ordered steps over one ValidationState per document."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from ..config import Settings, load_settings
from .contract import Step
from .findings import Finding, Severity, input_error
from .packs.registry import PackRegistry
from .result import ValidationResult
from .state import ValidationState
from .steps.parse_saxon import SaxonParseError
from .steps import (
    ApplyCustomLevels, CheckPlausibility, CheckXsd, Decide, Identify, ParseXml, ReadInput, RunSchematron, SelectScenario, UnpackPdf,
)


def default_steps(settings: Settings, registry: PackRegistry) -> list[Step]:
    return [
        ReadInput(settings),
        UnpackPdf(settings),
        ParseXml(),
        Identify(),
        SelectScenario(registry),
        CheckXsd(),
        RunSchematron(),
        ApplyCustomLevels(),
        CheckPlausibility(),
        Decide(),
    ]


class ValidationEngine:
    """Create once per process and reuse: packs, XSDs and XSLTs are loaded once and shared."""

    def __init__(self, settings: Settings | None = None, registry: PackRegistry | None = None,
                 steps: list[Step] | None = None):
        self.settings = settings or load_settings()
        self.registry = registry or PackRegistry(self.settings)
        self.steps = steps or default_steps(self.settings, self.registry)

    def validate(self, data: bytes, file_name: str = "", *, pack: str | None = None,
                 receipt_date: date | None = None) -> ValidationResult:
        state = ValidationState(raw=data, file_name=file_name, pack_name=pack, receipt_date=receipt_date)
        for step in self.steps:
            if not step.able_to_run(state):
                continue
            started = time.perf_counter()
            try:
                step.setup(state)
                step.run(state)
            except SaxonParseError as exc:  # a parser limit of the document, not a bug
                state.findings.append(input_error("EINVOICE-PARSE", str(exc)))
                state.stop("XML refused by the Saxon parser")
            except Exception as exc:  # a broken artefact or a bug: never a traceback for the user
                state.findings.append(
                    Finding("EINVOICE-INTERNAL", Severity.ERROR, f"step {step.name} failed: {type(exc).__name__}: {exc}",
                            source=step.name, layer="input")
                )
                state.processing_errors.append(f"{step.name}: {exc}")
                state.stop(f"step {step.name} failed")
            finally:
                step.cleanup(state)
                state.timings_ms[step.name] = state.timings_ms.get(step.name, 0.0) + (time.perf_counter() - started) * 1000
        return ValidationResult.from_state(state)

    def validate_file(self, path: Path, **kwargs) -> ValidationResult:
        try:
            size = path.stat().st_size
            limit = max(self.settings.max_pdf_bytes, self.settings.max_xml_bytes)
            if size > limit:
                return _unread(path, "EINVOICE-TOO-LARGE", f"the file has {size} bytes, more than the limit of {limit} bytes")
            data = path.read_bytes()
        except OSError as exc:
            return _unread(path, "EINVOICE-READ", f"cannot read the file: {exc}")
        return self.validate(data, str(path), **kwargs)


def _unread(path: Path, rule_id: str, message: str) -> ValidationResult:
    """The result for a file that was not read (too large to read, or unreadable)."""
    state = ValidationState(raw=b"", file_name=str(path))
    state.findings.append(input_error(rule_id, message, source="read"))
    Decide().run(state)
    return ValidationResult.from_state(state)
