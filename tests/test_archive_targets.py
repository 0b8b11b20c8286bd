"""The hot folder target and the manifest: packages appear only complete (temp name, then rename), as
folders or zip files, identical deliveries are idempotent, nothing is overwritten, and verify finds a
changed, a deleted and an added file."""

from __future__ import annotations

import hashlib
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from einvoice.handoff.archive import targets as targets_module
from einvoice.handoff.archive.manifest import MANIFEST, check_files, manifest_bytes, parse_manifest
from einvoice.handoff.archive.targets import HotFolderTarget, TargetError, target_from_setting, zip_bytes


def package(text: str = "A") -> list[tuple[str, bytes]]:
    files = [("original/rechnung.xml", f"<Invoice>{text}</Invoice>".encode()), ("metadata.json", b"{}\n"),
             ("rendering/invoice.html", b"<html></html>"), ("validation/report.json", b"{\"valid\": true}")]
    return files + [(MANIFEST, manifest_bytes(files))]


def listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_manifest_is_sha256sum_format_and_checkable_with_sha256sum(tmp_path):
    files = package()
    manifest = dict(files)[MANIFEST].decode()
    assert manifest.splitlines()[0].endswith("  metadata.json") and len(manifest.splitlines()) == 4
    assert parse_manifest(dict(files)[MANIFEST])["original/rechnung.xml"] == \
        hashlib.sha256(b"<Invoice>A</Invoice>").hexdigest()
    location = Path(HotFolderTarget(tmp_path).deliver("p1", files))
    done = subprocess.run(["sha256sum", "-c", "--quiet", MANIFEST], cwd=location, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_folder_delivery_appears_complete_under_its_name(tmp_path):
    target = HotFolderTarget(tmp_path / "hot")
    location = target.deliver("einvoice-1", package())
    assert location == str(tmp_path / "hot" / "einvoice-1")
    assert listing(tmp_path / "hot") == ["einvoice-1", "einvoice-1/manifest-sha256.txt", "einvoice-1/metadata.json",
                                         "einvoice-1/original", "einvoice-1/original/rechnung.xml",
                                         "einvoice-1/rendering", "einvoice-1/rendering/invoice.html",
                                         "einvoice-1/validation", "einvoice-1/validation/report.json"]
    assert target.fetch(location) == dict(package())
    assert target.verify(location) == []


def test_zip_delivery_is_one_file_with_reproducible_bytes(tmp_path):
    target = HotFolderTarget(tmp_path, zip=True)
    location = target.deliver("einvoice-2", package())
    assert location.endswith("einvoice-2.zip") and listing(tmp_path) == ["einvoice-2.zip"]
    assert Path(location).read_bytes() == zip_bytes(package())  # same files, same bytes
    with zipfile.ZipFile(location) as archive:
        assert archive.read("original/rechnung.xml") == b"<Invoice>A</Invoice>"
    assert target.verify(location) == []


@pytest.mark.parametrize("zipped", [False, True])
def test_failure_mid_write_leaves_no_package_and_no_temp(tmp_path, monkeypatch, zipped):
    target = HotFolderTarget(tmp_path, zip=zipped)
    real, calls = targets_module._write_file, []

    def failing(path, data):
        calls.append(path)
        if len(calls) == 2 or zipped:
            real(path, data[: len(data) // 2])  # half the bytes are on disk, then the disk is full
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(targets_module, "_write_file", failing)
    with pytest.raises(TargetError, match="No space left"):
        target.deliver("einvoice-3", package())
    assert listing(tmp_path) == []  # neither the final name nor the temporary copy
    monkeypatch.setattr(targets_module, "_write_file", real)
    assert target.verify(target.deliver("einvoice-3", package())) == []


def test_temp_copy_left_by_a_crash_is_hidden_and_replaced(tmp_path):
    crashed = tmp_path / ".tmp-einvoice-4"
    (crashed / "original").mkdir(parents=True)
    (crashed / "original" / "rechnung.xml").write_bytes(b"<Inv")  # the process died here
    assert not (tmp_path / "einvoice-4").exists()
    target = HotFolderTarget(tmp_path)
    location = target.deliver("einvoice-4", package())
    assert listing(tmp_path)[0] == "einvoice-4" and not crashed.exists()
    assert target.verify(location) == []


@pytest.mark.parametrize("zipped", [False, True])
def test_same_package_again_is_idempotent_a_different_one_is_refused(tmp_path, zipped):
    target = HotFolderTarget(tmp_path, zip=zipped)
    first = target.deliver("einvoice-5", package("A"))
    assert target.deliver("einvoice-5", package("A")) == first  # a retry after a crash before the commit
    with pytest.raises(TargetError, match="nie überschrieben"):
        target.deliver("einvoice-5", package("B"))
    assert target.fetch(first) == dict(package("A"))


def tamper_change(location: Path):
    path = location / "original" / "rechnung.xml"
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(bytes(data))
    return "Prüfsumme stimmt nicht (Datei verändert): original/rechnung.xml"


def tamper_delete(location: Path):
    (location / "rendering" / "invoice.html").unlink()
    return "Datei fehlt: rendering/invoice.html"


def tamper_add(location: Path):
    (location / "original" / "zusatz.pdf").write_bytes(b"%PDF-1.4")
    return "Datei nicht im Manifest (hinzugefügt): original/zusatz.pdf"


def tamper_manifest(location: Path):
    (location / MANIFEST).unlink()
    return f"{MANIFEST} fehlt"


@pytest.mark.parametrize("tamper", [tamper_change, tamper_delete, tamper_add, tamper_manifest])
def test_verify_detects_tampering_of_a_delivered_folder(tmp_path, tamper):
    target = HotFolderTarget(tmp_path)
    location = Path(target.deliver("einvoice-6", package()))
    assert target.verify(str(location)) == []
    expected = tamper(location)
    assert target.verify(str(location)) == [expected]


def test_verify_detects_a_changed_zip_and_a_missing_package(tmp_path):
    target = HotFolderTarget(tmp_path, zip=True)
    location = target.deliver("einvoice-7", package())
    files = dict(package())
    files["original/rechnung.xml"] = b"<Invoice>B</Invoice>"
    os.chmod(location, 0o644)
    Path(location).write_bytes(zip_bytes(sorted(files.items())))
    assert target.verify(location) == ["Prüfsumme stimmt nicht (Datei verändert): original/rechnung.xml"]
    Path(location).unlink()
    assert "nicht gefunden" in target.verify(location)[0]


def test_check_files_reports_an_unreadable_manifest():
    assert "nicht lesbar" in check_files({MANIFEST: b"not a manifest line\n"})[0]


def test_unsafe_paths_and_names_are_refused(tmp_path):
    target = HotFolderTarget(tmp_path)
    for bad in ("../escape.xml", "/etc/passwd", "a/../../b"):
        with pytest.raises(TargetError, match="unzulässiger Pfad"):
            target.deliver("einvoice-8", [(bad, b"x")])
    with pytest.raises(TargetError, match="Paketname"):
        target.deliver("../einvoice-8", package())
    assert listing(tmp_path) == []


def test_target_from_setting():
    assert isinstance(target_from_setting("hotfolder:/srv/dms/in"), HotFolderTarget)
    zipped = target_from_setting("hotfolder+zip:/srv/dms/in")
    assert zipped.zip and zipped.root == Path("/srv/dms/in") and "ZIP" in zipped.describe()
    for bad in (None, "", "/srv/dms", "cmis:http://dms"):
        with pytest.raises(TargetError):
            target_from_setting(bad)
