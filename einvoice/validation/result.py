"""What a validation returns: the verdict, triage, findings and where the document came from."""

from __future__ import annotations

from dataclasses import dataclass, field

from .findings import Finding
from .state import ValidationState


@dataclass
class ValidationResult:
    file: str
    kind: str | None
    valid: bool
    triage: str
    pack: str | None
    scenario: str | None
    spec_id: str | None
    specification: dict | None
    container: str
    embedded_file: str | None
    findings: list[Finding]
    processing_errors: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: ValidationState) -> "ValidationResult":
        return cls(
            file=state.file_name,
            kind=state.kind.value if state.kind else None,
            valid=bool(state.valid),
            triage=state.triage or "reject",
            pack=f"{state.pack.name} {state.pack.version}".strip() if state.pack else None,
            scenario=state.scenario.name if state.scenario else None,
            spec_id=state.spec_id,
            specification=state.specification.to_dict() if state.specification else None,
            container=state.container,
            embedded_file=state.pdf.file_name if state.pdf else None,
            findings=list(state.findings),
            processing_errors=list(state.processing_errors),
            timings_ms=dict(state.timings_ms),
        )

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    def to_dict(self, timings: bool = False) -> dict:
        data = {
            "file": self.file,
            "kind": self.kind,
            "valid": self.valid,
            "triage": self.triage,
            "pack": self.pack,
            "scenario": self.scenario,
            "specification_id": self.spec_id,
            "specification": self.specification,
            "embedded_file": self.embedded_file,
            "findings": [f.to_dict() for f in self.findings],
        }
        if timings:
            data["timings_ms"] = {k: round(v, 3) for k, v in self.timings_ms.items()}
        return data
