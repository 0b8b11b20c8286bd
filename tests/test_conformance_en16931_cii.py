"""CII invoices against the official verdicts: EN 16931 CII layer (rules/en16931-cii/) plus XRechnung.

Targets of the EN 16931 CII issue: verdict agreement >= 98 %, exact error-level rule-set equality
>= 95 %, zero false accepts; the warning-level agreement is reported as a number.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from conftest import REPORT_LINES, error_ids, expected_error_ids

KNOWN = Path(__file__).parent / "conformance" / "known-differences.md"
FOLDERS = ("xrechnung-rules/cii/", "xrechnung-samples/", "en16931-examples/cii/")


def _warnings(findings) -> set[str]:
    return {f.rule_id for f in findings if f.severity.value == "warning" and not f.rule_id.startswith("EINVOICE-")}


@pytest.fixture(scope="module")
def cii(corpus_results, expected):
    return {rel: (e, corpus_results[rel]) for rel, e in expected.items()
            if e["syntax"] == "cii" and rel.startswith(FOLDERS)}


def test_cii_verdicts_and_rule_sets(cii):
    table = collections.defaultdict(lambda: [0, 0, 0, 0])  # verdict, error set, warning set, files
    false_accepts = []
    for rel, (entry, result) in cii.items():
        row = table["/".join(rel.split("/")[:2])]
        row[3] += 1
        row[0] += result.valid == entry["valid"]
        if not entry["valid"] and result.valid:
            false_accepts.append(rel)
        if entry["xsd_ok"]:
            expected_errors = expected_error_ids(entry)
            row[1] += {i for i in error_ids(result.findings) if not i.startswith("EINVOICE-")} == expected_errors
            row[2] += _warnings(result.findings) == {f["id"] for f in entry["fired"] if f["level"] == "warning"}
        else:
            row[1] += not result.valid  # XSD failed: KoSIT skips Schematron; both reject
            row[2] += not result.valid
    total = [sum(r[i] for r in table.values()) for i in range(4)]
    REPORT_LINES.append("CII (EN 16931 + XRechnung): verdict / error-rule set / warning-rule set")
    for folder, (verdict, errors, warnings, n) in sorted(table.items()):
        REPORT_LINES.append(f"  {folder:<45} {verdict:>4} / {errors:>4} / {warnings:>4} of {n}")
    REPORT_LINES.append(f"  {'all CII':<45} {total[0]:>4} / {total[1]:>4} / {total[2]:>4} of {total[3]}")
    assert false_accepts == []
    assert total[0] >= 0.98 * total[3]
    assert total[1] >= 0.95 * total[3]
