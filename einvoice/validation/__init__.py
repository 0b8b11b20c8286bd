"""Validation stage: XSD, then Schematron, with the official (KoSIT) verdict and a triage beside it.

    from einvoice.validation import ValidationEngine
    result = ValidationEngine().validate(xml_bytes, "invoice.xml")
    result.valid, result.triage, result.findings
"""

from .engine import ValidationEngine
from .findings import Finding, Severity
from .result import ValidationResult

__all__ = ["Finding", "Severity", "ValidationEngine", "ValidationResult"]
