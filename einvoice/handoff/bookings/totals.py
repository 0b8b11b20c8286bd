"""The control totals of a booking batch (Kontrollsumme and its breakdown), from its records."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from .records import ZERO, money


def control_totals(records: list[dict[str, Any]]) -> tuple[Decimal, dict[str, Any]]:
    """(Kontrollsumme = Σ payable, totals per currency, VAT group and document type)."""
    total = ZERO
    currencies: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    vat: dict[tuple, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    kinds: dict[str, dict[str, Any]] = defaultdict(lambda: {"invoices": set(), "payable": ZERO})
    for record in records:
        payable = money(record["payable"])
        total += payable
        row = currencies[record.get("currency") or "–"]
        for key in ("net", "vat", "gross", "amount_due", "payable"):
            row[key] += money(record[key])
        row["records"] += 1
        kind = kinds["credit_notes" if record["sign"] < 0 else "invoices"]
        kind["invoices"].add(record["item_id"])
        kind["payable"] += payable
        for group in record.get("vat_breakdown") or []:
            sums = vat[(record.get("currency") or "–", group.get("category") or "", group.get("rate") or "")]
            for key in ("net", "vat", "gross", "payable"):
                sums[key] += money(group[key])
    per_currency = {}
    for currency, row in sorted(currencies.items()):
        per_currency[currency] = {key: (str(value) if key != "records" else int(value)) for key, value in row.items()}
    totals = {
        "currencies": per_currency,
        "vat": [{"currency": c, "category": cat or None, "rate": rate or None, **{k: str(v) for k, v in sums.items()}}
                for (c, cat, rate), sums in sorted(vat.items(), key=lambda kv: (kv[0][0], -Decimal(kv[0][2] or 0),
                                                                                 kv[0][1]))],
        **{name: {"count": len(kind["invoices"]), "payable": str(kind["payable"])} for name, kind in kinds.items()},
    }
    return total, totals
