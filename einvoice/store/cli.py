"""``einvoice db upgrade|current``: wire into einvoice/cli.py with ``add_parser(commands)``.

Also runnable on its own: ``python -m einvoice.store.cli db upgrade``.
"""

from __future__ import annotations

import argparse
import sys


def _upgrade(args) -> int:
    from ..config import load_settings
    from .migrate import current_revision, upgrade

    url = args.url or load_settings().effective_database_url
    upgrade(url)
    print(f"einvoice: database at revision {current_revision(url)}", file=sys.stderr)
    return 0


def _current(args) -> int:
    from ..config import load_settings
    from .migrate import current_revision, head_revision

    url = args.url or load_settings().effective_database_url
    current, head = current_revision(url), head_revision()
    print(f"{current or 'none'} (newest: {head})")
    return 0 if current == head else 1


def add_parser(subparsers) -> argparse.ArgumentParser:
    db = subparsers.add_parser("db", help="the database (EINVOICE_DATABASE_URL, default SQLite in the data dir)")
    commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = commands.add_parser("upgrade", help="create or update the schema (Alembic migrations)")
    upgrade.add_argument("--url", help="database URL (default: EINVOICE_DATABASE_URL)")
    upgrade.set_defaults(func=_upgrade)
    current = commands.add_parser("current", help="show the schema revision; exit 1 if not the newest")
    current.add_argument("--url", help="database URL (default: EINVOICE_DATABASE_URL)")
    current.set_defaults(func=_current)
    return db


def main(argv: list[str] | None = None) -> int:
    """``python -m einvoice.store.cli …`` runs the same command line as ``einvoice …``."""
    from ..cli import main as einvoice_main

    return einvoice_main(argv)


if __name__ == "__main__":
    sys.exit(main())
