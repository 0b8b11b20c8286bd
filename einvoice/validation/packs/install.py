"""`einvoice rules install`: copy a KoSIT validator configuration (zip or folder) into the data directory.

The source is never modified. The pack is unpacked into a staging folder, every XSD and XSLT its
scenarios name must exist and compile, and only then is it moved into place (and made active).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from datetime import date, datetime, timezone
from pathlib import Path, PurePosixPath

from ...config import Settings
from .. import artefacts
from .manifest import PackError
from .registry import ACTIVE_FILE, PACK_META, load_installed
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
        raise PackError("no scenarios.xml found: not a KoSIT validator configuration")
    return found[0].parent


def _verify(pack: RulePack) -> None:
    missing = [str(p) for p in pack.artefacts() if not p.is_file()]
    if missing:
        raise PackError("the pack's scenarios name files that are not in it: " + ", ".join(missing))
    for path in pack.artefacts():
        if path.suffix.lower() == ".xsd":
            artefacts.xsd(path)
        else:
            artefacts.xslt(path)


def _write_meta(folder: Path, name: str, version: str, source: Path, valid_from: date | None,
                valid_until: date | None) -> None:
    lines = [
        f'name = "{name}"',
        f'version = "{version}"',
        f'source = "{source.name}"',
        f'installed_at = "{datetime.now(timezone.utc).isoformat(timespec="seconds")}"',
    ]
    if valid_from:
        lines.append(f"valid_from = {valid_from.isoformat()}")
    if valid_until:
        lines.append(f"valid_until = {valid_until.isoformat()}")
    (folder / PACK_META).write_text("\n".join(lines) + "\n", encoding="utf-8")


def install_pack(source: Path, settings: Settings, *, name: str | None = None, valid_from: date | None = None,
                 valid_until: date | None = None, activate: bool = True, replace: bool = False) -> RulePack:
    source = source.resolve()
    if not source.exists():
        raise PackError(f"{source}: no such file or folder")
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
        target = packs_dir / name
        if target.exists() and not replace:
            raise PackError(f"a pack named {name!r} is installed already (use --replace or --name)")
        _write_meta(root, name, "", source, valid_from, valid_until)
        pack = load_installed(root)
        _verify(pack)
        version = pack.version or _version_from_name(source.name)
        _write_meta(root, name, version, source, valid_from, valid_until)
        if target.exists():
            shutil.rmtree(target)
        root.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if activate:
        (packs_dir / ACTIVE_FILE).write_text(name + "\n", encoding="utf-8")
    return load_installed(target)


def _version_from_name(file_name: str) -> str:
    match = re.search(r"\d+\.\d+(?:\.\d+)?", file_name)
    return match.group(0) if match else ""
