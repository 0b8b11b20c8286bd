"""`einvoice validate` as a user runs it: formats, exit codes, folders, worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from einvoice.cli import main
from einvoice.samples.generate import write_samples

KEYS = {"file", "kind", "valid", "triage", "pack", "findings"}
FINDING_KEYS = {"rule_id", "severity", "message", "location", "source"}


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("samples")
    write_samples(folder)
    return folder


def _json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_valid_folder_exits_0_with_one_json_object_per_file(samples, capsys):
    assert main(["validate", "--format", "json", str(samples / "invoices")]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert len(rows) == 5
    assert all(KEYS <= row.keys() and row["valid"] for row in rows)
    pdf = next(row for row in rows if row["file"].endswith(".pdf"))
    assert pdf["embedded_file"] == "factur-x.xml" and pdf["kind"] == "cii"


@pytest.mark.parametrize("name,rule", [("malformed.xml", "EINVOICE-PARSE"), ("xxe.xml", "EINVOICE-XML-UNSAFE"),
                                       ("empty.xml", "EINVOICE-EMPTY")])
def test_broken_file_exits_1_with_a_clear_finding(samples, capsys, name, rule):
    assert main(["validate", "--format", "json", str(samples / "broken" / name)]) == 1
    (row,) = _json_lines(capsys.readouterr().out)
    assert row["valid"] is False and row["triage"] == "reject"
    assert row["findings"][0]["rule_id"] == rule
    assert FINDING_KEYS <= row["findings"][0].keys()
    assert row["findings"][0]["severity"] == "error"


def test_text_format_is_a_bilingual_summary(samples, capsys):
    assert main(["validate", str(samples)]) == 1
    out = capsys.readouterr().out
    assert "GÜLTIG / VALID" in out and "UNGÜLTIG / INVALID" in out
    assert "9 Dateien/files: 5 gültig/valid, 4 ungültig/invalid" in out


def test_html_report_is_self_contained(samples, capsys):
    assert main(["validate", "--format", "html", str(samples)]) == 1
    page = capsys.readouterr().out
    assert page.startswith("<!DOCTYPE html>") and "EINVOICE-PARSE" in page
    assert "<script" not in page and "http" not in page.split("<body>")[1].split("</style>")[0]


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "missing.xml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["validate", str(tmp_path)]) == 2  # empty folder
    with pytest.raises(SystemExit) as exc:
        main(["validate"])
    assert exc.value.code == 2
    assert main(["validate", "--jobs", "0", str(tmp_path)]) == 2


def test_jobs_gives_the_same_results_as_one_process(samples):
    def run(jobs: int) -> list[dict]:
        out = subprocess.run([sys.executable, "-m", "einvoice.cli", "validate", "--format", "json", "--jobs", str(jobs),
                              str(samples)], capture_output=True, text=True, timeout=300)
        assert out.returncode == 1, out.stderr
        return _json_lines(out.stdout)

    assert run(2) == run(1)


def test_corpus_samples_are_all_accepted_by_the_cli(corpus):
    out = subprocess.run([sys.executable, "-m", "einvoice.cli", "validate", "--format", "json",
                          str(corpus / "xrechnung-samples")], capture_output=True, text=True, timeout=300)
    rows = _json_lines(out.stdout)
    assert out.returncode == 0 and len(rows) == 86 and all(r["valid"] for r in rows)
