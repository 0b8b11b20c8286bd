"""The JSON API of the approval workflow (`/api/v1/...`): API token required; actions name the user
(``X-Einvoice-User``, `actor.py`).

- ``GET /workflows``: every workflow (definition format, unit/cost centre as codes).
- ``PUT /workflows`` (admin): replace the workflows by the body ``{"workflows": [...]}`` (schema:
  `einvoice.routing.workflow.definitions`); 422 with ``problems`` when invalid.
- ``POST /workflows/seed`` (admin): replace them by ``rules/routing/workflows.toml``.
- ``GET /tasks``: the acting user's inbox (`tasks_for`), by Skonto priority.
- ``GET /invoices/{id}/approval``: the item's latest case: steps with who/when/for whom/decision/
  reason, comments, alerts, the version to send back, who may decide the open step today.
- ``POST /invoices/{id}/approval/start`` (rechnungseingang/admin; normally the route job starts it).
- ``POST /invoices/{id}/approval/{action}`` with ``{"expected_version", "reason", "payable_amount",
  "unit", "iban", "payee_name", "case_id"}``; actions: approve, return, reject, park, unpark,
  payable, clear-iban-alert, forward, reassign (starts the new case at once), comment, reopen
  (reopen the Anordnung of an approved case, optionally with a new payable amount / IBAN / payee).
  Answers the case as ``GET …/approval`` does. Errors ``{"error": "<German message>"}``: 403 not
  allowed / four-eyes, 404 no case, 409 stale version or closed case ("… inzwischen von X
  bearbeitet – bitte neu laden"), 422 missing reason or bad input.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..intake.states import audit
from ..routing import workflow as wf
from ..routing.clock import SYSTEM_CLOCK, today
from ..routing.workflow.cases import active_case, latest_case
from ..routing.workflow.definitions import replace_workflows, workflow_dict
from ..store.masterdata_models import User
from ..store.models import IntakeItem
from ..store.routing_models import Workflow
from .actor import acting_user, require_role
from .auth import check_api_token
from .context import JSON, get_ctx

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_api_token)], tags=["workflow"])

Amount = Decimal | int | str


class StepBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="sachlich | rechnerisch | anordnung")
    name: str | None = None
    role: str | None = Field(None, description="role needed in the step's unit (default approver)")
    unit: str | None = Field(None, description="OrgUnit code deciding the step (default: the invoice's unit)")
    needs_limit: bool | None = Field(None, description="approval_limit must cover |BT-115| (default: anordnung)")
    only_above: Amount | None = Field(None, description="the step exists only above this gross amount")
    auto: str | None = Field(None, description='"arithmetic": rechnerisch done by the arithmetic check')
    person_above: Amount | None = Field(None, description="with auto: a person decides above this amount")


class RulesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    four_eyes: str | None = Field(None, description="hard | warn")
    supplier_conflict: str | None = Field(None, description="block | off")
    iban_check: str | None = Field(None, description="alert | differs | off")


class WorkflowBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    position: int = 100
    unit: str | None = None
    cost_centre: str | None = None
    min_amount: Amount | None = None
    active: bool = True
    rules: RulesBody | None = None
    steps: list[StepBody]


class WorkflowsBody(BaseModel):
    workflows: list[WorkflowBody]


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expected_version: int | None = Field(None, description="the case version the user saw (all but comment)")
    case_id: int | None = Field(None, description="the case the user saw (optional safety check)")
    reason: str | None = Field(None, max_length=4000, description="mandatory for all but approve/unpark")
    payable_amount: Amount | None = Field(None, description="payable / reopen: the corrected payable amount")
    unit: str | None = Field(None, description="forward / reassign: OrgUnit code")
    iban: str | None = Field(None, description="reopen: a new payee IBAN")
    payee_name: str | None = Field(None, description="reopen: a new payee name")


ACTIONS = {"approve": wf.approve, "return": wf.return_to_previous, "reject": wf.reject_to_supplier, "park": wf.park,
           "unpark": wf.unpark, "payable": wf.set_payable, "clear-iban-alert": wf.clear_iban_alert,
           "forward": wf.forward, "reassign": wf.reassign, "comment": wf.comment, "reopen": wf.reopen_anordnung}


def _error(exc: wf.WorkflowError) -> JSON:
    body: dict[str, Any] = {"error": exc.message}
    if isinstance(exc, wf.DefinitionError):
        body["problems"] = exc.problems
    return JSON(body, status_code=exc.status)


def _view(session, item_id: int) -> dict:
    case = latest_case(session, item_id)
    if case is None:
        raise wf.NotFound(f"Rechnung #{item_id} hat keine Freigabe")
    return wf.case_view(session, case, on=today())


def _list_workflows(ctx) -> list[dict]:
    with ctx.db.read() as session:
        rows = session.scalars(select(Workflow).order_by(Workflow.position, Workflow.id))
        return [workflow_dict(session, row) for row in rows]


@router.get("/workflows")
async def list_workflows(request: Request):
    """Every workflow, active or not, in the order they are tried."""
    return JSON({"workflows": await run_in_threadpool(_list_workflows, get_ctx(request))})


def _replace(ctx, definitions: list[dict] | None) -> dict:
    definitions = wf.load_file() if definitions is None else wf.validate_workflows(definitions)
    with ctx.db.transaction() as session:
        return replace_workflows(session, definitions)


async def _replace_route(request: Request, user: User, definitions: list[dict] | None):
    require_role(user, "admin")
    try:
        counts = await run_in_threadpool(_replace, get_ctx(request), definitions)
    except wf.WorkflowError as exc:
        return _error(exc)
    return JSON({**counts, "workflows": await run_in_threadpool(_list_workflows, get_ctx(request))})


@router.put("/workflows")
async def put_workflows(body: WorkflowsBody, request: Request, user: User = Depends(acting_user)):
    """Replace the workflows (admin): same names are updated, new ones created, the others deactivated."""
    return await _replace_route(request, user, [w.model_dump(exclude_none=True) for w in body.workflows])


@router.post("/workflows/seed")
async def seed_workflows(request: Request, user: User = Depends(acting_user)):
    """Replace the workflows by ``rules/routing/workflows.toml`` (admin)."""
    return await _replace_route(request, user, None)


def _tasks(ctx, user: User) -> list[dict]:
    with ctx.db.read() as session:
        return [task.to_dict() for task in wf.tasks_for(session, user, today())]


@router.get("/tasks")
async def tasks(request: Request, user: User = Depends(acting_user)):
    """The acting user's inbox: open steps they may decide today (own or as substitute), by priority."""
    return JSON({"user": user.username, "tasks": await run_in_threadpool(_tasks, get_ctx(request), user)})


