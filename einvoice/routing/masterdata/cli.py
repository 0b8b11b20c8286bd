"""``einvoice masterdata import PATH [--kind K]`` and ``einvoice masterdata export FOLDER``.

Import: PATH is a folder (every ``<kind>.csv`` in it, in import order, all or nothing) or one file
(the kind from its name, e.g. ``suppliers.csv``, or ``--kind``). Prints the counts per file, or
every error with its line and column; exit status 1 when anything was refused (nothing is then
written), 2 on a usage error. Export writes ``<kind>.csv`` for every kind (``;``, UTF-8 with BOM
for Excel; ``--decimal-comma`` for amounts like ``1234,56``; ``--no-bom``).

The database is the one of ``EINVOICE_DATABASE_URL``; its schema must be current (``einvoice db
upgrade``). Example data: ``rules/routing/example-masterdata``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _database(args):
    """The database of the settings (or ``--url``) at the newest schema; an old one stops the command
    with "run einvoice db upgrade" (`store.migrate.open_current`, reported by `einvoice.cli.main`)."""
    from ...store.migrate import open_current

    return open_current(args.url)


def _print(result) -> None:
    name = result.source or f"{result.kind}.csv"
    if result.ok:
        print(f"{name}: {result.created} neu, {result.updated} geändert, {result.unchanged} unverändert")
        return
    print(f"{name}: {len(result.errors)} Fehler", file=sys.stderr)
    for error in result.errors:
        print(f"  {name}: {error}", file=sys.stderr)


def _import(args) -> int:
    from .importer import import_csv, import_folder
    from .kinds import KIND_MAP

    path = Path(args.path)
    if not path.exists():
        print(f"einvoice: {path} gibt es nicht", file=sys.stderr)
        return 2
    if args.kind and (path.is_dir() or args.kind not in KIND_MAP):
        print(f"einvoice: --kind nur für eine einzelne Datei, eine von: {', '.join(KIND_MAP)}", file=sys.stderr)
        return 2
    kind = args.kind or (path.stem if path.is_file() else None)
    if path.is_file() and kind not in KIND_MAP:
        print(f"einvoice: Art der Stammdaten aus dem Dateinamen {path.name!r} nicht erkennbar: --kind angeben "
              f"({', '.join(KIND_MAP)})", file=sys.stderr)
        return 2
    database = _database(args)
    actor = f"user:{args.user}" if args.user else "system:cli"
    try:
        with database.transaction() as session:
            if path.is_dir():
                outcome = import_folder(session, path, actor=actor)
                results, ok = outcome.results, outcome.ok
                for name in outcome.ignored:
                    print(f"einvoice: {name} ist keine Stammdatenart und wurde übergangen", file=sys.stderr)
                if not results:
                    print(f"einvoice: keine Stammdatendatei in {path} ({', '.join(k + '.csv' for k in KIND_MAP)})",
                          file=sys.stderr)
                    return 2
            else:
                result = import_csv(session, kind, path.read_bytes(), actor=actor)
                result.source = path.name
                results, ok = [result], result.ok
        for result in results:
            _print(result)
        if not ok:
            print("einvoice: nichts gespeichert – bitte die Fehler beheben und erneut importieren", file=sys.stderr)
            return 1
        return 0
    finally:
        database.dispose()


def _export(args) -> int:
    from .exporter import export_folder

    database = _database(args)
    try:
        with database.read() as session:
            written = export_folder(session, args.folder, decimal_comma=args.decimal_comma, bom=not args.no_bom)
    finally:
        database.dispose()
    for path in written:
        print(path)
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("masterdata", help="master data (units, cost centres, suppliers, users …) as CSV")
    commands = parser.add_subparsers(dest="masterdata_command", required=True)
    importing = commands.add_parser(
        "import", help="import a folder of <kind>.csv files (all or nothing) or one file; exit 1 on errors")
    importing.add_argument("path", metavar="PATH",
                           help="folder or .csv file (example: rules/routing/example-masterdata)")
    importing.add_argument("--kind", help="kind of a single file when its name does not say it")
    importing.add_argument("--user", help="username to record as the importer (default: system:cli)")
    importing.add_argument("--url", help="database URL (default: EINVOICE_DATABASE_URL)")
    importing.set_defaults(func=_import)
    exporting = commands.add_parser("export", help="write every kind as <kind>.csv into FOLDER")
    exporting.add_argument("folder", metavar="FOLDER")
    exporting.add_argument("--decimal-comma", action="store_true", help="amounts as 1234,56 instead of 1234.56")
    exporting.add_argument("--no-bom", action="store_true", help="UTF-8 without byte order mark")
    exporting.add_argument("--url", help="database URL (default: EINVOICE_DATABASE_URL)")
    exporting.set_defaults(func=_export)
    return parser
