"""``einvoice audit export|verify|verifier``: the hash-chained audit trail, exported per invoice and checked.

- ``einvoice audit export ID [--out FILE]``: the audit trail of one invoice as JSON (format
  ``einvoice-audit-export/1``, `audit_chain.export_item`), for the Rechnungsprüfungsamt.
- ``einvoice audit verify FILE … [--previous OLD]``: check exports (or an archive package's
  ``audit.json``) offline — the same check as ``python3 verify_audit.py FILE``.
- ``einvoice audit verify --database [--item ID] [--json]``: recompute every chain in the database
  (hashes, links, gaps, each item's state against its last transition); the admin's periodic check.
- ``einvoice audit verifier [--out FILE]``: write the stand-alone verifier (one file, Python standard
  library only) to hand out with the exports.

Exit status: 0 intact, 1 a deviation (or an unknown item), 2 a file cannot be read.
Database: ``EINVOICE_DATABASE_URL`` (at the newest schema revision).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _write(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _export(args) -> int:
    from .audit_chain import export_item
    from .migrate import open_current

    db = open_current()
    try:
        with db.read() as session:
            document = export_item(session, args.item)
    finally:
        db.dispose()
    if document is None:
        print(f"einvoice: Rechnung #{args.item} gibt es nicht", file=sys.stderr)
        return 1
    _write(json.dumps(document, ensure_ascii=False, indent=2) + "\n", args.out)
    if args.out:
        print(f"einvoice: Audit-Trail von Rechnung #{args.item} ({document['event_count']} Ereignisse) nach "
              f"{args.out} geschrieben; letzter Hash {document['final_hash']}", file=sys.stderr)
    return 0


def _verify_database(args) -> int:
    from .audit_chain import verify_database
    from .migrate import open_current

    db = open_current()
    try:
        with db.read() as session:
            check = verify_database(session, args.item)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps({"ok": check.ok, **check.to_dict()}, ensure_ascii=False, indent=2))
    else:
        for item_id, problems in check.problems.items():
            print(f"Rechnung #{item_id}:", *(f"  - {p}" for p in problems), sep="\n")
    print(f"einvoice: {check.items} Rechnungen, {check.events} Audit-Ereignisse geprüft, "
          f"{len(check.problems)} mit Abweichungen", file=sys.stderr)
    return 0 if check.ok else 1


def _verify(args) -> int:
    if args.database:
        if args.files:
            print("einvoice: --database prüft die Datenbank; Dateien bitte ohne --database angeben", file=sys.stderr)
            return 2
        return _verify_database(args)
    if args.item is not None or args.json:
        print("einvoice: --item und --json gelten nur mit --database", file=sys.stderr)
        return 2
    if not args.files:
        print("einvoice: welche Datei? (einvoice audit verify EXPORT.json, oder --database)", file=sys.stderr)
        return 2
    from .audit_verify_standalone import main as verify_files

    return verify_files([*args.files, *(["--previous", args.previous] if args.previous else [])])


def _verifier(args) -> int:
    from . import audit_verify_standalone

    _write(Path(audit_verify_standalone.__file__).read_text(encoding="utf-8"), args.out)
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    audit = subparsers.add_parser("audit", help="the audit trail: export per invoice, verify offline")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    export = commands.add_parser("export", help="the hash-chained audit trail of one invoice as JSON")
    export.add_argument("item", type=int, metavar="ID", help="intake item id (Eingangsnummer)")
    export.add_argument("--out", metavar="FILE", help="write to FILE (default: standard output)")
    export.set_defaults(func=_export)
    verify = commands.add_parser("verify", help="check exported trails offline, or every chain in the database")
    verify.add_argument("files", nargs="*", metavar="FILE", help="exports or archive audit.json files")
    verify.add_argument("--previous", metavar="OLD", help="an earlier export of the same invoice: all its events "
                                                          "must still be there, unchanged")
    verify.add_argument("--database", action="store_true", help="check the chains in the database instead of files")
    verify.add_argument("--item", type=int, metavar="ID", help="with --database: only this intake item")
    verify.add_argument("--json", action="store_true", help="with --database: JSON summary")
    verify.set_defaults(func=_verify)
    verifier = commands.add_parser("verifier", help="write the stand-alone verifier (python3 verify_audit.py FILE)")
    verifier.add_argument("--out", metavar="FILE", help="write to FILE (default: standard output)")
    verifier.set_defaults(func=_verifier)
    return audit
