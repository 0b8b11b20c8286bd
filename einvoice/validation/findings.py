"""A finding is one message of a validation report (KoSIT: one message)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"


def severity_from_flag(flag: str | None) -> Severity:
    """KoSIT mapping of a Schematron flag (or role): fatal/error or none -> error."""
    value = (flag or "").strip().lower()
    if value in ("warning", "warn"):
        return Severity.WARNING
    if value in ("information", "info"):
        return Severity.INFORMATION
    return Severity.ERROR


@dataclass
class Finding:
    rule_id: str
    severity: Severity
    message: str
    location: str = ""
    source: str = ""
    # which layer of rules produced it: "input", "xsd", "en16931", "cius", "profile", "einvoice"
    layer: str = "einvoice"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["severity"] = self.severity.value
        del data["layer"]
        return data

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def input_error(rule_id: str, message: str, source: str = "einvoice") -> Finding:
    """A finding about the input itself (unreadable, hostile, not an invoice)."""
    return Finding(rule_id=rule_id, severity=Severity.ERROR, message=message, source=source, layer="input")
