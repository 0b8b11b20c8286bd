"""Reports of validation results: one JSON object per line, a German/English text summary."""

from __future__ import annotations

import json
from typing import Iterable

from .result import ValidationResult

TRIAGE_TEXT = {
    "accept": "annehmen / accept",
    "review": "manuell prüfen / manual review",
    "reject": "zurückweisen / reject",
}
SEVERITY_TEXT = {"error": "Fehler/error", "warning": "Warnung/warning", "information": "Hinweis/info"}


def json_line(result: ValidationResult, timings: bool = False) -> str:
    return json.dumps(result.to_dict(timings=timings), ensure_ascii=False)


def describe(result: ValidationResult) -> str:
    parts = []
    if result.kind:
        parts.append(result.kind)
    if result.specification:
        parts.append(result.specification["label"])
    if result.embedded_file:
        parts.append(f"embedded {result.embedded_file}")
    if result.scenario:
        parts.append(f"scenario {result.scenario!r}, pack {result.pack}")
    return "; ".join(parts)


def text_block(result: ValidationResult, max_findings: int = 50) -> str:
    verdict = "GÜLTIG / VALID" if result.valid else "UNGÜLTIG / INVALID"
    lines = [f"{'✔' if result.valid else '✘'} {verdict}: {result.file}"]
    if describe(result):
        lines.append(f"    {describe(result)}")
    lines.append(f"    Empfehlung / triage: {TRIAGE_TEXT[result.triage]}")
    shown = sorted(result.findings, key=lambda f: ("error", "warning", "information").index(f.severity.value))
    for finding in shown[:max_findings]:
        lines.append(f"    {SEVERITY_TEXT[finding.severity.value]:<16} {finding.rule_id} [{finding.source}] {finding.message}")
        if finding.location:
            lines.append(f"    {'':<16} at {finding.location}")
    if len(shown) > max_findings:
        lines.append(f"    … {len(shown) - max_findings} more findings (use --format json for all)")
    return "\n".join(lines)


def text_summary(results: Iterable[ValidationResult]) -> str:
    results = list(results)
    valid = sum(r.valid for r in results)
    triage = {t: sum(r.triage == t for r in results) for t in TRIAGE_TEXT}
    return (
        f"{len(results)} Dateien/files: {valid} gültig/valid, {len(results) - valid} ungültig/invalid "
        f"(annehmen/accept {triage['accept']}, prüfen/review {triage['review']}, zurückweisen/reject {triage['reject']})"
    )
