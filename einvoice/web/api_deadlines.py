"""The JSON API of routing/deadlines (`/api/v1/...`): API token required (reads only).

- ``GET /api/v1/deadlines?unit=CODE&before=YYYY-MM-DD&status=open&all=false&limit=100``: the inbox
  order: deadline rows sorted by money at risk (descending), then pay-by date, then item id. By default
  only invoices still pending (no Anordnung, not rejected/exported/archived); ``before`` keeps rows
  whose pay-by date is on or before it; ``all=true`` lists settled ones as well.
- ``GET /api/v1/invoices/{id}/deadlines``: one invoice's terms, dates, status, notes (404 if none).
- ``GET /api/v1/metrics/skonto?month=YYYY-MM&unit=CODE``: `skonto_metrics` rows.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import exists, func, select
from starlette.concurrency import run_in_threadpool

from ..routing.deadlines.metrics import parse_month, skonto_metrics
from ..store.masterdata_models import OrgUnit
from ..store.models import IntakeItem, ItemState
from ..store.routing_models import ApprovalCase, CaseStatus, InvoiceDeadline, SkontoStatus
from .auth import check_api_token
from .context import JSON, get_ctx

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_api_token)], tags=["deadlines"])

DONE_STATES = (ItemState.APPROVED, ItemState.EXPORTED, ItemState.ARCHIVED, ItemState.REJECTED, ItemState.DUPLICATE)


def _row_json(row: InvoiceDeadline, item: IntakeItem | None, unit: OrgUnit | None) -> dict[str, Any]:
    return {
        "item_id": row.item_id, "invoice_number": item.invoice_number if item else None,
        "seller": item.seller_name if item else None, "state": item.state if item else None,
        "unit": {"id": unit.id, "code": unit.code, "name": unit.name} if unit else None,
        "receipt_date": row.receipt_date, "issue_date": row.issue_date, "due_date": row.due_date,
        "legal_due_date": row.legal_due_date, "pay_by": row.pay_by, "currency": row.currency,
        "payable": row.payable, "skonto_status": row.skonto_status, "skonto_deadline": row.skonto_deadline,
        "skonto_amount": row.skonto_amount, "offered_amount": row.offered_amount,
        "outcome_amount": row.outcome_amount, "outcome_at": row.outcome_at,
        "money_at_risk_cents": row.money_at_risk_cents,
        "money_at_risk": (Decimal(row.money_at_risk_cents) / 100).quantize(Decimal("0.01")),
        "terms": row.terms or [], "notes": row.notes or [], "updated_at": row.updated_at,
    }


def _unit_by_code(session, code: str) -> OrgUnit | None:
    return session.scalars(select(OrgUnit).where(OrgUnit.code == code)).one_or_none()


def _list(ctx, unit: str | None, before: date | None, status: SkontoStatus | None, include_all: bool,
          limit: int) -> dict[str, Any] | None:
    with ctx.db.read() as session:
        filters = []
        if unit:
            found = _unit_by_code(session, unit)
            if found is None:
                return None
            filters.append(InvoiceDeadline.unit_id == found.id)
        if before is not None:
            filters.append(InvoiceDeadline.pay_by <= before)
        if status is not None:
            filters.append(InvoiceDeadline.skonto_status == status.value)
        if not include_all:
            filters.append(IntakeItem.state.not_in([s.value for s in DONE_STATES]))
            filters.append(~exists().where(ApprovalCase.item_id == InvoiceDeadline.item_id,
                                           ApprovalCase.status.in_([CaseStatus.APPROVED.value,
                                                                    CaseStatus.REJECTED.value])))
        base = select(InvoiceDeadline, IntakeItem).join(IntakeItem, IntakeItem.id == InvoiceDeadline.item_id)
        total = session.scalar(select(func.count()).select_from(base.where(*filters).subquery()))
        rows = session.execute(base.where(*filters).order_by(
            InvoiceDeadline.money_at_risk_cents.desc(), InvoiceDeadline.pay_by, InvoiceDeadline.item_id)
            .limit(limit)).all()
        units = {u.id: u for u in session.scalars(select(OrgUnit))}
        return {"total": total, "items": [_row_json(row, item, units.get(row.unit_id)) for row, item in rows]}


@router.get("/deadlines")
async def list_deadlines(request: Request, unit: str | None = Query(None, max_length=32), before: date | None = None,
                         status: SkontoStatus | None = None, all: bool = False,  # noqa: A002
                         limit: int = Query(100, ge=1, le=1000)):
    """Deadline rows in inbox order (most money at risk first, then the earliest pay-by date)."""
    body = await run_in_threadpool(_list, get_ctx(request), unit, before, status, all, limit)
    if body is None:
        return JSON({"error": f"unknown unit {unit!r}"}, status_code=404)
    return JSON(body)


def _one(ctx, item_id: int) -> dict[str, Any] | None:
    with ctx.db.read() as session:
        row = session.get(InvoiceDeadline, item_id)
        if row is None:
            return None
        unit = session.get(OrgUnit, row.unit_id) if row.unit_id is not None else None
        return _row_json(row, session.get(IntakeItem, item_id), unit)


@router.get("/invoices/{item_id}/deadlines")
async def invoice_deadlines(item_id: int, request: Request):
    """Skonto terms, due dates, pay-by date, priority, Skonto status and notes of one invoice."""
    body = await run_in_threadpool(_one, get_ctx(request), item_id)
    if body is None:
        return JSON({"error": f"no deadlines for item {item_id} (not parsed yet, or unknown)"}, status_code=404)
    return JSON(body)


def _metrics(ctx, month: str | None, unit: str | None) -> list[dict[str, Any]] | None:
    with ctx.db.read() as session:
        unit_id = None
        if unit:
            found = _unit_by_code(session, unit)
            if found is None:
                return None
            unit_id = found.id
        return [row.to_dict() for row in skonto_metrics(session, month=month, unit_id=unit_id)]


@router.get("/metrics/skonto")
async def skonto_metrics_route(request: Request, month: str | None = Query(None, pattern=r"^\d{4}-\d{2}$"),
                               unit: str | None = Query(None, max_length=32)):
    """Skonto offered, captured, lost and open (EUR, count) per unit and month of the Skonto deadline."""
    try:
        month = parse_month(month)
    except ValueError:
        return JSON({"error": f"invalid month {month!r} (YYYY-MM)"}, status_code=422)
    rows = await run_in_threadpool(_metrics, get_ctx(request), month, unit)
    if rows is None:
        return JSON({"error": f"unknown unit {unit!r}"}, status_code=404)
    return JSON({"month": month, "unit": unit, "rows": rows})
