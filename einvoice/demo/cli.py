"""``einvoice demo [--data-dir DIR] [--port 8000] [--no-serve] [--keep]``: wired into einvoice/cli.py
with ``add_parser(commands)``.

Builds the demo installation (`setup`), generates and delivers the invoices (`invoices`, `ingest`),
prints the demo users with their passwords, a summary and the API token, then serves the UI with an
in-process worker on 127.0.0.1 (the path of ``einvoice serve``) until Ctrl-C. ``--keep`` reuses an
earlier demo folder as it is (new passwords, no new invoices); without it the folder is made anew.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
from collections import Counter

DEFAULT_DIR = "einvoice-demo"

STATE_TEXT = {"received": "eingegangen", "validated": "geprüft", "rejected": "abgewiesen",
              "parsed": "gelesen (manuelle Zuordnung)", "matched": "zugeordnet", "in_approval": "in Freigabe",
              "approved": "freigegeben", "exported": "exportiert", "archived": "archiviert",
              "duplicate": "Dublette", "failed": "fehlgeschlagen"}


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def summary(db) -> dict:
    """Items per state and channel, the manual queue, open tasks per demo user."""
    from sqlalchemy import select

    from ..routing.clock import today
    from ..routing.matching.service import manual_queue
    from ..routing.workflow.inbox import tasks_for
    from ..store.masterdata_models import User
    from ..store.models import IntakeItem
    from .setup import DEMO_USERS

    with db.read() as session:
        items = list(session.scalars(select(IntakeItem).order_by(IntakeItem.id)))
        states = Counter(item.state for item in items)
        channels = Counter(item.channel for item in items)
        queue = [(item.id, item.invoice_number, item.seller_name) for item in manual_queue(session)]
        tasks = {}
        for username, _ in DEMO_USERS:
            user = session.scalars(select(User).where(User.username == username)).one()
            tasks[username] = [(t.item_id, t.step, t.invoice_number, t.seller_name) for t in tasks_for(session, user,
                                                                                                       today())]
    return {"items": len(items), "states": dict(states), "channels": dict(channels), "manual_queue": queue,
            "tasks": tasks}


def _print_summary(facts: dict, outbox: int) -> None:
    channels = ", ".join(f"{n} per {c}" for c, n in sorted(facts["channels"].items()))
    print(f"\nRechnungen: {facts['items']} ({channels})")
    for state, count in sorted(facts["states"].items()):
        print(f"  {STATE_TEXT.get(state, state):<32} {count:>3}")
    print(f"Manuelle Zuordnung (Rechnungseingangsstelle, r.schmidt): {len(facts['manual_queue'])}")
    for item_id, number, seller in facts["manual_queue"]:
        print(f"  #{item_id} {number or '?'} – {seller or '?'}")
    print("Offene Aufgaben je Demo-Benutzer:")
    for username, tasks in facts["tasks"].items():
        steps = Counter(step for _, step, _, _ in tasks)
        detail = ", ".join(f"{n} {step}" for step, n in sorted(steps.items()))
        print(f"  {username:<12} {len(tasks):>3}{f'  ({detail})' if detail else ''}")
    if outbox:
        print(f"Mitteilungen an Lieferanten (Eingangsbestätigungen …) im Ordner outbox/: {outbox}")


def _print_users(users) -> None:
    print("\nDemo-Benutzer (Passwörter gelten nur für diese Demo und werden nicht gespeichert):")
    print(f"  {'Benutzer':<12} {'Passwort':<14} Rolle")
    for username, password, what in users:
        print(f"  {username:<12} {password:<14} {what}")


def _demo(args) -> int:
    from ..config import load_settings
    from ..store.db import Database
    from .setup import DemoError, build, example_dir, prepare_folder, set_demo_passwords, use_folder

    if not args.no_serve and not _port_free(args.port):
        print(f"einvoice: Port {args.port} auf 127.0.0.1 ist belegt – bitte einen anderen wählen, z. B. "
              f"--port {args.port + 1}", file=sys.stderr)
        return 1
    try:
        routing_dir = example_dir()
        folder = prepare_folder(args.data_dir, keep=args.keep)
    except DemoError as exc:
        print(f"einvoice: {exc}", file=sys.stderr)
        return 1
    use_folder(folder)
    os.environ.setdefault("EINVOICE_API_TOKEN", secrets.token_urlsafe(24))
    os.environ["EINVOICE_BASE_URL"] = f"http://127.0.0.1:{args.port}"  # status links in the receipts
    from .ingest import Outbox

    outbox = Outbox(folder.path / "outbox").start()
    try:
        settings = load_settings()
        db = Database(settings=settings)
        try:
            if folder.fresh:
                print(f"einvoice demo: neue Demo in {folder.path}", flush=True)
                from datetime import date

                from .ingest import ingest
                from .invoices import demo_invoices

                built = build(db, routing_dir)
                print(f"  Stadt Musterstadt: {built['masterdata_rows']} Stammdatensätze, {built['rules']} "
                      f"Zuordnungsregeln, {built['workflows']} Workflows", flush=True)
                invoices = demo_invoices(date.today())
                counts = ingest(settings, db, invoices)
                print(f"  {counts['api']} Rechnungen über die API, {counts['smtp']} per E-Mail (SMTP) eingeliefert; "
                      f"{counts['jobs']} Arbeitsschritte erledigt", flush=True)
            else:
                from ..store.migrate import upgrade

                upgrade(db.url)
                print(f"einvoice demo: vorhandene Demo in {folder.path} (--keep)", flush=True)
            users = set_demo_passwords(db)
            facts = summary(db)
        except DemoError as exc:
            print(f"einvoice: {exc}", file=sys.stderr)
            return 1
        finally:
            db.dispose()
        _print_users(users)
        _print_summary(facts, outbox.count())
        print(f"\nAPI-Token (Authorization: Bearer …): {os.environ['EINVOICE_API_TOKEN']}")
        url = f"http://127.0.0.1:{args.port}"
        if args.no_serve:
            print(f"\nStarten mit: einvoice demo --keep --data-dir {folder.path}   (dann {url}/login öffnen)")
            return 0
        print(f"\nÖffnen Sie {url}/login  (Beenden mit Strg+C)", flush=True)
        from ..web.cli import _serve

        return _serve(argparse.Namespace(host="127.0.0.1", port=args.port, no_worker=False, log_level="warning"))
    finally:
        outbox.stop()


def add_parser(subparsers) -> argparse.ArgumentParser:
    demo = subparsers.add_parser(
        "demo", help="try einvoice: demo organisation, sample invoices through API and mail, the UI on 127.0.0.1")
    demo.add_argument("--data-dir", default=DEFAULT_DIR, metavar="DIR",
                      help=f"folder of the demo (default: ./{DEFAULT_DIR}; made anew unless --keep)")
    demo.add_argument("--port", type=int, default=8000, help="port of the UI on 127.0.0.1 (default 8000)")
    demo.add_argument("--no-serve", action="store_true", help="stop after the summary instead of serving the UI")
    demo.add_argument("--keep", action="store_true",
                      help="reuse the demo folder as it is (new passwords, no new invoices)")
    demo.set_defaults(func=_demo)
    return demo
