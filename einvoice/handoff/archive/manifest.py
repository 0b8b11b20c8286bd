"""The SHA-256 manifest of an archive package and its check.

``manifest-sha256.txt`` lists every other file of the package in the format of ``sha256sum``
(``<64 hex digits>  <relative path>``, one line each, sorted by path, UTF-8, ``/`` as separator), so a
DMS administrator can check a delivered folder with ``sha256sum -c manifest-sha256.txt`` without
einvoice. `check_files` compares a package's files with its manifest: a changed, missing or added
file is a problem.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

MANIFEST = "manifest-sha256.txt"
_LINE = re.compile(r"^([0-9a-f]{64})  (.+)$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_bytes(files: Sequence[tuple[str, bytes]]) -> bytes:
    """The manifest of ``files`` (relative path, bytes), the manifest itself excluded."""
    lines = [f"{sha256_hex(data)}  {path}\n" for path, data in sorted(files) if path != MANIFEST]
    return "".join(lines).encode("utf-8")


def parse_manifest(data: bytes) -> dict[str, str]:
    """path → SHA-256 of a manifest; raises ValueError naming the first malformed line."""
    entries: dict[str, str] = {}
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"Zeile {number} des Manifests ist ungültig: {line[:80]!r}")
        entries[match.group(2)] = match.group(1)
    return entries


def check_files(files: Mapping[str, bytes]) -> list[str]:
    """German descriptions of every difference between the files and their manifest ([] = intact)."""
    if MANIFEST not in files:
        return [f"{MANIFEST} fehlt"]
    try:
        expected = parse_manifest(files[MANIFEST])
    except (ValueError, UnicodeDecodeError) as exc:
        return [f"{MANIFEST} nicht lesbar: {exc}"]
    problems = []
    for path, digest in sorted(expected.items()):
        if path not in files:
            problems.append(f"Datei fehlt: {path}")
        elif sha256_hex(files[path]) != digest:
            problems.append(f"Prüfsumme stimmt nicht (Datei verändert): {path}")
    for path in sorted(set(files) - set(expected) - {MANIFEST}):
        problems.append(f"Datei nicht im Manifest (hinzugefügt): {path}")
    return problems
