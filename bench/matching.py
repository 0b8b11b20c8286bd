#!/usr/bin/env python
"""Benchmark of cost-centre matching (einvoice.routing.matching).

    python bench/matching.py [--invoices 10000] [--repeat 3] [--db N]

1. In memory: ``extract_keys`` + ``decide`` over synthetic ParsedInvoice model dicts (orders,
   contracts, Leitweg-IDs, BT-19, 5-line BT-133 splits, suppliers only, nothing) against a synthetic
   municipality (50 units, 1,000 cost centres, 300 Leitweg-IDs, 20,000 orders, 2,000 contracts,
   5,000 suppliers) with the default rules of ``rules/routing/matching.toml`` → matches/s (best of
   ``--repeat``). Target: 10,000 invoices well under 10 s.
2. ``--db N`` (optional): the same master data in a temporary SQLite database; ``load_context``
   time and ``rerun`` over N stored items (reading models, writing results, assignments, audit
   events and transitions in one transaction) → items/s.
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
from collections import Counter
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without an editable install
    sys.path.insert(0, str(ROOT))

from einvoice.formats.leitweg import expected_check_digits  # noqa: E402
from einvoice.routing.matching import decide, extract_keys  # noqa: E402
from einvoice.routing.matching.context import (  # noqa: E402
    ContractInfo, CostCentreInfo, LeitwegInfo, MatchingContext, OrderInfo, SupplierInfo, UnitInfo,
)
from einvoice.routing.matching.rules import Rule, default_rules_file, parse_rules_toml  # noqa: E402

UNITS, CENTRES, LEITWEG, ORDERS, CONTRACTS, SUPPLIERS = 50, 1000, 300, 20_000, 2000, 5000


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + (" (+ uncommitted changes to tracked files)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def leitweg(n: int) -> str:
    fine = f"A{n:04d}"
    return f"05315000-{fine}-{expected_check_digits('05315000', fine)}"


def master_data() -> dict[str, list]:
    rnd = random.Random(7)
    units = [UnitInfo(i, f"FB{i:02d}", f"Fachbereich {i}") for i in range(1, UNITS + 1)]
    centres = [CostCentreInfo(i, f"{1000 + i}", f"Kostenstelle {i}", rnd.randint(1, UNITS), "5431", f"P{i}")
               for i in range(1, CENTRES + 1)]
    leitweg_ids = [LeitwegInfo(leitweg(i), centres[i].unit_id, centres[i].id if i % 3 else None)
                   for i in range(LEITWEG)]
    suppliers = [SupplierInfo(i, f"K-{i:05d}", f"Lieferant {i} GmbH", f"DE{100000000 + i}", None,
                              f"DE{i:020d}", rnd.randint(1, CENTRES) if i % 2 else None)
                 for i in range(1, SUPPLIERS + 1)]
    orders = [OrderInfo(f"BEST-{i:06d}", 1, rnd.randint(1, CENTRES), None, rnd.randint(1, SUPPLIERS))
              for i in range(ORDERS)]
    orders = [OrderInfo(o.number, centres[o.cost_centre_id - 1].unit_id, o.cost_centre_id, None, o.supplier_id)
              for o in orders]
    contracts = [ContractInfo(f"V-{i:05d}", centres[i % CENTRES].unit_id, centres[i % CENTRES].id, None, None,
                              date(2020, 1, 1), date(2030, 12, 31)) for i in range(CONTRACTS)]
    return {"units": units, "cost_centres": centres, "leitweg_ids": leitweg_ids, "orders": orders,
            "contracts": contracts, "suppliers": suppliers}


def rules() -> list[Rule]:
    return [Rule.make(id=i, position=i, name=r["name"], key=r["key"], confidence=r["confidence"])
            for i, r in enumerate(parse_rules_toml(default_rules_file().read_text(encoding="utf-8")), start=1)]


def invoices(n: int, orders: list[OrderInfo]) -> list[dict]:
    rnd = random.Random(11)
    result = []
    for i in range(n):
        order = orders[rnd.randrange(ORDERS)]
        s = order.supplier_id if i % 2 else rnd.randint(1, SUPPLIERS)
        terms = {"BT-1": f"RE-{i}", "BT-2": "2026-11-02", "BT-5": "EUR", "BT-27": f"Lieferant {s} GmbH",
                 "BT-31": f"DE{100000000 + s}", "BT-84": [f"DE{s:020d}"], "BT-115": "119.00"}
        lines = [{"id": "1", "net_amount": {"value": "100.00", "currency": "EUR"}}]
        kind = rnd.random()
        if kind < 0.30:
            terms["BT-13"] = order.number  # half of them from the order's own supplier
        elif kind < 0.40:
            terms["BT-12"] = f"V-{rnd.randrange(CONTRACTS):05d}"
        elif kind < 0.60:
            terms["BT-10"] = leitweg(rnd.randrange(LEITWEG + 30))  # some unknown
        elif kind < 0.70:
            terms["BT-19"] = f"{1000 + rnd.randint(1, CENTRES)}"
        elif kind < 0.80:
            lines = [{"id": str(k), "accounting_reference": f"{1000 + rnd.randint(1, CENTRES)}",
                      "net_amount": {"value": f"{rnd.randint(1, 99999) / 100:.2f}", "currency": "EUR"}}
                     for k in range(1, 6)]
        elif kind < 0.95:
            pass  # supplier only
        else:
            terms = {"BT-1": f"RE-{i}"}
        result.append({"terms": terms, "invoice": {"lines": lines}})
    return result


def in_memory(n: int, repeat: int) -> None:
    started = time.perf_counter()
    data = master_data()
    ctx = MatchingContext.build(**data, rules=rules())
    print(f"context build (in memory)  {time.perf_counter() - started:.3f} s")
    models = invoices(n, data["orders"])
    best, statuses = float("inf"), Counter()
    for _ in range(repeat):
        started = time.perf_counter()
        outcomes = [decide(extract_keys(model), ctx.rules, ctx) for model in models]
        best = min(best, time.perf_counter() - started)
        statuses = Counter(o.status.value + ("+splits" if o.splits else "") for o in outcomes)
    print(f"in memory: {n} invoices    {best:.3f} s (best of {repeat}) = {n / best:,.0f} matches/s, "
          f"{best / n * 1e6:.1f} µs per invoice")
    print(f"outcomes                   {dict(sorted(statuses.items()))}")


def with_database(n: int) -> None:
    from sqlalchemy import insert

    from einvoice.intake import states
    from einvoice.routing.matching import load_context, rerun
    from einvoice.store import Database
    from einvoice.store.masterdata_models import Contract, CostCentre, LeitwegId, OrgUnit, PurchaseOrder, Supplier
    from einvoice.store.migrate import upgrade
    from einvoice.store.models import Blob, IntakeItem, ParsedInvoice
    from einvoice.store.types import utcnow

    data = master_data()
    with tempfile.TemporaryDirectory(prefix="einvoice-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        db = Database(url)
        with db.transaction() as session:
            session.execute(insert(OrgUnit), [{"id": u.id, "code": u.code, "name": u.name} for u in data["units"]])
            session.execute(insert(CostCentre), [{"id": c.id, "code": c.code, "name": c.name, "unit_id": c.unit_id}
                                                 for c in data["cost_centres"]])
            session.execute(insert(LeitwegId), [{"leitweg_id": x.leitweg_id, "unit_id": x.unit_id,
                                                 "cost_centre_id": x.cost_centre_id} for x in data["leitweg_ids"]])
            session.execute(insert(Supplier), [{"id": s.id, "creditor_number": s.creditor_number, "name": s.name,
                                                "vat_id": s.vat_id, "iban": s.iban,
                                                "default_cost_centre_id": s.default_cost_centre_id}
                                               for s in data["suppliers"]])
            session.execute(insert(PurchaseOrder), [{"number": o.number, "unit_id": o.unit_id, "supplier_id":
                                                     o.supplier_id, "cost_centre_id": o.cost_centre_id}
                                                    for o in data["orders"]])
            session.execute(insert(Contract), [{"number": c.number, "unit_id": c.unit_id,
                                                "cost_centre_id": c.cost_centre_id} for c in data["contracts"]])
            from einvoice.routing.matching import seed_rules
            seed_rules(session, actor="system:bench")
            for i, model in enumerate(invoices(n, data["orders"])):
                sha = f"{i:064x}"
                session.add(Blob(sha256=sha, size=1))
                item = IntakeItem(channel="api", received_at=utcnow(), sha256=sha, size=1, state="received")
                session.add(item)
                session.flush()
                states.initial_event(item, actor="system:bench", reason="bench")
                states.transition(item, "validated", "system:bench", "bench")
                states.transition(item, "parsed", "system:bench", "bench")
                session.add(ParsedInvoice(item_id=item.id, model=model))
        with db.read() as session:
            started = time.perf_counter()
            load_context(session)
            print(f"load_context (SQLite)      {time.perf_counter() - started:.3f} s")
        started = time.perf_counter()
        with db.transaction() as session:
            counts = rerun(session, actor="system:bench")
        elapsed = time.perf_counter() - started
        print(f"rerun (SQLite): {n} items   {elapsed:.2f} s = {n / elapsed:,.0f} items/s (incl. commit)  {counts}")
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", type=int, default=0, metavar="N", help="also re-run N stored items on SQLite")
    args = parser.parse_args(argv)
    print(f"einvoice matching benchmark   {datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"cores (os.cpu_count)       {os.cpu_count()}")
    print(f"CPU model                  {cpu_model()}")
    print(f"Python                     {platform.python_implementation()} {platform.python_version()}")
    print(f"git commit                 {git_commit()}")
    print(f"load average at start      {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"master data                {UNITS} units, {CENTRES} cost centres, {LEITWEG} Leitweg-IDs, "
          f"{ORDERS} orders, {CONTRACTS} contracts, {SUPPLIERS} suppliers")
    in_memory(args.invoices, max(1, args.repeat))
    if args.db:
        with_database(args.db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
