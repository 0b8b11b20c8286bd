"""``einvoice export payments|payment-runs|payment-file|payment-cancel``: wired into einvoice/cli.py with
``add_parser(export_commands)``: the sub-commands of ``einvoice export``.

- ``payments --execution-date YYYY-MM-DD [--item ID ...] [--out FILE] [--actor user:NAME]``: make a
  SEPA payment run (pain.001.001.09) of the chosen approved invoices (default: every open one);
  prints the run, number of transfers, control sum and Skonto total, and each skipped invoice with its
  reason (stderr). ``--out`` also writes the file there. Exit 0 done, 1 refused (nothing payable,
  debtor account not configured, conflict), 2 usage error.
- ``payment-runs [--status created|cancelled] [--format text|json]``: the runs, newest first.
- ``payment-file RUN --out FILE``: the file of a run, byte for byte as written.
- ``payment-cancel RUN --reason TEXT [--actor user:NAME]``: cancel a run; its invoices become payable again.

The database and the debtor account come from the settings (``EINVOICE_DATABASE_URL``,
``EINVOICE_DEBTOR_NAME``/``_IBAN``/``_BIC``); the actor is ``system:cli`` unless ``--actor`` names a person.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path


def _database():
    from ...store.migrate import open_current

    return open_current()


def _money(amount) -> str:
    return f"{amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".") + " EUR"


def _refused(exc) -> int:
    print(f"einvoice: {exc.message}", file=sys.stderr)
    for detail in exc.details:
        print(f"  Rechnung #{detail.get('item_id')}: {detail.get('reason')}", file=sys.stderr)
    return 1


def _payments(args) -> int:
    from .errors import PaymentError
    from .runs import create_run

    try:
        execution_date = date.fromisoformat(args.execution_date)
    except ValueError:
        print(f"einvoice: --execution-date must be YYYY-MM-DD, not {args.execution_date!r}", file=sys.stderr)
        return 2
    db = _database()
    try:
        with db.transaction() as session:
            result = create_run(session, db.blobs, actor=args.actor, execution_date=execution_date,
                                item_ids=args.item or None, settings=db.settings)
            run = result.run
            summary = (run.id, run.file_name, run.transaction_count, run.control_sum, run.skonto_total, run.sha256)
        data = db.blobs.get(summary[5])
    except PaymentError as exc:
        return _refused(exc)
    finally:
        db.dispose()
    run_id, file_name, count, control_sum, skonto_total, _ = summary
    if args.out:
        Path(args.out).write_bytes(data)
    print(f"Zahllauf #{run_id}: {file_name}, Ausführung {execution_date:%d.%m.%Y}")
    print(f"Überweisungen: {count}  Kontrollsumme: {_money(control_sum)}  Skonto abgezogen: {_money(skonto_total)}")
    if args.out:
        print(f"Datei: {args.out}")
    for skipped in result.skipped:
        print(f"  übersprungen: Rechnung #{skipped.item_id}: {skipped.reason}", file=sys.stderr)
    return 0


def _runs(args) -> int:
    from .runs import list_runs, run_json

    db = _database()
    try:
        with db.read() as session:
            rows = [run_json(r) for r in list_runs(session, status=args.status, limit=args.limit)]
    finally:
        db.dispose()
    if args.format == "json":
        for row in rows:
            print(json.dumps(row, default=str, ensure_ascii=False))
        return 0
    for r in rows:
        print(f"#{r['id']:<5} {r['status']:<9} {r['execution_date']} {r['transaction_count']:>5} × "
              f"{_money(r['control_sum']):>18}  Skonto {_money(r['skonto_total']):>14}  {r['created_by']}  "
              f"{r['file_name']}")
    if not rows:
        print("(keine Zahlläufe)")
    return 0


def _file(args) -> int:
    from .errors import PaymentError
    from .runs import run_file

    db = _database()
    try:
        with db.read() as session:
            _run, data = run_file(session, db.blobs, args.run)
    except PaymentError as exc:
        return _refused(exc)
    finally:
        db.dispose()
    Path(args.out).write_bytes(data)
    return 0


def _cancel(args) -> int:
    from .errors import PaymentError
    from .runs import cancel_run

    db = _database()
    try:
        with db.transaction() as session:
            cancel_run(session, args.run, actor=args.actor, reason=args.reason)
    except PaymentError as exc:
        return _refused(exc)
    finally:
        db.dispose()
    print(f"Zahllauf #{args.run} storniert")
    return 0


def add_parser(export_commands) -> argparse.ArgumentParser:
    """Add sub-commands to ``einvoice export`` (``export_commands`` is its subparsers object)."""
    payments = export_commands.add_parser("payments", help="SEPA payment file (pain.001.001.09) of approved invoices")
    payments.add_argument("--execution-date", required=True, metavar="YYYY-MM-DD", help="requested execution date")
    payments.add_argument("--item", type=int, action="append", metavar="ID",
                          help="an invoice (intake item id) to pay; repeat for more (default: every open one)")
    payments.add_argument("--out", metavar="FILE", help="also write the pain.001 file here")
    payments.add_argument("--actor", default="system:cli", help="who makes the run (a person: user:<name>)")
    payments.set_defaults(func=_payments)
    runs = export_commands.add_parser("payment-runs", help="list the payment runs")
    runs.add_argument("--status", choices=("created", "cancelled"))
    runs.add_argument("--limit", type=int, default=100)
    runs.add_argument("--format", choices=("text", "json"), default="text")
    runs.set_defaults(func=_runs)
    fetch = export_commands.add_parser("payment-file", help="write the pain.001 file of a payment run")
    fetch.add_argument("run", type=int)
    fetch.add_argument("--out", required=True, metavar="FILE")
    fetch.set_defaults(func=_file)
    cancel = export_commands.add_parser("payment-cancel", help="cancel a payment run (its invoices can be paid again)")
    cancel.add_argument("run", type=int)
    cancel.add_argument("--reason", required=True)
    cancel.add_argument("--actor", default="system:cli", help="who cancels (a person: user:<name>)")
    cancel.set_defaults(func=_cancel)
    return payments
