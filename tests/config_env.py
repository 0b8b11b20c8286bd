"""Fixtures for the settings tests (``pytest_plugins = ["config_env"]``): a clean environment and a
settings file written per test."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from einvoice.config.catalogue import SETTINGS


@pytest.fixture
def clean_env(monkeypatch, tmp_path) -> Path:
    """No EINVOICE_ setting from the process (other tests, the demo) leaks in; the data dir is tmp."""
    for name in list(os.environ):
        if name.startswith("EINVOICE_") and not name.startswith("EINVOICE_TEST_"):
            monkeypatch.delenv(name)
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
        monkeypatch.delenv(setting.file_env, raising=False)
    data = tmp_path / "data"
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(data))
    monkeypatch.setenv("EINVOICE_CONFIG", os.devnull)
    return data


@pytest.fixture
def toml(clean_env, tmp_path, monkeypatch):
    """``toml(text)`` writes ``einvoice.toml`` into tmp and makes it the settings file; returns its path."""
    def write(text: str, name: str = "einvoice.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        monkeypatch.setenv("EINVOICE_CONFIG", str(path))
        return path

    return write
