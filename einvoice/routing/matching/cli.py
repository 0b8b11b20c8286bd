"""``einvoice matching seed [FILE] | rerun [--item ID ...] | explain ITEM_ID``: wired into einvoice/cli.py.

- ``seed``: replace the rule set by the rules of FILE (default ``rules/routing/matching.toml``).
- ``rerun``: re-match every open item (manual queue, matched, in approval: see `service.rerun`).
- ``explain``: what matching would decide for one item now (nothing is written), its current
  assignment and its history.

The database is the one of the settings (``EINVOICE_DATABASE_URL``); the actor is
``system:cli`` unless ``--actor user:<name>`` names the person.
"""

from __future__ import annotations

import argparse
import json
import sys

from ...store.types import _json_default


def _database():
    from ...store.migrate import open_current

    return open_current()


def _print_json(value) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=_json_default))


def _seed(args) -> int:
    from .rules import RuleError, seed_rules

    db = _database()
    try:
        with db.transaction() as session:
            summary = seed_rules(session, args.file, actor=args.actor)
    except RuleError as exc:
        print(f"einvoice: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    for rule in summary["rules"]:
        print(f"{rule['position']:>3}  {rule['key']:<16} {rule['confidence']:>3}  {rule['name']}")
    print(f"einvoice: {summary['count']} matching rule(s) from {summary['file']} replace {summary['replaced']}",
          file=sys.stderr)
    return 0


def _rerun(args) -> int:
    from ..route import continue_routing
    from .service import rerun

    db = _database()
    try:
        with db.transaction() as session:
            counts = rerun(session, actor=args.actor, item_ids=args.item or None)
            counts["route_jobs_queued"] = continue_routing(session)  # a worker starts their approval
    finally:
        db.dispose()
    _print_json(counts)
    return 0


def _explain(args) -> int:
    from ...store.models import IntakeItem
    from .service import WrongState, current_assignment, match_results, preview

    db = _database()
    try:
        with db.read() as session:
            item = session.get(IntakeItem, args.item_id)
            if item is None:
                print(f"einvoice: no item #{args.item_id}", file=sys.stderr)
                return 1
            try:
                outcome = preview(session, item)
            except WrongState as exc:
                print(f"einvoice: {exc}", file=sys.stderr)
                return 1
            assignment = current_assignment(session, item.id)
            history = match_results(session, item.id)
            print(f"Rechnung #{item.id} ({item.state}): {outcome.status.value}, Konfidenz {outcome.confidence}")
            print(f"  {outcome.explanation}")
            for split in outcome.splits or []:
                print(f"  Aufteilung: {split['explanation']}")
            for candidate in outcome.candidates:
                print(f"  Kandidat: {candidate['text']}")
            if assignment is not None:
                who = "manuell" if assignment.manual else "Regeln"
                print(f"  Zuordnung jetzt: {assignment.status}, KSt-ID {assignment.cost_centre_id}, "
                      f"OE-ID {assignment.unit_id} ({who}, {assignment.assigned_by})")
            for result in history[:args.history]:
                print(f"  {result.created_at:%Y-%m-%d %H:%M} {result.status} ({result.actor}): {result.explanation}")
    finally:
        db.dispose()
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    matching = subparsers.add_parser("matching", help="cost-centre matching: rules, re-runs, explanations")
    commands = matching.add_subparsers(dest="matching_command", required=True)
    seed = commands.add_parser("seed", help="replace the matching rules by those of a TOML file")
    seed.add_argument("file", nargs="?", metavar="FILE", help="default: rules/routing/matching.toml")
    seed.set_defaults(func=_seed)
    rerun = commands.add_parser("rerun", help="re-match open items (after master data or rule changes)")
    rerun.add_argument("--item", type=int, action="append", metavar="ID", help="only this item (repeatable)")
    rerun.set_defaults(func=_rerun)
    explain = commands.add_parser("explain", help="what matching decides for one item now (writes nothing)")
    explain.add_argument("item_id", type=int, metavar="ITEM_ID")
    explain.add_argument("--history", type=int, default=5, metavar="N", help="show the last N results (default 5)")
    explain.set_defaults(func=_explain)
    for command in (seed, rerun):
        command.add_argument("--actor", default="system:cli", help="who does it (default system:cli; a person: "
                                                                   "user:<name>)")
    return matching
