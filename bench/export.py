#!/usr/bin/env python
"""Benchmark of the booking export (einvoice.handoff.bookings): one batch of 10,000 approved invoices.

    python bench/export.py [--invoices 10000] [--repeat 1] [--url postgresql://…]

Setup (timed apart, not part of the numbers): a migrated temporary SQLite database (or the empty,
migrated-on-start database of ``--url``) with 20 units, 200 cost centres and 500 suppliers, and N
approved invoices written **directly with the ORM** (bulk inserts, not through intake and the
workflow, which `bench/workflow.py` measures): intake item in ``approved``, the stored model dict
(generated XRechnung invoices of the four sample suppliers read once by the real reader and reused
with new invoice numbers; 7 % and 19 % VAT, 1–6 lines, every 12th a credit note), an assignment
(every 10th split over two cost centres by its lines), an approved case with frozen payee/IBAN and a
deadline row (every 3rd with captured Skonto).

Timed, each in its own transaction including the commit: ``create_batch`` of all N as CSV with the
generic mapping (select and lock, load, build records, write the file into the blob store, insert
batch and records, N transitions approved → exported with audit events) and ``cancel_batch`` (N
transitions back), ``--repeat`` times (the best CSV export counts), then ``create_batch`` of all N as
JSON. Each line shows the wall time and this process's CPU time (wall well above CPU: the machine was
busy). Target: CSV export of 10,000 under 5 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without an editable install
    sys.path.insert(0, str(ROOT))

import sqlalchemy  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from einvoice.config import load_settings  # noqa: E402
from einvoice.formats.export import to_dict  # noqa: E402
from einvoice.formats.read import read_invoice  # noqa: E402
from einvoice.handoff.bookings import cancel_batch, create_batch  # noqa: E402
from einvoice.routing.workflow.facts import invoice_facts  # noqa: E402
from einvoice.samples.generate import ubl_invoice  # noqa: E402
from einvoice.store.db import Database  # noqa: E402
from einvoice.store.masterdata_models import Account, CostCentre, OrgUnit, Supplier  # noqa: E402
from einvoice.store.migrate import upgrade  # noqa: E402
from einvoice.store.models import Blob, IntakeItem, ParsedInvoice  # noqa: E402
from einvoice.store.routing_models import ApprovalCase, Assignment, InvoiceDeadline  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from matching import cpu_model, git_commit  # noqa: E402

UNITS, CENTRES, SUPPLIERS = 20, 200, 500
KEYS = ("musterbau", "gruenpflege", "schreibwerk", "nordlicht")
UTC = timezone.utc


def templates() -> list[dict]:
    """24 stored model dicts: 4 suppliers × 1–6 lines; the 6-line ones also as credit notes."""
    models = []
    for n, key in enumerate(KEYS * 6):
        models.append(to_dict(read_invoice(ubl_invoice(1 + n % 6, number=f"T-{n}", supplier=key,
                                                       credit_note=n % 12 == 11))))
    return models


def master_data(session) -> tuple[list[CostCentre], list[int]]:
    session.add_all([Account(code=f"5{i:03d}", name=f"Sachkonto {i}") for i in range(10)])
    units = [OrgUnit(code=f"FB{i:02d}", name=f"Fachbereich {i}", bundesland="NW") for i in range(UNITS)]
    session.add_all(units)
    session.flush()
    centres = [CostCentre(code=f"{1000 + i}", name=f"Kostenstelle {i}", unit_id=units[i % UNITS].id,
                          default_account=f"5{i % 10:03d}", budget_product=f"{i % 17:02d}.{i % 5:02d}.01")
               for i in range(CENTRES)]
    suppliers = [Supplier(creditor_number=f"7{i:05d}", name=f"Lieferant {i} GmbH", iban=f"DE{i:020d}",
                          bic="BANKDEFFXXX") for i in range(SUPPLIERS)]
    session.add_all(centres + suppliers)
    session.flush()
    return centres, [s.id for s in suppliers]


def setup(db: Database, n: int) -> None:
    models = templates()
    with db.transaction() as session:
        centres, suppliers = master_data(session)
        sha = db.blobs.put(b"<Invoice/>")
        session.add(Blob(sha256=sha, size=10))
        session.flush()
        first = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
        items = [{"uid": f"{i:032x}", "channel": "api", "received_at": first + timedelta(minutes=i), "sha256": sha,
                  "size": 10, "state": "approved", "state_changed_at": first, "version": 1,
                  "invoice_number": f"RE-{i:06d}"} for i in range(n)]
        session.execute(insert(IntakeItem), items)
        ids = list(session.scalars(sqlalchemy.select(IntakeItem.id).order_by(IntakeItem.id)))
        parsed, assignments, cases, deadlines = [], [], [], []
        for k, item_id in enumerate(ids):
            base = models[k % len(models)]
            model = {**base, "terms": {**base["terms"], "BT-1": f"RE-{k:06d}"}}
            facts = invoice_facts(model)
            centre, other = centres[k % CENTRES], centres[(k + 7) % CENTRES]
            lines = [line["id"] for line in model["invoice"]["lines"]]
            splits = None
            if k % 10 == 0 and len(lines) > 1:
                splits = [{"cost_centre_id": c.id, "cost_centre": c.code, "unit_id": c.unit_id,
                           "account": c.default_account, "budget_product": c.budget_product, "amount": "0",
                           "lines": part} for c, part in ((centre, lines[::2]), (other, lines[1::2]))]
            parsed.append({"item_id": item_id, "model": model})
            assignments.append({"item_id": item_id, "status": "matched", "unit_id": centre.unit_id,
                                "cost_centre_id": centre.id, "account": centre.default_account,
                                "budget_product": centre.budget_product, "supplier_id": suppliers[k % SUPPLIERS],
                                "splits": splits, "assigned_by": "system:bench", "version": 1})
            cases.append({"item_id": item_id, "workflow_snapshot": {"steps": []}, "status": "approved",
                          "gross_amount": facts.gross, "payable_amount": facts.gross, "payee_name": facts.payee_name,
                          "payee_iban": facts.iban, "frozen_at": first + timedelta(days=2),
                          "frozen_by": "user:bench", "version": 1})
            skonto = k % 3 == 0 and facts.gross > 0
            deadlines.append({"item_id": item_id, "unit_id": centre.unit_id, "receipt_date": date(2026, 11, 2),
                              "due_date": date(2026, 12, 2), "legal_due_date": date(2026, 12, 2),
                              "pay_by": date(2026, 11, 16) if skonto else date(2026, 12, 2), "currency": "EUR",
                              "payable": abs(facts.gross), "skonto_status": "captured" if skonto else "none",
                              "skonto_deadline": date(2026, 11, 16) if skonto else None,
                              "skonto_amount": (facts.gross * Decimal("0.02")).quantize(Decimal("0.01"))
                              if skonto else None,
                              "terms": [], "money_at_risk_cents": 0})
        for model, rows in ((ParsedInvoice, parsed), (Assignment, assignments), (ApprovalCase, cases),
                            (InvoiceDeadline, deadlines)):
            session.execute(insert(model), rows)


def timed(db: Database, fn):
    """(result, wall seconds, CPU seconds of this process) of ``fn(session)`` in one transaction incl. commit;
    wall well above CPU means the machine was busy with other work (or waiting for the disk)."""
    started, cpu = time.perf_counter(), time.process_time()
    with db.transaction() as session:
        result = fn(session)
    return result, time.perf_counter() - started, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--url", help="an empty database to use instead of a temporary SQLite file")
    parser.add_argument("--repeat", type=int, default=1, help="export and cancel this many times (best counts)")
    args = parser.parse_args(argv)
    print(f"einvoice booking export benchmark   {datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"cores (os.cpu_count)       {os.cpu_count()}")
    print(f"CPU model                  {cpu_model()}")
    print(f"Python                     {platform.python_implementation()} {platform.python_version()}, "
          f"SQLAlchemy {sqlalchemy.__version__}")
    print(f"git commit                 {git_commit()}")
    print(f"load average at start      {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="einvoice-bench-export-") as tmp:
        url = args.url or f"sqlite:///{tmp}/einvoice.db"
        settings = replace(load_settings(), data_dir=Path(tmp) / "data", database_url=url)
        upgrade(url)
        db = Database(settings=settings)
        print(f"database                   {db.dialect}")
        started = time.perf_counter()
        setup(db, args.invoices)
        print(f"setup (ORM bulk insert)    {args.invoices} approved invoices in {time.perf_counter() - started:.1f} s "
              "(not part of the numbers)")
        best = None
        for run in range(1, max(1, args.repeat) + 1):
            batch, elapsed, cpu = timed(db, lambda s: create_batch(s, db.blobs, actor="user:bench", format="csv"))
            size = len(db.blobs.get(batch.sha256))
            best = elapsed if best is None else min(best, elapsed)
            print(f"export CSV (generic) #{run}   {batch.invoice_count} invoices, {batch.record_count} records in "
                  f"{elapsed:.2f} s (CPU {cpu:.2f} s) = {batch.record_count / elapsed:,.0f} records/s; file "
                  f"{size / 1e6:.1f} MB, Kontrollsumme {batch.control_total} EUR")
            _, elapsed, cpu = timed(db, lambda s: cancel_batch(s, batch.id, actor="user:bench", reason="Benchmark"))
            print(f"cancel batch #{run}           {batch.invoice_count} invoices back to approved in {elapsed:.2f} s "
                  f"(CPU {cpu:.2f} s)")
        verdict = "n/a (fewer than 10,000)" if args.invoices < 10_000 else "met" if best < 5 else "MISSED"
        print(f"best CSV export            {best:.2f} s for {args.invoices} invoices (target < 5 s for 10,000: {verdict})")
        again, elapsed, cpu = timed(db, lambda s: create_batch(s, db.blobs, actor="user:bench", format="json"))
        size = len(db.blobs.get(again.sha256))
        print(f"export JSON                {again.record_count} records in {elapsed:.2f} s (CPU {cpu:.2f} s) = "
              f"{again.record_count / elapsed:,.0f} records/s, file {size / 1e6:.1f} MB")
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
