"""Archiving finished invoices and re-checking delivered packages.

**Finished** (`FINISHED`): ``exported``, ``rejected`` and ``duplicate`` (their originals must be kept
too). An exported invoice waits while its export batch is still ``created`` (not yet confirmed as
booked): the Kämmerei may still cancel that batch, which returns the invoice to ``approved`` — an
archived invoice could not go back. `archive_item` builds the package (`package.build_package`), delivers
it to the target and, in the same transaction, records an `ArchivePackage` and moves the item to
``archived`` (audit event with package, location, manifest hash, retention date). The item row is
locked while this happens, so two archivers never archive one invoice twice; a crash between
delivery and commit leaves a package that the next run builds again byte for byte, and the target
accepts the identical package (had the invoice's records changed meanwhile, the target refuses to
overwrite and the failure is recorded for a person to resolve). A failed delivery is recorded (``failed`` with the error, audit event
``archive-failed``) and the item stays finished, to be tried again.

`verify_all` re-reads every delivered package from its target: the files against the manifest, the
manifest against the hash recorded at delivery, and every ``original/*`` file against the blob store
(byte-identical to what was received), and the hash chain in ``audit.json`` (intact, and equal to the
database's events of the same seq). It records ``verified_at``/``verified_ok``.

**Retention**: the blob store (`einvoice.store.blobs`) has no delete function at all: originals are
never altered or deleted by einvoice. `retained_until` gives, for a blob, the date before which it
must not be deleted (the latest retention date of the packages holding it; ``date.max`` while an
item using it is not archived yet) — any future deletion procedure must check it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ...config import Settings
from ...intake.process import receipt_date
from ...intake.states import audit, transition
from ...store.audit_chain import package_problems
from ...store.db import Database
from ...store.handoff_models import ArchivePackage, ArchiveStatus, BatchStatus, ExportBatch, ExportRecord
from ...store.models import IntakeItem, ItemState
from ...store.types import utcnow
from .manifest import MANIFEST, check_files, parse_manifest, sha256_hex
from .metadata import aktenzeichen, retention_until
from .package import ARCHIVE_FAILED, Package, PackageError, build_package
from .targets import Target, TargetError

log = logging.getLogger("einvoice.handoff.archive")

FINISHED = (ItemState.EXPORTED.value, ItemState.REJECTED.value, ItemState.DUPLICATE.value)
DEFAULT_ACTOR = "system:archive"


class ArchiveError(RuntimeError):
    """The item cannot be archived (not finished, already archived); German message."""


class UnknownItem(ArchiveError):
    """There is no intake item of that id."""


@dataclass
class ArchiveRun:
    archived: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"archived": self.archived, "failed": {str(k): v for k, v in self.failed.items()},
                "skipped": {str(k): v for k, v in self.skipped.items()}}


def _unbooked():
    """Active export records of the item in a batch not yet confirmed as booked (it may still be cancelled)."""
    return (select(ExportRecord.id).join(ExportBatch, ExportBatch.id == ExportRecord.batch_id)
            .where(ExportRecord.item_id == IntakeItem.id, ExportRecord.active.is_(True),
                   ExportBatch.status == BatchStatus.CREATED.value).exists())


def due_items(session: Session, limit: int | None = None) -> list[int]:
    """Ids of finished items not yet archived, oldest first."""
    stmt = select(IntakeItem.id).where(IntakeItem.state.in_(FINISHED), ~_unbooked()).order_by(IntakeItem.id)
    return list(session.scalars(stmt.limit(limit) if limit else stmt))


def _open_batch(session: Session, item_id: int) -> int | None:
    return session.scalar(select(ExportBatch.id).join(ExportRecord, ExportRecord.batch_id == ExportBatch.id)
                          .where(ExportRecord.item_id == item_id, ExportRecord.active.is_(True),
                                 ExportBatch.status == BatchStatus.CREATED.value).limit(1))


def _lock(session: Session, item_id: int) -> IntakeItem:
    item = session.get(IntakeItem, item_id, with_for_update=True, populate_existing=True)
    if item is None:
        raise UnknownItem(f"Rechnung #{item_id} gibt es nicht")
    return item


def _record_failure(db: Database, item_id: int, target: Target, name: str, error: str, actor: str,
                    years: int) -> None:
    with db.transaction() as session:
        item = _lock(session, item_id)
        session.add(ArchivePackage(item_id=item_id, created_by=actor, target=target.name, location="",
                                   package_name=name, manifest_sha256="", file_count=0,
                                   retention_until=retention_until(receipt_date(item.received_at), years),
                                   status=ArchiveStatus.FAILED.value, error=error[:4000]))
        audit(item, actor=actor, event=ARCHIVE_FAILED, reason=f"Archivierung fehlgeschlagen: {error}"[:2000],
              details={"target": target.name, "package": name})


def archive_item(db: Database, item_id: int, *, actor: str = DEFAULT_ACTOR, target: Target,
                 settings: Settings | None = None) -> ArchivePackage:
    """Archive one finished item (own transaction). Raises `ArchiveError` if it is not finished or
    already archived, `PackageError`/`TargetError` (or any error) if building or delivering failed
    (recorded). ``settings``: retention years and Aktenzeichen template (default ``db.settings``)."""
    settings = settings or db.settings
    name = f"#{item_id}"
    try:
        with db.transaction() as session:
            item = _lock(session, item_id)
            if item.state == ItemState.ARCHIVED.value:
                raise ArchiveError(f"Rechnung #{item_id} ist bereits archiviert")
            if item.state not in FINISHED:
                raise ArchiveError(f"Rechnung #{item_id} ist nicht abgeschlossen (Status {item.state}); archiviert "
                                   "werden exportierte, abgelehnte und doppelte Rechnungen")
            batch = _open_batch(session, item.id) if item.state == ItemState.EXPORTED.value else None
            if batch is not None:
                raise ArchiveError(f"Rechnung #{item_id}: Exportstapel #{batch} ist noch nicht als gebucht bestätigt "
                                   "(er kann noch storniert werden)")
            outcome = item.state
            package: Package = build_package(session, db.blobs, item, settings, outcome=outcome)
            name = package.name
            location = target.deliver(package.name, package.files)
            row = ArchivePackage(item_id=item.id, created_by=actor, target=target.name, location=location,
                                 package_name=package.name, manifest_sha256=package.manifest_sha256,
                                 file_count=len(package.files), retention_until=package.retention_until,
                                 status=ArchiveStatus.DELIVERED.value)
            session.add(row)
            transition(item, ItemState.ARCHIVED, actor, f"archiviert als {package.name} ({target.name})",
                       details={"package": package.name, "target": target.name, "location": location,
                                "manifest_sha256": package.manifest_sha256, "files": len(package.files),
                                "retention_until": package.retention_until.isoformat(), "outcome": outcome})
            session.flush()
            return row
    except ArchiveError:
        raise
    except Exception as exc:  # building or delivering failed: recorded, the item stays finished
        log.error("archiving item #%s failed: %s", item_id, exc)
        _record_failure(db, item_id, target, name, f"{type(exc).__name__}: {exc}" if not isinstance(
            exc, (PackageError, TargetError)) else str(exc), actor, settings.retention_years)
        raise


def archive_due(db: Database, *, actor: str = DEFAULT_ACTOR, target: Target, limit: int | None = None,
                settings: Settings | None = None) -> ArchiveRun:
    """Archive every finished item (one transaction each); failures are recorded and reported, not fatal."""
    run = ArchiveRun()
    aktenzeichen((settings or db.settings).archive_aktenzeichen, {})  # a wrong template fails once, here
    with db.read() as session:
        ids = due_items(session, limit)
    for item_id in ids:
        try:
            archive_item(db, item_id, actor=actor, target=target, settings=settings)
            run.archived.append(item_id)
        except ArchiveError as exc:  # archived or changed meanwhile (another archiver, a cancelled export)
            run.skipped[item_id] = str(exc)
        except Exception as exc:  # recorded by archive_item; the others are still archived
            run.failed[item_id] = str(exc)
    return run


def verify_package(db: Database, row: ArchivePackage, target: Target) -> list[str]:
    """Problems of one delivered package ([] = intact and its originals equal the blob store's bytes)."""
    try:
        files = target.fetch(row.location)
    except TargetError as exc:
        return [str(exc)]
    problems = check_files(files)
    manifest = files.get(MANIFEST)
    if manifest is not None and sha256_hex(manifest) != row.manifest_sha256:
        problems.append("Manifest weicht vom bei der Ablage festgehaltenen Manifest ab (Prüfsumme)")
    with db.read() as session:
        item = session.get(IntakeItem, row.item_id)
    originals = {path: data for path, data in files.items() if path.startswith("original/")}
    expected = {item.sha256} | ({item.envelope_sha256} if item.envelope_sha256 else set())
    companion = ((item.extra or {}).get("companion") or {}).get("sha256")
    expected |= {companion} if companion else set()
    present = set()
    for path, data in sorted(originals.items()):
        digest = sha256_hex(data)
        present.add(digest)
        if digest not in expected:
            problems.append(f"Original weicht von den empfangenen Bytes ab: {path}")
        elif not db.blobs.verify(digest):
            problems.append(f"Original im Blob-Speicher fehlt oder ist beschädigt: {digest}")
    for digest in sorted(expected - present):
        problems.append(f"Original fehlt im Paket (SHA-256 {digest})")
    audit_json = files.get("audit.json")
    try:
        listed = parse_manifest(manifest or b"").get("audit.json")
    except ValueError:
        listed = None  # reported by check_files
    if audit_json is not None and listed == sha256_hex(audit_json):
        with db.read() as session:  # an intact audit.json: its hash chain, and the same hashes as the database
            problems += package_problems(session, row.item_id, audit_json)
    return problems


def verify_all(db: Database, *, targets: dict[str, Target] | Target, item_id: int | None = None) -> dict[int, list[str]]:
    """Re-check every delivered package (or those of one item); records the outcome; package id → problems."""
    resolve = (lambda name: targets.get(name)) if isinstance(targets, dict) else (lambda name: targets)
    with db.read() as session:
        stmt = select(ArchivePackage).where(ArchivePackage.status == ArchiveStatus.DELIVERED.value)
        if item_id is not None:
            stmt = stmt.where(ArchivePackage.item_id == item_id)
        rows = list(session.scalars(stmt.order_by(ArchivePackage.id)))
    outcome: dict[int, list[str]] = {}
    for row in rows:
        target = resolve(row.target)
        problems = (verify_package(db, row, target) if target is not None
                    else [f"Archivziel {row.target!r} ist nicht konfiguriert"])
        outcome[row.id] = problems
        with db.transaction() as session:
            stored = session.get(ArchivePackage, row.id)
            stored.verified_at, stored.verified_ok = utcnow(), not problems
        if problems:
            log.error("archive package %s of item #%s failed verification: %s", row.package_name, row.item_id,
                      "; ".join(problems))
    return outcome


def retained_until(session: Session, sha256: str) -> date | None:
    """The date before which a blob must not be deleted; None if no item uses it (date.max: not archived)."""
    items = list(session.scalars(select(IntakeItem).where(or_(IntakeItem.sha256 == sha256,
                                                               IntakeItem.envelope_sha256 == sha256))))
    if not items:
        return None
    if any(i.state != ItemState.ARCHIVED.value for i in items):
        return date.max
    dates = session.scalars(select(ArchivePackage.retention_until).where(
        ArchivePackage.item_id.in_([i.id for i in items]), ArchivePackage.status == ArchiveStatus.DELIVERED.value))
    return max(dates, default=date.max)


def package_json(row: ArchivePackage) -> dict[str, Any]:
    return {"id": row.id, "item_id": row.item_id, "package_name": row.package_name, "status": row.status,
            "target": row.target, "location": row.location, "manifest_sha256": row.manifest_sha256,
            "file_count": row.file_count, "retention_until": row.retention_until, "created_at": row.created_at,
            "created_by": row.created_by, "error": row.error, "verified_at": row.verified_at,
            "verified_ok": row.verified_ok}
