"""``einvoice export bookings|batches|batch|book|cancel``: booking batches for the Kämmerei.

Wired into einvoice/cli.py with ``add_parser(export_commands)`` (the sub-commands of ``einvoice
export``). The database and blob store are those of the settings (``EINVOICE_DATABASE_URL``,
``EINVOICE_DATA_DIR``). ``--user NAME`` names the person acting (must exist, be active and have the
role ``kaemmerei`` or ``admin``); without it the actor is ``system:cli``. Cancelling needs a person.

- ``bookings [--format csv|json] [--mapping NAME] [--item ID …] [--out FILE] [--user NAME]``: create a
  batch of every approved, not yet exported invoice (or the given ones) and write its file to FILE or
  stdout; the Kontrollsumme and counts go to stderr (stdout with ``--out``). Nothing to export: exit 0
  with a message, no batch.
- ``batches [--status created|booked|cancelled] [--format text|json]``: list batches, newest first.
- ``batch ID [--out FILE]``: the file of a batch again, byte for byte.
- ``book ID [--user NAME]``: mark a batch booked. ``cancel ID --reason TEXT --user NAME``: cancel a
  batch that is not booked; its invoices are ready for the next export.

Exit status: 0 done, 1 refused (conflict, unknown batch, bad mapping), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROLES = ("kaemmerei", "admin")


def _database():
    from ...store.migrate import open_current

    return open_current()


def _actor(db, username: str | None) -> str:
    from sqlalchemy import select

    from ...store.masterdata_models import User
    from .errors import InvalidInput

    if not username:
        return "system:cli"
    with db.read() as session:
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None or not user.active:
        raise InvalidInput(f"Unbekannte oder inaktive Person {username!r}")
    if not any(user.has_role(role) for role in ROLES):
        raise InvalidInput(f"{username} hat nicht die Rolle kaemmerei oder admin")
    return f"user:{username}"


def _money(value) -> str:
    from decimal import Decimal

    from ...routing.workflow.facts import euro

    return euro(Decimal(str(value)) if value is not None else None)


def _summary(batch) -> str:
    lines = [f"Buchungsstapel {batch.id}: {batch.invoice_count} Rechnungen, {batch.record_count} Buchungssätze, "
             f"Datei {batch.file_name} ({batch.format}, Zuordnung {batch.mapping})",
             f"Kontrollsumme: {_money(batch.control_total)}"]
    totals = batch.totals or {}
    for name, label in (("invoices", "Rechnungen"), ("credit_notes", "Gutschriften")):
        if name in totals:
            lines.append(f"  {label}: {totals[name]['count']} × zusammen {_money(totals[name]['payable'])}")
    for row in totals.get("vat") or []:
        lines.append(f"  USt {row['category'] or '–'} {row['rate'] or '–'} % ({row['currency']}): netto "
                     f"{_money(row['net'])}, USt {_money(row['vat'])}, brutto {_money(row['gross'])}")
    return "\n".join(lines)


def _write(data: bytes, out: str | None) -> None:
    if out:
        Path(out).write_bytes(data)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def _run(action):
    """Run ``action(db)`` and turn booking errors into a message and exit status 1."""
    from .errors import BookingError

    db = _database()
    try:
        return action(db)
    except BookingError as exc:
        print(f"einvoice: {exc.message}", file=sys.stderr)
        return 1
    finally:
        db.dispose()


def _bookings(args) -> int:
    from .batches import create_batch

    def action(db):
        actor = _actor(db, args.user)
        with db.transaction() as session:
            batch = create_batch(session, db.blobs, actor=actor, format=args.format, mapping=args.mapping,
                                 item_ids=args.item or None)
        if batch is None:
            print("einvoice: keine freigegebenen, noch nicht exportierten Rechnungen – kein Stapel erstellt",
                  file=sys.stderr)
            return 0
        _write(db.blobs.get(batch.sha256), args.out)
        print(_summary(batch), file=sys.stdout if args.out else sys.stderr)
        return 0

    return _run(action)


def _batches(args) -> int:
    from .batches import batch_dict, list_batches
    from ...store.types import json_dumps

    def action(db):
        with db.read() as session:
            batches = list_batches(session, status=args.status, limit=args.limit)
        for batch in batches:
            if args.format == "json":
                print(json_dumps(batch_dict(batch)))
            else:
                print(f"{batch.id:>6}  {batch.status:<9} {batch.created_at:%Y-%m-%d %H:%M}  {batch.invoice_count:>5} "
                      f"Rechnungen  {_money(batch.control_total):>18}  {batch.file_name}")
        return 0

    return _run(action)


def _batch(args) -> int:
    from .batches import batch_file

    def action(db):
        _write(batch_file(db, args.id), args.out)
        return 0

    return _run(action)


def _book(args) -> int:
    from .batches import mark_booked

    def action(db):
        actor = _actor(db, args.user)
        with db.transaction() as session:
            batch = mark_booked(session, args.id, actor=actor)
        print(f"Buchungsstapel {batch.id} als gebucht markiert ({batch.invoice_count} Rechnungen, Kontrollsumme "
              f"{_money(batch.control_total)})")
        return 0

    return _run(action)


def _cancel(args) -> int:
    from .batches import cancel_batch

    def action(db):
        actor = _actor(db, args.user)
        with db.transaction() as session:
            batch = cancel_batch(session, args.id, actor=actor, reason=args.reason)
        print(f"Buchungsstapel {batch.id} storniert: {batch.invoice_count} Rechnungen sind wieder exportbereit")
        return 0

    return _run(action)


def add_parser(export_commands) -> argparse.ArgumentParser:
    """Add sub-commands to ``einvoice export`` (``export_commands`` is its subparsers object)."""
    bookings = export_commands.add_parser("bookings", help="create a booking batch of the approved invoices")
    bookings.add_argument("--format", choices=("csv", "json"), default="csv")
    bookings.add_argument("--mapping", default="generic", help="column mapping rules/export/NAME.toml (CSV)")
    bookings.add_argument("--item", type=int, action="append", metavar="ID", help="only these invoices (repeatable)")
    bookings.add_argument("--out", metavar="FILE", help="write the file here (default: stdout)")
    bookings.add_argument("--user", help="the acting person (role kaemmerei or admin); default system:cli")
    bookings.set_defaults(func=_bookings)

    batches = export_commands.add_parser("batches", help="list booking batches")
    batches.add_argument("--status", choices=("created", "booked", "cancelled"))
    batches.add_argument("--limit", type=int, default=100)
    batches.add_argument("--format", choices=("text", "json"), default="text")
    batches.set_defaults(func=_batches)

    batch = export_commands.add_parser("batch", help="download the file of a booking batch again")
    batch.add_argument("id", type=int)
    batch.add_argument("--out", metavar="FILE")
    batch.set_defaults(func=_batch)

    book = export_commands.add_parser("book", help="mark a booking batch as booked by the Kämmerei")
    book.add_argument("id", type=int)
    book.add_argument("--user", help="the acting person (role kaemmerei or admin)")
    book.set_defaults(func=_book)

    cancel = export_commands.add_parser("cancel", help="cancel a booking batch that is not booked")
    cancel.add_argument("id", type=int)
    cancel.add_argument("--reason", required=True)
    cancel.add_argument("--user", required=True, help="the acting person (role kaemmerei or admin)")
    cancel.set_defaults(func=_cancel)
    return bookings
