"""Where archive packages go: the `Target` protocol and the hot folder most DMS import from.

A target takes a package (its name and its files as (relative path, bytes)) and returns where it put
it (a location string kept in `ArchivePackage.location`); it can read a delivered package back for
verification. To add an HTTP upload or CMIS target later, implement the protocol and register a
scheme in `target_from_setting` (``EINVOICE_ARCHIVE_TARGET=<scheme>:<address>``):

- ``deliver(package_name, files) -> location``: all or nothing. The DMS must never see a half-written
  package; delivering the same package again (same bytes) returns the same location (a retry after a
  crash between delivery and database commit), a *different* package under an existing name is
  refused with `TargetError`.
- ``fetch(location) -> {path: bytes}``: every file of the delivered package (`TargetError` if gone).
- ``verify(location) -> [problem]``: the files checked against their manifest ([] = intact).
- ``name`` (e.g. ``hotfolder``) and ``describe()`` (one German line for the Verfahrensdokumentation).

`HotFolderTarget` (``hotfolder:/path``; ``hotfolder+zip:/path`` for one zip file per package): the
package is written under a temporary name starting with a dot (``.tmp-<name>``, which DMS import
jobs skip), every file and folder is fsynced, then it is renamed to ``<name>`` (a folder) or
``<name>.zip`` in one step, and the hot folder is fsynced. After a failure the temporary copy is
removed; one left by a crash is replaced by the next delivery. Zip entries carry a fixed timestamp,
so the same package gives the same zip bytes.
"""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable

from .manifest import check_files

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries need a time; a fixed one keeps the bytes reproducible


class TargetError(RuntimeError):
    """The package could not be delivered or read back (German message)."""


@runtime_checkable
class Target(Protocol):
    name: str

    def deliver(self, package_name: str, files: Sequence[tuple[str, bytes]]) -> str: ...

    def fetch(self, location: str) -> dict[str, bytes]: ...

    def verify(self, location: str) -> list[str]: ...

    def describe(self) -> str: ...


def _check_path(path: str) -> PurePosixPath:
    parts = PurePosixPath(path)
    if parts.is_absolute() or not parts.parts or any(p in ("", ".", "..") for p in parts.parts) or "\\" in path:
        raise TargetError(f"unzulässiger Pfad im Archivpaket: {path!r}")
    return parts


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "xb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def zip_bytes(files: Sequence[tuple[str, bytes]]) -> bytes:
    """The package as one zip (entries sorted, fixed time stamps: the same files give the same bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(files):
            info = zipfile.ZipInfo(str(_check_path(path)), date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


class HotFolderTarget:
    """Packages as folders (or zip files, ``zip=True``) in a DMS hot folder, each appearing complete."""

    name = "hotfolder"

    def __init__(self, path: Path | str, *, zip: bool = False):
        self.root = Path(path)
        self.zip = zip

    def describe(self) -> str:
        kind = "je Paket eine ZIP-Datei" if self.zip else "je Paket ein Ordner"
        return f"Übergabeordner (Hotfolder) {self.root}, {kind}; Schreiben unter temporärem Namen, dann Umbenennen"

    def _final(self, package_name: str) -> Path:
        if "/" in package_name or package_name.startswith(".") or not package_name:
            raise TargetError(f"unzulässiger Paketname: {package_name!r}")
        return self.root / (package_name + (".zip" if self.zip else ""))

    def deliver(self, package_name: str, files: Sequence[tuple[str, bytes]]) -> str:
        final = self._final(package_name)
        for path, _ in files:
            _check_path(path)
        self.root.mkdir(parents=True, exist_ok=True)
        if final.exists():
            return self._same_or_refuse(final, files)
        tmp = self.root / f".tmp-{final.name}"
        self._remove(tmp)  # left over by a crash of an earlier delivery
        try:
            if self.zip:
                _write_file(tmp, zip_bytes(files))
                try:
                    os.link(tmp, final)  # like rename, but never replaces a package that appeared meanwhile
                except FileExistsError:
                    return self._same_or_refuse(final, files)
                os.unlink(tmp)
            else:
                self._write_tree(tmp, files)
                try:
                    os.rename(tmp, final)  # fails if a non-empty folder of that name appeared meanwhile
                except OSError:
                    if final.exists():
                        return self._same_or_refuse(final, files)
                    raise
            _fsync_dir(self.root)
        except TargetError:
            raise
        except OSError as exc:
            raise TargetError(f"Archivpaket {package_name} konnte nicht in {self.root} abgelegt werden: {exc}") from exc
        finally:
            self._remove(tmp)
        return str(final)

    def _write_tree(self, tmp: Path, files: Sequence[tuple[str, bytes]]) -> None:
        tmp.mkdir()
        folders = {tmp}
        for path, data in sorted(files):
            target = tmp / _check_path(path)
            for parent in reversed(target.relative_to(tmp).parents[:-1]):
                folder = tmp / parent
                if folder not in folders:
                    folder.mkdir()
                    folders.add(folder)
            _write_file(target, data)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            _fsync_dir(folder)

    @staticmethod
    def _remove(path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()

    def _same_or_refuse(self, final: Path, files: Sequence[tuple[str, bytes]]) -> str:
        try:
            present = self.fetch(str(final))
        except TargetError:
            present = None
        if present == dict(files):
            return str(final)  # the same package was delivered before (retry): nothing to do
        raise TargetError(f"{final} existiert bereits mit anderem Inhalt; ein Archivpaket wird nie überschrieben")

    def fetch(self, location: str) -> dict[str, bytes]:
        path = Path(location)
        try:
            if path.is_file():
                with zipfile.ZipFile(path) as archive:
                    return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
            if path.is_dir():
                return {p.relative_to(path).as_posix(): p.read_bytes()
                        for p in sorted(path.rglob("*")) if p.is_file()}
        except (OSError, zipfile.BadZipFile) as exc:
            raise TargetError(f"Archivpaket {location} nicht lesbar: {exc}") from exc
        raise TargetError(f"Archivpaket {location} nicht gefunden")

    def verify(self, location: str) -> list[str]:
        try:
            return check_files(self.fetch(location))
        except TargetError as exc:
            return [str(exc)]



def target_from_setting(spec: str | None) -> Target:
    """The target named by ``EINVOICE_ARCHIVE_TARGET``: ``hotfolder:/path`` or ``hotfolder+zip:/path``."""
    if not spec or not spec.strip():
        raise TargetError("kein Archivziel konfiguriert: EINVOICE_ARCHIVE_TARGET=hotfolder:/pfad setzen")
    scheme, sep, address = spec.strip().partition(":")
    if not sep or not address.strip():
        raise TargetError(f"EINVOICE_ARCHIVE_TARGET {spec!r}: erwartet <art>:<adresse>, z. B. hotfolder:/srv/dms/eingang")
    if scheme in ("hotfolder", "hotfolder+zip"):
        return HotFolderTarget(Path(address.strip()).expanduser(), zip=scheme == "hotfolder+zip")
    raise TargetError(f"EINVOICE_ARCHIVE_TARGET {spec!r}: unbekannte Art {scheme!r} (unterstützt: hotfolder, hotfolder+zip)")
