"""Shared fixtures: the official corpus (skipped where absent), an isolated data dir, one engine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# shared test helpers with assertions of their own (imported by several modules, whichever comes first)
pytest.register_assert_rewrite("procs")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("EINVOICE_CORPUS", ROOT.parent / "shared" / "corpus"))

# lines for the terminal summary (conformance agreement tables etc.)
REPORT_LINES: list[str] = []


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "expected.json").is_file():
        pytest.skip(f"official test corpus not found at {CORPUS} (set EINVOICE_CORPUS); skipping corpus tests")
    return CORPUS


@pytest.fixture(scope="session")
def expected(corpus) -> dict:
    return json.loads((corpus / "expected.json").read_text(encoding="utf-8"))["files"]


@pytest.fixture(scope="session", autouse=True)
def isolated_data_dir(tmp_path_factory) -> Path:
    """Installed rule packs of the developer's machine must not leak into the tests."""
    path = tmp_path_factory.mktemp("einvoice-data")
    os.environ["EINVOICE_DATA_DIR"] = str(path)
    os.environ["EINVOICE_CONFIG"] = os.devnull  # nor a settings file of the machine (/etc/einvoice/einvoice.toml)
    return path


@pytest.fixture(scope="session")
def engine(isolated_data_dir):
    from einvoice.validation import ValidationEngine

    return ValidationEngine()


@pytest.fixture(scope="session")
def corpus_results(engine, corpus, expected):
    """The engine's result for every corpus file, computed once per test session."""
    return {rel: engine.validate_file(corpus / rel) for rel in sorted(expected)}


def error_ids(findings, sources=None) -> set[str]:
    return {f.rule_id for f in findings if f.is_error and (sources is None or f.source in sources)}


def expected_error_ids(entry: dict, sources=None) -> set[str]:
    return {f["id"] for f in entry["fired"] if f["level"] == "error" and (sources is None or f["source"] in sources)}


def pytest_terminal_summary(terminalreporter):
    if REPORT_LINES:
        terminalreporter.section("einvoice conformance")
        for line in REPORT_LINES:
            terminalreporter.write_line(line)
