"""Expand command-line paths: files as given, folders searched recursively for .xml and .pdf."""

from __future__ import annotations

from pathlib import Path

SUFFIXES = {".xml", ".pdf"}


def collect(paths: list[str]) -> tuple[list[Path], list[str]]:
    """(files to validate, problems such as a missing path)."""
    files: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"no such file or folder: {raw}")
    return files, problems
