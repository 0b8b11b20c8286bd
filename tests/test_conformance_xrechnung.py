"""The XRechnung CIUS layer (rules/xrechnung/) against the official verdicts (issue targets).

UBL: the EN 16931 layer is CEN's own XSLT, so the verdict and the error-rule set are compared whole.
CII: the verdict also depends on the EN 16931 CII layer (compared in test_conformance_en16931_cii),
so here only the XRechnung-layer findings (oracle source xr-cii, engine source xr-cii) are compared.
Every remaining difference must be listed with its reason in tests/conformance/known-differences.md.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from conftest import REPORT_LINES, error_ids, expected_error_ids

KNOWN = Path(__file__).parent / "conformance" / "known-differences.md"


def _folder(rel: str) -> str:
    return "/".join(rel.split("/")[:2])


def _is_ubl(entry) -> bool:
    return entry["syntax"] in ("ubl-invoice", "ubl-creditnote")


def _rule_ids(findings) -> set[str]:
    return {i for i in error_ids(findings) if not i.startswith("EINVOICE-")}


def _warning_ids(findings, source) -> set[str]:
    return {f.rule_id for f in findings if f.severity.value == "warning" and f.source == source}


@pytest.fixture(scope="module")
def ubl(corpus_results, expected):
    return {rel: (expected[rel], corpus_results[rel]) for rel in expected
            if _is_ubl(expected[rel]) and rel.startswith(("xrechnung-rules/", "xrechnung-samples/"))}


@pytest.fixture(scope="module")
def known_files() -> set[str]:
    text = KNOWN.read_text(encoding="utf-8") if KNOWN.is_file() else ""
    return {word.strip("`|*, ") for word in text.split() if word.strip("`|*, ").endswith(".xml")}


def test_ubl_verdicts(ubl, known_files):
    per_folder = collections.defaultdict(lambda: [0, 0, 0, 0])  # same verdict, same error set, xsd-valid, files
    false_accepts, differing = [], []
    for rel, (entry, result) in ubl.items():
        row = per_folder[_folder(rel)]
        row[3] += 1
        row[0] += result.valid == entry["valid"]
        if not entry["valid"] and result.valid:
            false_accepts.append(rel)
        if entry["xsd_ok"]:
            row[2] += 1
            same = _rule_ids(result.findings) == expected_error_ids(entry)
            row[1] += same
            if not same or result.valid != entry["valid"]:
                differing.append(rel)
    REPORT_LINES.append("XRechnung UBL (verdict agreement; error-rule-set equality on XSD-valid files):")
    for folder, (verdict, rules, xsd_valid, n) in sorted(per_folder.items()):
        REPORT_LINES.append(f"  {folder:<45} verdict {verdict:>4}/{n:<4} rule set {rules:>4}/{xsd_valid:<4}")
    assert false_accepts == []
    samples = [per_folder[f] for f in per_folder if f.startswith("xrechnung-samples")]
    assert all(v == n for v, _, _, n in samples)
    rules = [per_folder[f] for f in per_folder if f.startswith("xrechnung-rules")]
    assert sum(v for v, *_ in rules) >= 0.98 * sum(r[3] for r in rules)
    assert sum(r[1] for r in per_folder.values()) >= 0.95 * sum(r[2] for r in per_folder.values())
    assert sorted(set(Path(rel).name for rel in differing) - known_files) == []


def test_cii_xrechnung_layer(corpus_results, expected, known_files):
    files = [rel for rel, e in expected.items() if e["syntax"] == "cii" and e["xsd_ok"] and e["scenario"]
             and "XRechnung" in e["scenario"]]
    same_errors = same_warnings = 0
    differing = []
    for rel in files:
        entry, findings = expected[rel], corpus_results[rel].findings
        want_warnings = {f["id"] for f in entry["fired"] if f["source"] == "xr-cii" and f["level"] == "warning"}
        errors_ok = error_ids(findings, {"xr-cii"}) == expected_error_ids(entry, {"xr-cii"})
        same_errors += errors_ok
        same_warnings += _warning_ids(findings, "xr-cii") == want_warnings
        if not errors_ok:
            differing.append(rel)
    REPORT_LINES.append(f"XRechnung CII layer (xr-cii) on {len(files)} XSD-valid files: error set equal {same_errors}, "
                        f"warning set equal {same_warnings}")
    assert len(files) > 400
    assert same_errors >= 0.95 * len(files)
    assert sorted(set(Path(rel).name for rel in differing) - known_files) == []
