"""``einvoice imap-poll [--once]``, ``einvoice imap-reconcile``, ``einvoice smtpd [--host] [--port]``.

Wire into einvoice/cli.py with ``add_parser(commands)`` (adds all three). Also runnable on its own:
``python -m einvoice.intake.mail.cli imap-poll --once``. Settings come from the environment
(``EINVOICE_IMAP_*``, ``EINVOICE_SMTPD_*``, ``EINVOICE_MAIL_*``; see `imap` and `smtpd`).

Exit status: 0 fine; 1 ``imap-poll --once`` had failed messages, or ``imap-reconcile`` found gaps;
2 configuration or schema error.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def request_stop(signum, frame):  # noqa: ARG001
        logging.getLogger("einvoice.intake.mail").info("signal %s: finishing the current message, then stopping",
                                                       signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def _database():
    from ...store.migrate import open_current

    return open_current()


def _imap_poll(args) -> int:
    from ...store.migrate import SchemaNotCurrentError
    from .imap import ImapNotConfigured, ImapSettings, poll_once, run_poller

    _logging(args.verbose)
    try:
        settings = ImapSettings.from_env()
        db = _database()
    except (ImapNotConfigured, SchemaNotCurrentError, ValueError, OSError) as exc:
        print(f"einvoice: {exc}", file=sys.stderr)
        return 2
    try:
        if args.once:
            report = poll_once(db, settings)
            print(f"einvoice: {report.summary()}", file=sys.stderr)
            return 1 if report.failed or report.to_error else 0
        run_poller(db, settings, stop_event=_stop_on_signals())
        return 0
    finally:
        db.dispose()


def _imap_reconcile(args) -> int:
    from ...store.migrate import SchemaNotCurrentError
    from .imap import ImapNotConfigured, ImapSettings, reconcile

    _logging(args.verbose)
    try:
        settings = ImapSettings.from_env()
        db = _database()
    except (ImapNotConfigured, SchemaNotCurrentError, ValueError, OSError) as exc:
        print(f"einvoice: {exc}", file=sys.stderr)
        return 2
    try:
        report = reconcile(db, settings, grace_seconds=args.grace)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        counts = ", ".join(f"{folder}: {count}" for folder, count in report.counts.items())
        print(f"{report.account}: {counts}; {report.pending} waiting for the next poll run")
        for gap in report.gaps:
            print(f"GAP {gap.kind:<24} {gap.folder} uid={gap.uid} message-id={gap.message_id} "
                  f"ledger=#{gap.ledger_id}: {gap.detail}")
        print("no gaps" if report.ok else f"{len(report.gaps)} gap(s)")
    return 0 if report.ok else 1


def _smtpd(args) -> int:
    from ...store.migrate import SchemaNotCurrentError
    from .smtpd import SmtpdNotConfigured, SmtpdSettings, serve

    _logging(args.verbose)
    try:
        settings = SmtpdSettings.from_env(host=args.host, port=args.port)
        db = _database()
    except (SmtpdNotConfigured, SchemaNotCurrentError, ValueError, OSError) as exc:
        print(f"einvoice: {exc}", file=sys.stderr)
        return 2
    try:
        serve(db, settings, _stop_on_signals())
    finally:
        db.dispose()
    return 0


def add_parser(subparsers) -> None:
    poll = subparsers.add_parser("imap-poll", help="import invoices from IMAP mailboxes (EINVOICE_IMAP_*)")
    poll.add_argument("--once", action="store_true", help="one poll run, then exit")
    poll.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    poll.set_defaults(func=_imap_poll)

    rec = subparsers.add_parser("imap-reconcile", help="compare the IMAP mailbox with the import ledger; exit 1 on gaps")
    rec.add_argument("--json", action="store_true", help="the report as JSON")
    rec.add_argument("--grace", type=float, default=3600.0, metavar="SECONDS",
                     help="messages younger than this that are not imported yet are not gaps (default 3600)")
    rec.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    rec.set_defaults(func=_imap_reconcile)

    smtpd = subparsers.add_parser("smtpd", help="receive forwarded invoice mail by SMTP (EINVOICE_SMTPD_*)")
    smtpd.add_argument("--host", help="address to listen on (default EINVOICE_SMTPD_HOST or 127.0.0.1)")
    smtpd.add_argument("--port", type=int, help="port (default EINVOICE_SMTPD_PORT or 2525)")
    smtpd.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    smtpd.set_defaults(func=_smtpd)


def main(argv: list[str] | None = None) -> int:
    """``python -m einvoice.intake.mail.cli …`` runs the same command line as ``einvoice …``."""
    from ...cli import main as einvoice_main

    return einvoice_main(argv)


if __name__ == "__main__":
    sys.exit(main())
