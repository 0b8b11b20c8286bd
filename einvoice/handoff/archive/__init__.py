"""DMS archive: one package per finished invoice (originals unchanged, rendering, validation report,
audit and approval trail, metadata.json + index.xml, SHA-256 manifest), delivered to a hot folder.

- `package`: the files of a package (deterministic); `metadata`: the index data and retention date;
  `manifest`: the ``sha256sum`` manifest and its check.
- `targets`: the `Target` protocol and `HotFolderTarget` (temp name, then rename; folder or zip).
- `service`: `archive_item`, `archive_due`, `verify_all` (hashes and originals against the blob store).
- `cli`: ``einvoice archive [--item ID] [--verify]``; the API is `einvoice.web.api_archive`.
"""

from .manifest import check_files, manifest_bytes
from .package import Package, PackageError, build_package, package_name
from .service import (
    FINISHED, ArchiveError, ArchiveRun, UnknownItem, archive_due, archive_item, due_items, retained_until, verify_all,
    verify_package,
)
from .targets import HotFolderTarget, Target, TargetError, target_from_setting

__all__ = [
    "FINISHED", "ArchiveError", "ArchiveRun", "HotFolderTarget", "Package", "PackageError", "Target", "TargetError", "UnknownItem",
    "archive_due", "archive_item", "build_package", "check_files", "due_items", "manifest_bytes", "package_name",
    "retained_until", "target_from_setting", "verify_all", "verify_package",
]
