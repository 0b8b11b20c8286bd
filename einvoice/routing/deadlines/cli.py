"""``einvoice deadlines scheduler|metrics|recompute``: wired into einvoice/cli.py with ``add_parser(commands)``.

- ``scheduler [--once] [--poll SECONDS]``: run the periodic deadline tasks (`scheduler.run_forever`);
  ``--once`` runs what is due now and exits.
- ``metrics [--month YYYY-MM] [--unit CODE] [--format text|json]``: Skonto offered/captured/lost.
- ``recompute``: recompute the deadlines of every parsed invoice (after changing settings or units).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading


def _database():
    from ...store.migrate import open_current

    return open_current()


def _scheduler(args) -> int:
    from .scheduler import run_due, run_forever

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db = _database()
    try:
        if args.once:
            ran = run_due(db, worker_id=_worker_id())
            print(f"einvoice: ran {', '.join(ran) if ran else 'nothing (no task due)'}", file=sys.stderr)
            return 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        run_forever(db, poll_seconds=args.poll, worker_id=_worker_id(), stop_event=stop)
        return 0
    finally:
        db.dispose()


def _worker_id() -> str:
    from ...jobs.worker import new_worker_id

    return "scheduler:" + new_worker_id()


def _metrics(args) -> int:
    from sqlalchemy import select

    from ...store.masterdata_models import OrgUnit
    from .metrics import parse_month, skonto_metrics
    from .messages import money

    try:
        month = parse_month(args.month)
    except ValueError:
        print(f"einvoice: --month must be YYYY-MM, not {args.month!r}", file=sys.stderr)
        return 2
    db = _database()
    try:
        with db.read() as session:
            unit_id = None
            if args.unit:
                unit = session.scalars(select(OrgUnit).where(OrgUnit.code == args.unit)).one_or_none()
                if unit is None:
                    print(f"einvoice: unknown unit {args.unit!r}", file=sys.stderr)
                    return 2
                unit_id = unit.id
            rows = skonto_metrics(session, month=month, unit_id=unit_id)
    finally:
        db.dispose()
    if args.format == "json":
        for row in rows:
            print(json.dumps(row.to_dict(), default=str, ensure_ascii=False))
        return 0
    print(f"{'Monat':<8} {'Einheit':<10} {'angeboten':>22} {'genutzt':>22} {'verloren':>22} {'offen':>22} manuell")
    for r in rows:
        cells = [f"{n:>3} × {money(a):>16}" for n, a in ((r.offered_count, r.offered_amount),
                                                         (r.captured_count, r.captured_amount),
                                                         (r.lost_count, r.lost_amount), (r.open_count, r.open_amount))]
        print(f"{r.month:<8} {r.unit_code:<10} {' '.join(cells)} {r.manual_count:>7}")
    if not rows:
        print("(keine Rechnungen mit Skonto)")
    return 0


def _recompute(args) -> int:  # noqa: ARG001
    from .service import recompute_all

    db = _database()
    try:
        with db.transaction() as session:
            count = recompute_all(session, settings=db.settings)
    finally:
        db.dispose()
    print(f"einvoice: deadlines recomputed for {count} invoices", file=sys.stderr)
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    deadlines = subparsers.add_parser("deadlines", help="Skonto and payment deadlines: scheduler, metrics")
    commands = deadlines.add_subparsers(dest="deadlines_command", required=True)
    scheduler = commands.add_parser("scheduler", help="run reminders, escalations, digests and lost-Skonto marking")
    scheduler.add_argument("--once", action="store_true", help="run the tasks that are due now, then exit")
    scheduler.add_argument("--poll", type=float, default=60.0, metavar="SECONDS", help="poll interval (default 60)")
    scheduler.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    scheduler.set_defaults(func=_scheduler)
    metrics = commands.add_parser("metrics", help="Skonto offered, captured, lost per unit and month")
    metrics.add_argument("--month", metavar="YYYY-MM", help="only this month (of the Skonto deadline)")
    metrics.add_argument("--unit", metavar="CODE", help="only this unit (OrgUnit code)")
    metrics.add_argument("--format", choices=("text", "json"), default="text")
    metrics.set_defaults(func=_metrics)
    recompute = commands.add_parser("recompute", help="recompute the deadlines of every parsed invoice")
    recompute.set_defaults(func=_recompute)
    return deadlines
