"""`einvoice rules install`: copy a KoSIT validator configuration (zip or folder) into the data directory.

The source is never modified. The pack is unpacked into a staging folder, every XSD and XSLT its
scenarios name must exist and compile, and only then is it moved into place (and made active).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
from datetime import date, datetime, timezone
from pathlib import Path, PurePosixPath

from ...config import Settings
from .. import artefacts
from .manifest import PackError
from .registry import ACTIVE_FILE, PACK_META, builtin_packs, load_installed
from .model import RulePack

MAX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 20_000


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "pack"


def _unzip(source: Path, target: Path) -> None:
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile as exc:
        raise PackError(f"{source}: not a zip file ({exc})") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise PackError(f"{source}: {len(members)} entries, more than {MAX_MEMBERS}")
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise PackError(f"{source}: unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        for member in members:
            name = PurePosixPath(member.filename)
            if name.is_absolute() or ".." in name.parts or (member.external_attr >> 16) & 0o170000 == 0o120000:
                raise PackError(f"{source}: refusing unsafe entry {member.filename!r}")
        archive.extractall(target)


def _pack_root(staging: Path) -> Path:
    if (staging / "scenarios.xml").is_file():
        return staging
    found = sorted(staging.rglob("scenarios.xml"), key=lambda p: len(p.parts))
    if not found:
        raise PackError("no scenarios.xml found in the source: not a KoSIT validator configuration")
    return found[0].parent


def _verify(pack: RulePack) -> None:
    root = Path(pack.origin).resolve()

    def shown(path: Path) -> str:  # relative to the pack: the staging folder is deleted afterwards
        return Path(os.path.relpath(path, root)).as_posix()

    outside = [shown(p) for p in pack.artefacts() if not p.is_relative_to(root)]
    if outside:
        raise PackError("the pack's scenarios name files outside the pack: " + ", ".join(outside))
    missing = [shown(p) for p in pack.artefacts() if not p.is_file()]
    if missing:
        raise PackError("the pack's scenarios name files that are not in it: " + ", ".join(missing))
    for path in pack.artefacts():
        try:
            if path.suffix.lower() == ".xsd":
                artefacts.xsd(path)
            else:
                artefacts.xslt(path)
        except artefacts.ArtefactError as exc:
            raise PackError(f"{shown(path)} does not load: {str(exc).replace(str(path), path.name)}") from exc
    # a match expression that does not compile would break routing of every document, so try each once
    probe = _MatchProbe()
    for scenario in pack.scenarios:
        try:
            scenario.matches(probe)
        except artefacts.ArtefactError as exc:
            raise PackError(f"scenarios.xml: scenario {scenario.name!r}: {exc}") from exc


class _MatchProbe:
    """A stand-in document (<probe/>) to evaluate match expressions on once at install time."""

    kind = None
    spec_id = None
    container = "xml"

    def saxon_document(self):
        return artefacts.saxon().parse_xml(xml_text="<probe/>")


def _write_meta(folder: Path, name: str, version: str, source: Path, valid_from: date | None,
                valid_until: date | None) -> None:
    lines = [
        f"name = {_toml_string(name)}",
        f"version = {_toml_string(version)}",
        f"source = {_toml_string(source.name)}",
        f'installed_at = "{datetime.now(timezone.utc).isoformat(timespec="seconds")}"',
    ]
    if valid_from:
        lines.append(f"valid_from = {valid_from.isoformat()}")
    if valid_until:
        lines.append(f"valid_until = {valid_until.isoformat()}")
    (folder / PACK_META).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string with ASCII escapes is a valid TOML basic string


def install_pack(source: Path, settings: Settings, *, name: str | None = None, valid_from: date | None = None,
                 valid_until: date | None = None, activate: bool = True, replace: bool = False) -> RulePack:
    source = source.resolve()
    if not source.exists():
        raise PackError(f"{source}: no such file or folder")
    if valid_from and valid_until and valid_from > valid_until:
        raise PackError(f"--valid-from {valid_from} is after --valid-until {valid_until}")
    if source.is_dir():
        links = [str(p.relative_to(source)) for p in source.rglob("*") if p.is_symlink()]
        if links:
            raise PackError(f"{source}: refusing symbolic links in the pack: {', '.join(sorted(links))}")
    packs_dir = settings.rule_packs_dir
    packs_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=packs_dir))
    try:
        if source.is_dir():
            shutil.copytree(source, staging / "pack", symlinks=False)
        else:
            _unzip(source, staging / "pack")
        root = _pack_root(staging / "pack")
        name = _slug(name or (source.stem if source.is_file() else source.name))
        if name == ACTIVE_FILE or name in {p.name for p in builtin_packs()}:
            raise PackError(f"{name!r} is reserved (a built-in pack or the active-pack marker); choose another --name")
        target = packs_dir / name
        if target.exists() and not replace:
            raise PackError(f"a pack named {name!r} is installed already (use --replace or --name)")
        _write_meta(root, name, "", source, valid_from, valid_until)
        try:
            pack = load_installed(root)
        except PackError as exc:  # name files inside the pack, not in the staging folder deleted below
            raise PackError(str(exc).replace(f"{root}{os.sep}", "")) from exc
        _verify(pack)
        version = pack.version or _version_from_name(source.name)
        _write_meta(root, name, version, source, valid_from, valid_until)
        if target.exists():
            shutil.rmtree(target)
            artefacts.forget_under(target)  # a long-running process must not keep the replaced XSLTs
        root.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if activate:
        (packs_dir / ACTIVE_FILE).write_text(name + "\n", encoding="utf-8")
    return load_installed(target)


def _version_from_name(file_name: str) -> str:
    match = re.search(r"\d+\.\d+(?:\.\d+)?", file_name)
    return match.group(0) if match else ""
