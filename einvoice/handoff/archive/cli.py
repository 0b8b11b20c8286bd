"""``einvoice archive [--item ID] [--verify] [--target SPEC] [--json]``.

Without ``--verify``: archive every finished invoice (exported, rejected, duplicate; not yet archived),
or only ``--item ID``, to ``EINVOICE_ARCHIVE_TARGET`` (``hotfolder:/path`` or ``hotfolder+zip:/path``;
``--target`` overrides it). With ``--verify``: re-check every delivered package (or those of
``--item``) against its manifest and the blob store. Exit status: 0 all good, 1 a package failed or
a check found a problem, 2 no or a wrong target configured. Database: ``EINVOICE_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import json
import sys


def _run(args) -> int:
    from ...store.db import Database
    from .service import ArchiveError, archive_due, archive_item, verify_all
    from .targets import TargetError, target_from_setting

    db = Database()
    try:
        try:
            target = target_from_setting(args.target or db.settings.archive_target)
        except TargetError as exc:
            print(f"einvoice: {exc}", file=sys.stderr)
            return 2
        if args.verify:
            outcome = verify_all(db, targets={target.name: target}, item_id=args.item)
            bad = {pid: problems for pid, problems in outcome.items() if problems}
            if args.json:
                print(json.dumps({"checked": len(outcome), "problems": {str(k): v for k, v in bad.items()}},
                                 ensure_ascii=False, indent=2))
            else:
                for pid, problems in bad.items():
                    print(f"Archivpaket #{pid}:", *(f"  - {p}" for p in problems), sep="\n")
                print(f"einvoice: {len(outcome)} Archivpakete geprüft, {len(bad)} mit Abweichungen", file=sys.stderr)
            return 1 if bad else 0
        if args.item is not None:
            try:
                row = archive_item(db, args.item, actor=args.actor, target=target)
            except ArchiveError as exc:
                print(f"einvoice: {exc}", file=sys.stderr)
                return 1
            except Exception as exc:  # recorded as a failed package
                print(f"einvoice: Rechnung #{args.item} nicht archiviert: {exc}", file=sys.stderr)
                return 1
            print(f"Rechnung #{args.item} archiviert: {row.location}")
            return 0
        run = archive_due(db, actor=args.actor, target=target)
        if args.json:
            print(json.dumps(run.to_dict(), ensure_ascii=False, indent=2))
        else:
            for item_id, error in run.failed.items():
                print(f"Rechnung #{item_id} nicht archiviert: {error}")
        print(f"einvoice: {len(run.archived)} archiviert, {len(run.failed)} fehlgeschlagen, "
              f"{len(run.skipped)} übersprungen ({target.describe()})", file=sys.stderr)
        return 1 if run.failed else 0
    finally:
        db.dispose()


def add_parser(subparsers) -> argparse.ArgumentParser:
    archive = subparsers.add_parser("archive", help="archive finished invoices to the DMS (or verify packages)")
    archive.add_argument("--item", type=int, metavar="ID", help="only this intake item")
    archive.add_argument("--verify", action="store_true",
                         help="re-check delivered packages (manifest hashes, originals against the blob store)")
    archive.add_argument("--target", metavar="SPEC",
                         help="hotfolder:/path or hotfolder+zip:/path (default: EINVOICE_ARCHIVE_TARGET)")
    archive.add_argument("--actor", default="system:archive", help="who archives, for the audit trail")
    archive.add_argument("--json", action="store_true", help="JSON summary instead of text")
    archive.set_defaults(func=_run)
    return archive
