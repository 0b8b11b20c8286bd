"""Skonto metrics per unit and month: offered, captured, lost and still open (EUR and count).

The month of an invoice is the month of the deadline of its **best offered term** (the term with the
highest discount, whose discount is ``InvoiceDeadline.offered_amount``): it does not change when a
staggered term passes or the outcome is recorded, so a month's figures only move from *open* to
*captured*/*lost*. Counted: rows with an offered Skonto (status ``open``, ``captured`` or ``lost``).

- offered: every such row, the best offered discount;
- captured: ``outcome_amount`` (the discount of the term actually caught, see `service.settle`);
- lost: ``outcome_amount`` (the best offered discount that was missed);
- open: not yet decided, the best offered discount.

Sums are `Decimal` additions in Python (``Money`` is text on SQLite, so SQL ``SUM`` would not be
exact there); amounts are in the invoice currency (all EUR in practice). Rows without a unit are
reported under unit ``None`` (code ``"-"``). Manual Skonto (free text) is counted in ``manual``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...store.masterdata_models import OrgUnit
from ...store.routing_models import InvoiceDeadline, SkontoStatus
from .compute import Term, best_offered

ZERO = Decimal("0.00")
COUNTED = (SkontoStatus.OPEN.value, SkontoStatus.CAPTURED.value, SkontoStatus.LOST.value, SkontoStatus.MANUAL.value)


@dataclass
class Row:
    unit_id: int | None
    unit_code: str
    month: str  # YYYY-MM
    offered_count: int = 0
    offered_amount: Decimal = ZERO
    captured_count: int = 0
    captured_amount: Decimal = ZERO
    lost_count: int = 0
    lost_amount: Decimal = ZERO
    open_count: int = 0
    open_amount: Decimal = ZERO
    manual_count: int = 0

    @property
    def capture_rate(self) -> Decimal | None:
        """Captured share of the offered amount (0..1), None when nothing was offered."""
        if not self.offered_amount:
            return None
        return (self.captured_amount / self.offered_amount).quantize(Decimal("0.0001"))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "capture_rate": self.capture_rate}


def month_of(row: InvoiceDeadline) -> str | None:
    """The month of the best offered term's deadline (manual rows: of the receipt date)."""
    if row.skonto_status == SkontoStatus.MANUAL.value:
        return f"{row.receipt_date:%Y-%m}"
    offered = best_offered([Term.from_json(t) for t in row.terms or []])
    return f"{offered.deadline:%Y-%m}" if offered is not None else None


def parse_month(text: str | None) -> str | None:
    """``YYYY-MM`` checked (ValueError otherwise)."""
    if text is None or text == "":
        return None
    return f"{date.fromisoformat(text.strip() + '-01'):%Y-%m}"


def skonto_metrics(session: Session, *, month: str | None = None, unit_id: int | None = None) -> list[Row]:
    """One `Row` per (unit, month), sorted by month then unit code; filtered by month and/or unit."""
    month = parse_month(month)
    query = select(InvoiceDeadline).where(InvoiceDeadline.skonto_status.in_(COUNTED))
    if unit_id is not None:
        query = query.where(InvoiceDeadline.unit_id == unit_id)
    codes = {unit.id: unit.code for unit in session.scalars(select(OrgUnit))}
    rows: dict[tuple[int | None, str], Row] = {}
    for deadline in session.scalars(query):
        key_month = month_of(deadline)
        if key_month is None or (month is not None and key_month != month):
            continue
        key = (deadline.unit_id, key_month)
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(deadline.unit_id, codes.get(deadline.unit_id, "-"), key_month)
        status = deadline.skonto_status
        if status == SkontoStatus.MANUAL.value:
            row.manual_count += 1
            continue
        offered = deadline.offered_amount or ZERO
        row.offered_count += 1
        row.offered_amount += offered
        if status == SkontoStatus.CAPTURED.value:
            row.captured_count += 1
            row.captured_amount += deadline.outcome_amount or ZERO
        elif status == SkontoStatus.LOST.value:
            row.lost_count += 1
            row.lost_amount += deadline.outcome_amount or ZERO
        else:
            row.open_count += 1
            row.open_amount += offered
    return sorted(rows.values(), key=lambda r: (r.month, r.unit_code))
