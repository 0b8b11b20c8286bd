"""``einvoice docs procedure [--out DIR] [--format md|html|both]``: the Verfahrensdokumentation.

Without ``--out`` the document is printed (Markdown unless ``--format html``); with ``--out DIR``
``verfahrensdokumentation-<date>.md`` and/or ``.html`` are written there (default both). Reads the
configuration from the environment (``EINVOICE_*``) and the database (``EINVOICE_DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import sys


def _procedure(args) -> int:
    from ...store.db import Database
    from . import FORMATS, generate, write

    if args.out is None and args.format == "both":
        print("einvoice: --format both needs --out DIR", file=sys.stderr)
        return 2
    db = Database()
    try:
        if args.out is None:
            sys.stdout.write(generate(db)[args.format or "md"])
            return 0
        formats = FORMATS if args.format in (None, "both") else (args.format,)
        for path in write(db, args.out, formats):
            print(path)
    finally:
        db.dispose()
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    docs = subparsers.add_parser("docs", help="documentation generated from this installation")
    commands = docs.add_subparsers(dest="docs_command", required=True)
    procedure = commands.add_parser("procedure", help="the GoBD Verfahrensdokumentation (Markdown and HTML)")
    procedure.add_argument("--out", metavar="DIR", help="write the files into DIR (default: print to stdout)")
    procedure.add_argument("--format", choices=("md", "html", "both"), default=None,
                           help="md, html or both (default: both with --out, md without)")
    procedure.set_defaults(func=_procedure)
    return docs