def _read(ctx, item_id: int) -> dict:
    with ctx.db.read() as session:
        return _view(session, item_id)


@router.get("/invoices/{item_id}/approval")
async def approval(item_id: int, request: Request):
    """The item's approval case (latest): steps, decisions, comments, alerts, version."""
    try:
        return JSON(await run_in_threadpool(_read, get_ctx(request), item_id))
    except wf.WorkflowError as exc:
        return _error(exc)


def _start(ctx, item_id: int, user: User) -> dict:
    with ctx.db.transaction() as session:
        item = session.get(IntakeItem, item_id, with_for_update=True)
        if item is None:
            raise wf.NotFound(f"Rechnung #{item_id} nicht gefunden")
        wf.start_case(session, item, actor=f"user:{user.username}")
        return _view(session, item_id)


@router.post("/invoices/{item_id}/approval/start", status_code=201)
async def start(item_id: int, request: Request, user: User = Depends(acting_user)):
    """Start the approval of a matched invoice (rechnungseingang/admin; normally automatic)."""
    require_role(user, "rechnungseingang", "admin")
    try:
        return JSON(await run_in_threadpool(_start, get_ctx(request), item_id, user), status_code=201)
    except wf.WorkflowError as exc:
        return _error(exc)


def _reassign_and_start(session, case_id: int, **kwargs):
    """Reassign, then start the new case in the same transaction (no fitting workflow: stays matched)."""
    case = wf.reassign(session, case_id, **kwargs)
    item = session.get(IntakeItem, case.item_id)
    try:
        return wf.start_case(session, item, actor=f"user:{kwargs['user'].username}", clock=kwargs["clock"])
    except wf.NoWorkflow as exc:
        audit(item, actor=f"user:{kwargs['user'].username}", event="workflow",
              reason=f"Kein passender Freigabe-Workflow: {exc.message}")
        return case


def _act(ctx, item_id: int, action: str, body: ActionBody, user: User) -> dict:
    with ctx.db.read() as session:
        case = active_case(session, item_id) or latest_case(session, item_id)  # closed: the decision refuses
        if case is None:
            raise wf.NotFound(f"Rechnung #{item_id} hat keine Freigabe")
        if body.case_id is not None and body.case_id != case.id:
            raise wf.Conflict("Die Freigabe dieser Rechnung wurde inzwischen neu gestartet – bitte neu laden")
    if body.expected_version is None and action != "comment":
        raise wf.InvalidInput("expected_version fehlt (die Version der Freigabe, die Sie gesehen haben)")
    kwargs: dict[str, Any] = {"user": user, "expected_version": body.expected_version, "reason": body.reason,
                              "clock": SYSTEM_CLOCK}
    if action in ("payable", "reopen"):
        kwargs["payable_amount"] = body.payable_amount
    if action in ("forward", "reassign"):
        kwargs["unit"] = body.unit
    if action == "reopen":
        kwargs.update(payee_iban=body.iban, payee_name=body.payee_name)
    fn = _reassign_and_start if action == "reassign" else ACTIONS[action]
    wf.run_decision(ctx.db, fn, case.id, **kwargs)
    return _read(ctx, item_id)


@router.post("/invoices/{item_id}/approval/{action}")
async def act(item_id: int, action: str, body: ActionBody, request: Request, user: User = Depends(acting_user)):
    """Decide on the open step or change the case: see the module docstring for the actions."""
    if action not in ACTIONS:
        return JSON({"error": f"unknown action {action!r}: {', '.join(sorted(ACTIONS))}"}, status_code=404)
    try:
        return JSON(await run_in_threadpool(_act, get_ctx(request), item_id, action, body, user))
    except wf.WorkflowError as exc:
        return _error(exc)
