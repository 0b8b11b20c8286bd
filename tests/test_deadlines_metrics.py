"""Skonto metrics on a generated quarter of invoices (60 items, three units in three Länder, cases
approved on different days), checked exactly against an independent computation in this test."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import holidays

from deadlines_data import default_deadline_settings  # noqa: F401 (autouse)
from deadlines_data import add_case, add_item, add_unit, assign, berlin, invoice_model
from einvoice.routing.clock import FixedClock
from einvoice.routing.deadlines.metrics import skonto_metrics
from einvoice.routing.deadlines.service import compute_for_item, refresh

pytest_plugins = ["pg"]

TODAY = date(2026, 5, 4)  # the metrics are taken on this day
KINDS = ("single", "three", "staggered", "none", "free-text", "credit")
TERMS = {"single": [(14, Decimal("2.00"))], "three": [(10, Decimal("3.00"))],
         "staggered": [(7, Decimal("3.00")), (14, Decimal("2.00")), (30, Decimal("0.00"))]}


def _wd(day: date, land: str) -> bool:
    return day.weekday() < 5 and day not in holidays.Germany(subdiv=land, years=day.year)


def _latest(deadline: date, land: str) -> date:
    """Independently: the last working day on or before the deadline, then one working day earlier."""
    day = deadline
    while not _wd(day, land):
        day -= timedelta(days=1)
    day -= timedelta(days=1)
    while not _wd(day, land):
        day -= timedelta(days=1)
    return day


def _generate(rng: random.Random) -> list[dict]:
    invoices = []
    for n in range(60):
        kind = KINDS[n % len(KINDS)] if n < 48 else rng.choice(KINDS[:3])
        issue = date(2026, 2, 15) + timedelta(days=rng.randrange(0, 75))
        amount = Decimal(rng.randrange(10_000, 2_000_000)) / 100
        approved = issue + timedelta(days=rng.randrange(0, 26)) if rng.random() < 0.75 else None
        unit = rng.choice(["FB10", "FB20", "FB30", None])
        invoices.append({"kind": kind, "issue": issue, "amount": amount, "unit": unit,
                         "approved": approved if approved and approved <= TODAY else None})
    return invoices


def _bt20(kind: str) -> str | None:
    if kind in TERMS:
        return "".join(f"#SKONTO#TAGE={days}#PROZENT={pct}#\n" for days, pct in TERMS[kind])
    return {"free-text": "Bei Zahlung innerhalb von 10 Tagen 2 % Skonto.", "none": "Zahlbar in 30 Tagen.",
            "credit": "#SKONTO#TAGE=14#PROZENT=2.00#\n"}[kind]


def _expected(invoices: list[dict], lands: dict) -> dict:
    totals: dict = {}
    zero = Decimal("0.00")
    for inv in invoices:
        if inv["kind"] not in TERMS and inv["kind"] != "free-text":
            continue
        land = lands.get(inv["unit"], "NW")
        offers = [(inv["issue"] + timedelta(days=days),
                   (inv["amount"] * pct / 100).quantize(Decimal("0.01"), ROUND_HALF_UP))
                  for days, pct in TERMS.get(inv["kind"], []) if pct > 0]
        best_deadline, best = max(offers, key=lambda o: o[1]) if offers else (inv["issue"], None)
        month = f"{best_deadline:%Y-%m}" if offers else f"{inv['issue']:%Y-%m}"  # manual: month of receipt
        row = totals.setdefault((inv["unit"], month), {"offered": [0, zero], "captured": [0, zero], "lost": [0, zero],
                                                       "open": [0, zero], "manual": 0})
        if not offers:
            row["manual"] += 1
            continue
        row["offered"][0] += 1
        row["offered"][1] += best
        if inv["approved"]:
            caught = [amount for deadline, amount in offers if inv["approved"] <= _latest(deadline, land)]
            outcome, amount = ("captured", max(caught)) if caught else ("lost", best)
        elif any(TODAY <= _latest(deadline, land) for deadline, _ in offers):
            outcome, amount = "open", best
        else:
            outcome, amount = "lost", best
        row[outcome][0] += 1
        row[outcome][1] += amount
    return totals


def test_skonto_metrics_per_unit_and_month_match_an_independent_computation(db):
    rng = random.Random(20260504)
    invoices = _generate(rng)
    lands = {"FB10": "NW", "FB20": "BY", "FB30": "BE"}
    with db.transaction() as session:
        units = {code: add_unit(session, code, land=land) for code, land in lands.items()}
        unit_ids = {code: unit.id for code, unit in units.items()}
        for inv in invoices:
            model = invoice_model(inv["issue"], inv["amount"], _bt20(inv["kind"]), credit=inv["kind"] == "credit")
            received = inv["issue"] + timedelta(days=1)
            item = add_item(session, model, berlin(received, 8))
            if inv["unit"]:
                assign(session, item, units[inv["unit"]])
            compute_for_item(session, item, clock=FixedClock(received), settings=db.settings)
            if inv["approved"]:
                add_case(session, item, units[inv["unit"] or "FB10"], opened=berlin(received, 9), status="approved",
                         frozen_at=berlin(max(inv["approved"], received), 15), payable=str(inv["amount"]))
                inv["approved"] = max(inv["approved"], received)
    with db.transaction() as session:
        refresh(session, clock=FixedClock(TODAY), settings=db.settings)
    expected = _expected(invoices, lands)
    between = [inv for inv in invoices if inv["kind"] == "staggered" and inv["approved"] and
               _latest(inv["issue"] + timedelta(days=7), lands.get(inv["unit"], "NW")) < inv["approved"]
               <= _latest(inv["issue"] + timedelta(days=14), lands.get(inv["unit"], "NW"))]
    assert between  # some Anordnungen missed 3 % but caught 2 %
    with db.read() as session:
        rows = skonto_metrics(session)
        got = {(r.unit_code if r.unit_id else None, r.month): {
            "offered": [r.offered_count, r.offered_amount], "captured": [r.captured_count, r.captured_amount],
            "lost": [r.lost_count, r.lost_amount], "open": [r.open_count, r.open_amount], "manual": r.manual_count}
            for r in rows}
        assert got == expected
        outcomes = {k: sum(v[k][0] for v in expected.values()) for k in ("captured", "lost", "open")}
        assert all(outcomes.values()), outcomes  # the generated quarter has every outcome
        assert sum(v["manual"] for v in expected.values()) == 8
        # filters: one month, one unit
        march = skonto_metrics(session, month="2026-03")
        assert {(r.unit_code if r.unit_id else None, r.month) for r in march} == \
            {k for k in expected if k[1] == "2026-03"}
        fb20 = skonto_metrics(session, unit_id=unit_ids["FB20"])
        assert {r.month for r in fb20} == {k[1] for k in expected if k[0] == "FB20"}
        assert sum(r.captured_amount for r in fb20) == \
            sum(v["captured"][1] for k, v in expected.items() if k[0] == "FB20")
        assert all(r.captured_amount + r.lost_amount <= r.offered_amount for r in rows)
    print(f"metrics: {len(rows)} rows, outcomes {outcomes}")
