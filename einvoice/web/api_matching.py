"""The JSON API of cost-centre matching (`/api/v1/...`): API token required; actions name the user (`actor.py`).

- ``GET  /matching/rules``                 the ordered rule set
- ``PUT  /matching/rules``                 replace it (``{"rules": [...]}``, codes for unit/cost centre/account); admin
- ``POST /matching/rules/seed``            replace it from ``rules/routing/matching.toml``; admin
- ``GET  /matching/queue``                 the Rechnungseingangsstelle's manual queue (``?unit_id=&limit=&offset=``)
- ``GET  /invoices/{id}/matching``         current assignment and the history of results
- ``POST /invoices/{id}/match``            re-run matching for one item; rechnungseingang or admin
- ``POST /matching/rerun``                 re-run for all open items (or ``{"item_ids": [...]}``); admin
- ``POST /invoices/{id}/assignment``       manual assignment with a reason; rechnungseingang or admin

Reading needs only the token; actions need ``X-Einvoice-User`` with the role. Errors: 404 unknown
item, 409 item in a state the action does not allow, 422 invalid rules or assignment.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..routing.matching import rules as matching_rules
from ..routing.matching import service
from ..routing.route import continue_routing
from ..store.masterdata_models import CostCentre, User
from ..store.models import IntakeItem
from ..store.routing_models import Assignment, MatchKey, MatchResult
from .actor import acting_user, require_role
from .auth import check_api_token
from .context import JSON, get_ctx

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_api_token)], tags=["matching"])


class RuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    key: MatchKey
    pattern: str | None = Field(None, max_length=256, description="exact or glob (* ?); None: master-data lookup")
    unit: str | None = Field(None, description="unit code (pattern rules)")
    cost_centre: str | None = Field(None, description="cost centre code (pattern rules)")
    account: str | None = Field(None, description="account code (pattern rules)")
    confidence: int = Field(90, ge=0, le=100)
    active: bool = True
    note: str | None = None


class RulesIn(BaseModel):
    rules: list[RuleIn] = Field(description="the whole rule set in evaluation order")


class RerunIn(BaseModel):
    item_ids: list[int] | None = Field(None, description="only these items; default: all open items")


class SplitIn(BaseModel):
    cost_centre_id: int | None = None
    cost_centre: str | None = Field(None, description="code, instead of cost_centre_id")
    account: str | None = None
    amount: Decimal = Field(description="net amount of this part, as a decimal string")
    lines: list[str] = Field(default_factory=list, description="line ids (BT-126)")
    explanation: str | None = None


class AssignmentIn(BaseModel):
    cost_centre_id: int | None = None
    cost_centre: str | None = Field(None, description="code, instead of cost_centre_id")
    unit_id: int | None = Field(None, description="default: the cost centre's unit")
    account: str | None = Field(None, description="default: the cost centre's default account")
    splits: list[SplitIn] | None = None
    reason: str = Field(min_length=1, description="why (shown in the audit trail)")


def _error(status: int, message: str) -> JSON:
    return JSON({"error": message}, status_code=status)


def _actor(user: User) -> str:
    return f"user:{user.username}"


def _assignment(a: Assignment | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"status": a.status, "unit_id": a.unit_id, "cost_centre_id": a.cost_centre_id, "account": a.account,
            "budget_product": a.budget_product, "supplier_id": a.supplier_id, "splits": a.splits,
            "match_result_id": a.match_result_id, "manual": a.manual, "assigned_by": a.assigned_by,
            "assigned_at": a.assigned_at, "reason": a.reason}


def _result(r: MatchResult) -> dict[str, Any]:
    return {"id": r.id, "created_at": r.created_at, "actor": r.actor, "status": r.status, "unit_id": r.unit_id,
            "cost_centre_id": r.cost_centre_id, "account": r.account, "confidence": r.confidence,
            "explanation": r.explanation, "splits": r.splits, "candidates": r.candidates}


def _matching(session, item: IntakeItem) -> dict[str, Any]:
    return {"id": item.id, "state": item.state,
            "assignment": _assignment(service.current_assignment(session, item.id)),
            "results": [_result(r) for r in service.match_results(session, item.id)]}


# --- rules -----------------------------------------------------------------------------------------

@router.get("/matching/rules")
async def get_rules(request: Request):
    def load():
        with get_ctx(request).db.read() as session:
            return matching_rules.rule_dicts(session)
    return JSON({"rules": await run_in_threadpool(load)})


def _replace(request: Request, user: User, definitions: list[dict] | None):
    try:
        with get_ctx(request).db.transaction() as session:
            if definitions is None:
                summary = matching_rules.seed_rules(session, actor=_actor(user))
            else:
                matching_rules.replace_rules(session, definitions, actor=_actor(user), source="request")
                summary = None
            return JSON({"rules": matching_rules.rule_dicts(session), "seed": summary})
    except matching_rules.RuleError as exc:
        return _error(422, str(exc))


@router.put("/matching/rules")
async def put_rules(body: RulesIn, request: Request, user: User = Depends(acting_user)):
    require_role(user, "admin")
    definitions = [rule.model_dump() for rule in body.rules]
    return await run_in_threadpool(_replace, request, user, definitions)


@router.post("/matching/rules/seed")
async def seed_rules(request: Request, user: User = Depends(acting_user)):
    require_role(user, "admin")
    return await run_in_threadpool(_replace, request, user, None)


# --- queue, history, runs --------------------------------------------------------------------------

@router.get("/matching/queue")
async def queue(request: Request, unit_id: int | None = None, limit: int = Query(100, ge=1, le=1000),
                offset: int = Query(0, ge=0)):
    def load():
        with get_ctx(request).db.read() as session:
            items = service.manual_queue(session, unit_id=unit_id, limit=limit, offset=offset)
            ids = [item.id for item in items]
            units = dict(session.execute(select(Assignment.item_id, Assignment.unit_id)
                                         .where(Assignment.item_id.in_(ids))).all())
            newest = {}
            for result in session.scalars(select(MatchResult).where(MatchResult.item_id.in_(ids))
                                          .order_by(MatchResult.id)):
                newest[result.item_id] = result
            return [{"id": item.id, "received_at": item.received_at, "invoice_number": item.invoice_number,
                     "seller_name": item.seller_name, "issue_date": item.issue_date,
                     "suggested_unit_id": units.get(item.id),
                     "confidence": newest[item.id].confidence if item.id in newest else None,
                     "explanation": newest[item.id].explanation if item.id in newest else None} for item in items]
    return JSON({"items": await run_in_threadpool(load), "limit": limit, "offset": offset})


@router.get("/invoices/{item_id}/matching")
async def item_matching(item_id: int, request: Request):
    def load():
        with get_ctx(request).db.read() as session:
            item = session.get(IntakeItem, item_id)
            return None if item is None else _matching(session, item)
    body = await run_in_threadpool(load)
    return JSON(body) if body is not None else _error(404, f"no invoice #{item_id}")


def _on_item(request: Request, item_id: int, action) -> JSON:
    try:
        with get_ctx(request).db.transaction() as session:
            item = session.get(IntakeItem, item_id)
            if item is None:
                return _error(404, f"no invoice #{item_id}")
            action(session, item)
            continue_routing(session, [item])  # now matched: deadlines for the unit, approval starts
            return JSON(_matching(session, item))
    except service.WrongState as exc:
        return _error(409, str(exc))
    except service.InvalidAssignment as exc:
        return _error(422, str(exc))


@router.post("/invoices/{item_id}/match")
async def match_one(item_id: int, request: Request, user: User = Depends(acting_user)):
    require_role(user, "rechnungseingang", "admin")
    return await run_in_threadpool(
        _on_item, request, item_id, lambda session, item: service.match_item(session, item, actor=_actor(user)))


@router.post("/matching/rerun")
async def rerun_all(request: Request, body: RerunIn | None = None, user: User = Depends(acting_user)):
    require_role(user, "admin")

    def run():
        with get_ctx(request).db.transaction() as session:
            counts = service.rerun(session, actor=_actor(user), item_ids=body.item_ids if body else None)
            counts["route_jobs_queued"] = continue_routing(session)
            return counts
    return JSON(await run_in_threadpool(run))


@router.post("/invoices/{item_id}/assignment")
async def assign(item_id: int, body: AssignmentIn, request: Request, user: User = Depends(acting_user)):
    require_role(user, "rechnungseingang", "admin")

    def action(session, item):
        cost_centre_id = body.cost_centre_id
        if cost_centre_id is None and body.cost_centre:
            cost_centre_id = session.scalar(select(CostCentre.id).where(CostCentre.code == body.cost_centre))
        if cost_centre_id is None:
            raise service.InvalidAssignment("give cost_centre_id or a known cost_centre code")
        splits = [split.model_dump() for split in body.splits] if body.splits else None
        service.assign_manually(session, item, actor=_actor(user), unit_id=body.unit_id,
                                cost_centre_id=cost_centre_id, account=body.account, splits=splits,
                                reason=body.reason)
    return await run_in_threadpool(_on_item, request, item_id, action)
