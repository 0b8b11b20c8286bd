"""``einvoice worker [--once]``: wire into einvoice/cli.py with ``add_parser(commands)``.

Also runnable on its own: ``python -m einvoice.jobs.cli worker [--once]``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading


def _worker(args) -> int:
    from ..store.migrate import SchemaNotCurrentError
    from .worker import run_worker

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def request_stop(signum, frame):  # noqa: ARG001
        logging.getLogger("einvoice.jobs").info("signal %s: finishing the current job, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        ran = run_worker(stop_event=stop, once=args.once, kinds=args.kind or None)
    except SchemaNotCurrentError as exc:
        print(f"einvoice: {exc}", file=sys.stderr)
        return 2
    if args.once:
        print(f"einvoice: worker ran {ran} jobs", file=sys.stderr)
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    worker = subparsers.add_parser(
        "worker", help="process received items (database-backed jobs); run any number on PostgreSQL, one on SQLite")
    worker.add_argument("--once", action="store_true", help="run the jobs that are due now, then exit")
    worker.add_argument("--kind", action="append", metavar="KIND", help="only jobs of this kind (repeatable)")
    worker.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    worker.set_defaults(func=_worker)
    return worker


def main(argv: list[str] | None = None) -> int:
    """``python -m einvoice.jobs.cli …`` runs the same command line as ``einvoice …``."""
    from ..cli import main as einvoice_main

    return einvoice_main(argv)


if __name__ == "__main__":
    sys.exit(main())
