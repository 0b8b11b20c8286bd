"""The engine against the official validator's verdicts (`../shared/corpus/expected.json`)."""

from __future__ import annotations

import collections

import pytest

from conftest import REPORT_LINES


@pytest.fixture(scope="module")
def verdicts(corpus_results):
    return corpus_results


def test_all_xrechnung_test_suite_samples_are_accepted(verdicts):
    samples = {rel: r for rel, r in verdicts.items() if rel.startswith("xrechnung-samples/")}
    assert len(samples) == 86
    rejected = {rel: [f.rule_id for f in r.errors()] for rel, r in samples.items() if not r.valid}
    assert rejected == {}
    assert {r.triage for r in samples.values()} == {"accept"}


def test_every_xsd_invalid_or_unparseable_file_is_rejected(verdicts, expected):
    broken = [rel for rel, e in expected.items() if not e["valid"] and (not e.get("xsd_ok", True) or e.get("reason"))]
    assert len(broken) > 10
    accepted = [rel for rel in broken if verdicts[rel].valid]
    assert accepted == []
    xsd_invalid = [rel for rel in broken if expected[rel].get("xsd_ok") is False and not expected[rel].get("reason")]
    assert len(xsd_invalid) > 10
    assert all(verdicts[rel].triage == "reject" for rel in xsd_invalid)


def test_no_official_accept_is_rejected(verdicts, expected):
    """Without the German CIUS rules einvoice may still accept too much, but never rejects a valid file."""
    wrongly_rejected = {rel: [f.rule_id for f in verdicts[rel].errors()]
                        for rel, e in expected.items() if e["valid"] and not verdicts[rel].valid}
    assert wrongly_rejected == {}


def test_agreement_with_the_official_verdicts(verdicts, expected):
    per_folder = collections.defaultdict(lambda: [0, 0])
    missing_cius = 0
    for rel, e in expected.items():
        folder = "/".join(rel.split("/")[:2])
        same = verdicts[rel].valid == e["valid"]
        per_folder[folder][0] += same
        per_folder[folder][1] += 1
        error_ids = {f["id"] for f in e["fired"] if f["level"] == "error"}
        if not same and error_ids and all(i.startswith(("BR-DE", "BR-DEX", "BR-TMP", "PEPPOL-")) for i in error_ids):
            missing_cius += 1
    total_same = sum(s for s, _ in per_folder.values())
    REPORT_LINES.append(f"agreement with the official verdict: {total_same}/{len(expected)} files")
    for folder, (same, n) in sorted(per_folder.items()):
        REPORT_LINES.append(f"  {folder:<45} {same:>4}/{n:<4}")
    REPORT_LINES.append(f"  disagreements where only XRechnung CIUS rules (BR-DE-*, Peppol) reject: {missing_cius}")
    # 995/1356 with the engine alone, 1308 with the XRechnung rules, all with the EN 16931 CII rules
    assert total_same == len(expected)
