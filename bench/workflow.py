"""A month of routing: N generated invoices through matching and a scripted approval month.

    /work/.venv/bin/python bench/workflow.py                  # 10,000 invoices, SQLite in a temp folder
    /work/.venv/bin/python bench/workflow.py --n 2000 --database-url postgresql://...

Setup (timed apart, not part of the numbers): a migrated database with the example organisation
(`rules/routing/example-masterdata`), the matching rules and workflows of `rules/routing`; N real
invoices made with `einvoice.samples.generate` (UBL and CII; suppliers, orders, Leitweg-IDs, line
counts and Skonto terms drawn from a seeded random mix, including unknown and conflicting
references) and read into the EN 16931 model by `einvoice.formats`, stored as ``parsed`` items that
arrive over the working days of November 2026.

The month (a `FixedClock` moves day by day; every step calls the real routing code):
1. each morning the day's arrivals are routed: matching, deadlines, start of the approval;
2. the Rechnungseingangsstelle clears the manual queue after a 1–3 working-day lag, assigning the
   supplier's default cost centre;
3. approvers decide each open step after a drawn lag (0–6 working days; 5 % of the invoices wait
   12–20 days, as a holiday backlog would), the first eligible person who passes the rules
   (four-eyes, conflicts of interest, amount limits) acts; an IBAN alert is cleared by the Kämmerei;
4. each evening the deadline scheduler's pass marks lost Skonto.

Printed: share matched automatically, manual, conflicts; approvals; Skonto offered / captured / lost
(EUR and count, from `skonto_metrics`); runtime of matching and of the month, per invoice.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, time as dtime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MONTH_START, MONTH_END = date(2026, 11, 2), date(2026, 11, 30)
SIMULATE_UNTIL = date(2027, 1, 15)
# supplier → orders of its own (master data), or None
# (BEST-2026-0412 is closed in master data: matching halves its confidence, a person decides)
ORDERS = {"musterbau": ["BEST-2026-0815", None], "gruenpflege": ["BEST-2026-0907", None],
          "schreibwerk": [None, None, "BEST-2026-0412"], "nordlicht": [None]}
# supplier → the Leitweg-IDs its invoices usually carry (the central one, or the ordering unit's)
LEITWEG = {"musterbau": ["05315-12345-85", "05315-FB66-46"],
           "gruenpflege": ["05315-12345-85", "05315-FB67-43", "05315-FRIEDHOF-38"],
           "schreibwerk": ["05315-12345-85", "05315-FB40-27", "05315-SCHULBAU-52"],
           "nordlicht": ["05315-12345-85"]}
ANY_LEITWEG = sorted({lid for ids in LEITWEG.values() for lid in ids} | {"05315-FB32-51"})


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return head.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def working_days(start: date, end: date) -> list[date]:
    from einvoice.routing.deadlines.calendar import is_working_day

    days, day = [], start
    while day <= end:
        if is_working_day(day, "NW"):
            days.append(day)
        day += timedelta(days=1)
    return days


def make_one(args: tuple[int, int]) -> tuple[str, dict, str]:
    """Invoice ``i`` of the mix: (file name, model dict, sha256) — runs in a pool process."""
    import hashlib

    from einvoice.formats.export import to_dict
    from einvoice.formats.read import read_invoice
    from einvoice.samples.generate import Skonto, cii_invoice, ubl_invoice

    i, seed = args
    rnd = random.Random(seed * 1_000_003 + i)
    supplier = rnd.choice(sorted(ORDERS))
    order = rnd.choice(ORDERS[supplier])
    if rnd.random() < 0.03:  # an order number nobody knows
        order = f"BEST-2026-{9000 + i % 900}"
    skonto = rnd.choice([(Skonto(14, Decimal("2.00")),), (Skonto(14, Decimal("2.00")),), (),
                         (Skonto(7, Decimal("3.00")), Skonto(14, Decimal("2.00"))), (Skonto(10, Decimal("3.00")),)])
    days = working_days(MONTH_START, MONTH_END)
    issued = days[i % len(days)] - timedelta(days=rnd.randint(1, 4))
    make = cii_invoice if rnd.random() < 0.3 else ubl_invoice
    lines = rnd.choice([1, 1, 2, 3, 5, 8, 40])
    leitweg = rnd.choice(LEITWEG[supplier])
    if rnd.random() < 0.05:  # the supplier took the Leitweg-ID of another office
        leitweg = rnd.choice(ANY_LEITWEG)
    data = make(lines, number=f"WF-{i:06d}", issue_date=issued, supplier=supplier, skonto=skonto, order=order,
                leitweg_id=leitweg)
    name = f"WF-{i:06d}.xml"
    return name, to_dict(read_invoice(data, name)), hashlib.sha256(data).hexdigest()


def setup(db, n: int, seed: int, jobs: int) -> dict[date, list[int]]:
    from einvoice.routing.masterdata import import_folder
    from einvoice.routing.matching.rules import seed_rules
    from einvoice.routing.workflow.definitions import load_file, replace_workflows
    from einvoice.store.models import AuditEvent, Blob, IntakeItem, ParsedInvoice
    from einvoice.store.types import utcnow

    with db.transaction() as session:
        import_folder(session, ROOT / "rules/routing/example-masterdata", actor="system:bench")
        seed_rules(session, actor="system:bench")
        replace_workflows(session, load_file())
    with ProcessPoolExecutor(jobs) as pool:
        made = list(pool.map(make_one, [(i, seed) for i in range(n)], chunksize=64))
    days = working_days(MONTH_START, MONTH_END)
    arrivals: dict[date, list[int]] = {}
    berlin_morning = dtime(8, 0)
    from einvoice.routing.clock import BERLIN

    with db.transaction() as session:
        for i, (name, model, sha) in enumerate(made):
            day = days[i % len(days)]
            received = datetime.combine(day, berlin_morning, BERLIN)
            session.merge(Blob(sha256=sha, size=0, created_at=utcnow()))  # the bench keeps no bytes
            invoice = model["invoice"]
            item = IntakeItem(channel="api", sender="bench", file_name=name, received_at=received, sha256=sha, size=0,
                              state="parsed", kind=model["kind"], valid=True, triage="accept",
                              invoice_number=invoice.get("number"),
                              issue_date=date.fromisoformat(invoice["issue_date"]),
                              seller_name=(invoice.get("seller") or {}).get("name"))
            session.add(item)
            session.flush()
            session.add(ParsedInvoice(item_id=item.id, model=model))
            session.add(AuditEvent(item_id=item.id, actor="system:bench", event="transition", from_state=None,
                                   to_state="parsed", reason="bench setup: generated, read, stored as parsed"))
            arrivals.setdefault(day, []).append(item.id)
    return arrivals


def simulate(db, arrivals: dict[date, list[int]], seed: int) -> dict:
    from sqlalchemy import select

    from einvoice.routing.clock import BERLIN, FixedClock, today
    from einvoice.routing.deadlines.service import mark_lost_deadlines
    from einvoice.routing.matching.context import MatchingContext  # noqa: F401  (documented reuse)
    from einvoice.routing.matching.service import assign_manually, load_context, manual_queue
    from einvoice.routing.route import route_in_session
    from einvoice.routing.workflow.decisions import approve
    from einvoice.routing.workflow.eligibility import eligible_actors
    from einvoice.routing.workflow.errors import WorkflowError
    from einvoice.routing.workflow.payment import clear_iban_alert
    from einvoice.store.masterdata_models import Supplier, User
    from einvoice.store.models import IntakeItem
    from einvoice.store.routing_models import ApprovalCase, ApprovalStep, Assignment, CaseStatus, StepState

    rnd = random.Random(seed)
    clock = FixedClock(MONTH_START)
    timing = {"route": 0.0, "route_items": 0, "decide": 0.0, "decisions": 0, "refused": 0, "queue": 0.0,
              "assigned": 0, "lost_pass": 0.0, "auto_matched": 0, "manual": 0, "iban_cleared": 0}
    due: dict[int, date] = {}  # step id → the day its approver gets to it
    seen_in_queue: dict[int, date] = {}
    with db.read() as session:
        kaemmerei = session.scalars(select(User).where(User.username == "k.weber")).one()
    for day in working_days(MONTH_START, SIMULATE_UNTIL):
        clock.set(datetime.combine(day, dtime(8, 0), BERLIN))
        # 1. arrivals
        started = time.perf_counter()
        with db.transaction() as session:
            context = load_context(session)
            for item_id in arrivals.get(day, []):
                item = session.get(IntakeItem, item_id)
                route_in_session(session, item, actor="system:route", clock=clock, context=context)
                timing["auto_matched" if item.state != "parsed" else "manual"] += 1
                timing["route_items"] += 1
        timing["route"] += time.perf_counter() - started
        # 2. the Rechnungseingangsstelle
        started = time.perf_counter()
        with db.transaction() as session:
            for item in manual_queue(session, limit=100_000):
                first = seen_in_queue.setdefault(item.id, day)
                if (day - first).days < rnd.randint(1, 3):
                    continue
                assignment = session.get(Assignment, item.id)
                supplier = session.get(Supplier, assignment.supplier_id) if assignment and assignment.supplier_id else None
                if supplier is None or supplier.default_cost_centre_id is None:
                    continue
                assign_manually(session, item, actor="user:r.schmidt", unit_id=None,
                                cost_centre_id=supplier.default_cost_centre_id,
                                reason="Zuordnung nach Rücksprache (Standard-Kostenstelle des Lieferanten)")
                route_in_session(session, item, actor="system:route", clock=clock)
                timing["assigned"] += 1
        timing["queue"] += time.perf_counter() - started
        # 3. approvers
        started = time.perf_counter()
        with db.transaction() as session:
            on = today(clock)
            open_steps = session.execute(
                select(ApprovalStep, ApprovalCase).join(ApprovalCase, ApprovalCase.id == ApprovalStep.case_id)
                .where(ApprovalStep.state == StepState.OPEN.value, ApprovalCase.status == CaseStatus.OPEN.value)).all()
            for step, case in open_steps:
                when = due.setdefault(step.id, day + timedelta(
                    days=rnd.randint(12, 20) if rnd.random() < 0.05 else rnd.randint(0, 6)))
                if when > day:
                    continue
                if case.iban_alert == "open":
                    with session.begin_nested():
                        clear_iban_alert(session, case.id, user=kaemmerei, expected_version=case.version,
                                         reason="Bankverbindung beim Lieferanten telefonisch bestätigt", clock=clock)
                        timing["iban_cleared"] += 1
                # clerks certify (lowest limit first), budget holders order (highest limit first)
                actors = sorted(eligible_actors(session, step, on, case.payable_amount),
                                key=lambda pair: (pair[0].approval_limit or Decimal(0), pair[0].username),
                                reverse=step.kind == "anordnung")
                for user, _acting_for in actors:
                    try:
                        with session.begin_nested():
                            approve(session, case.id, user=user, expected_version=case.version, clock=clock)
                        timing["decisions"] += 1
                        break
                    except WorkflowError:
                        timing["refused"] += 1
        timing["decide"] += time.perf_counter() - started
        # 4. evening: the scheduler's pass
        started = time.perf_counter()
        with db.transaction() as session:
            mark_lost_deadlines(session, clock=clock)
        timing["lost_pass"] += time.perf_counter() - started
    return timing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temp folder)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes generating invoices")
    args = parser.parse_args()

    print("bench/workflow.py — a month of matching and approvals on the example organisation")
    print(f"cores (os.cpu_count)      {os.cpu_count()}")
    print(f"cpu                       {platform.processor() or platform.machine()}")
    print(f"python                    {platform.python_version()}")
    print(f"commit                    {commit()}")
    folder = Path(tempfile.mkdtemp(prefix="einvoice-bench-workflow-"))
    os.environ.setdefault("EINVOICE_DATA_DIR", str(folder))
    for name in ("EINVOICE_PAYMENT_RUN_LEAD_DAYS", "EINVOICE_SKONTO_REMINDER_DAYS", "EINVOICE_BUNDESLAND"):
        os.environ.pop(name, None)
    from sqlalchemy import func, select

    from einvoice.config import load_settings
    from einvoice.routing.deadlines.metrics import skonto_metrics
    from einvoice.store.db import Database
    from einvoice.store.migrate import upgrade
    from einvoice.store.models import IntakeItem
    from einvoice.store.routing_models import Assignment

    url = args.database_url or f"sqlite:///{folder / 'einvoice.db'}"
    print(f"database                  {url.split('@')[-1]}")
    upgrade(url)
    db = Database(url, settings=load_settings())
    started = time.perf_counter()
    arrivals = setup(db, args.n, args.seed, args.jobs)
    print(f"setup                     {args.n} invoices generated, read and stored in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    timing = simulate(db, arrivals, args.seed)
    total = time.perf_counter() - started

    with db.read() as session:
        states = dict(session.execute(select(IntakeItem.state, func.count()).group_by(IntakeItem.state)).all())
        manual_assignments = session.scalar(select(func.count()).select_from(Assignment).where(Assignment.manual))
        rows = skonto_metrics(session)
    n = args.n
    print(f"\nmatching (at arrival)     {timing['auto_matched']}/{n} matched automatically "
          f"({100 * timing['auto_matched'] / n:.1f} %), {timing['manual']} to the manual queue; "
          f"{manual_assignments} assigned by the Rechnungseingangsstelle")
    print(f"final states              {', '.join(f'{k} {v}' for k, v in sorted(states.items()))}")
    print(f"decisions                 {timing['decisions']} by people ({timing['refused']} refused attempts by the "
          f"rules: four-eyes, conflicts, limits), {timing['iban_cleared']} IBAN alerts cleared")
    offered = sum((r.offered_amount for r in rows), Decimal(0))
    captured = sum((r.captured_amount for r in rows), Decimal(0))
    lost = sum((r.lost_amount for r in rows), Decimal(0))
    print(f"Skonto offered            {sum(r.offered_count for r in rows)} invoices, {offered:,.2f} EUR")
    print(f"Skonto captured           {sum(r.captured_count for r in rows)} invoices, {captured:,.2f} EUR"
          + (f" ({100 * captured / offered:.1f} % of the amount)" if offered else ""))
    print(f"Skonto lost               {sum(r.lost_count for r in rows)} invoices, {lost:,.2f} EUR")
    print(f"Skonto manual (free text) {sum(r.manual_count for r in rows)} invoices")
    print(f"\nruntime                   {total:.1f} s for the simulated period "
          f"({MONTH_START} … {SIMULATE_UNTIL}), {1000 * total / n:.2f} ms per invoice")
    print(f"  routing at arrival      {timing['route']:.1f} s = {1000 * timing['route'] / max(1, timing['route_items']):.2f} "
          f"ms per invoice (matching + deadlines + approval start, one transaction per day)")
    print(f"  manual queue            {timing['queue']:.1f} s")
    print(f"  decisions               {timing['decide']:.1f} s = {1000 * timing['decide'] / max(1, timing['decisions']):.2f} "
          f"ms per decision (incl. finding the eligible person)")
    print(f"  evening deadline pass   {timing['lost_pass']:.1f} s")
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
