"""``einvoice workflow seed [FILE]`` and ``einvoice workflow show ITEM_ID [--json]``.

``seed`` replaces the workflows by those of a TOML file (default ``rules/routing/workflows.toml``;
exit 1 with every problem listed when the file is invalid or names unknown units). ``show`` prints
the approval case of an intake item (German text, or JSON); exit 1 when the item has none.
Database: ``EINVOICE_DATABASE_URL`` (default SQLite in the data dir), migrated (``einvoice db upgrade``).
"""

from __future__ import annotations

import argparse
import json
import sys


def _seed(args) -> int:
    from ...store.db import Database
    from .definitions import default_file, load_file, replace_workflows
    from .errors import DefinitionError

    path = args.file or default_file()
    db = Database()
    try:
        definitions = load_file(path)
        with db.transaction() as session:
            counts = replace_workflows(session, definitions)
    except DefinitionError as exc:
        print(f"einvoice: {path}:", *(f"  - {p}" for p in exc.problems), sep="\n", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(f"einvoice: {len(definitions)} Workflows aus {path}: {counts['created']} neu, {counts['updated']} "
          f"aktualisiert, {counts['deactivated']} deaktiviert", file=sys.stderr)
    return 0


def _show(args) -> int:
    from ...store.db import Database
    from ...store.types import json_dumps
    from ..clock import today
    from .cases import latest_case
    from .view import case_text, case_view

    db = Database()
    try:
        with db.read() as session:
            case = latest_case(session, args.item_id)
            if case is None:
                print(f"einvoice: Rechnung #{args.item_id} hat keine Freigabe", file=sys.stderr)
                return 1
            view = case_view(session, case, on=today())
    finally:
        db.dispose()
    print(json.dumps(json.loads(json_dumps(view)), ensure_ascii=False, indent=2) if args.json else case_text(view))
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    workflow = subparsers.add_parser("workflow", help="approval workflows (sachlich, rechnerisch, Anordnung)")
    commands = workflow.add_subparsers(dest="workflow_command", required=True)
    seed = commands.add_parser("seed", help="replace the workflows by those of a TOML file")
    seed.add_argument("file", nargs="?", help="TOML file (default: rules/routing/workflows.toml)")
    seed.set_defaults(func=_seed)
    show = commands.add_parser("show", help="show the approval case of an intake item")
    show.add_argument("item_id", type=int)
    show.add_argument("--json", action="store_true", help="JSON instead of text")
    show.set_defaults(func=_show)
    return workflow
