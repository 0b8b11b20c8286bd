"""The JSON API of handoff/payments (`/api/v1/...`): API token required; actions name the user (`actor.py`).

- ``POST /exports/payments`` (kaemmerei/admin) with ``{"execution_date": "YYYY-MM-DD", "item_ids":
  [..] | null}`` (null: every open approved invoice): makes a SEPA payment run (pain.001.001.09).
  201 ``{"run": {... "entries": [...]}, "skipped": [{"item_id", "code", "reason"}], "explanations":
  {item_id: text}}``. 422 ``{"error", "details"}`` when nothing is payable (each reason) or the date is
  in the past, 409 when an invoice went into another run at the same time, 503 when the debtor account
  (``EINVOICE_DEBTOR_NAME``/``_IBAN``/``_BIC``) is missing or invalid.
- ``GET /exports/payments`` (kaemmerei/kasse/admin; ``?status=created|cancelled``): the runs, newest first.
- ``GET /exports/payments/{id}`` (kaemmerei/kasse/admin): one run with its entries.
- ``GET /exports/payments/{id}/file`` (kaemmerei/kasse/admin): the pain.001 file, byte for byte as
  stored (``application/xml``, attachment; header ``X-Content-SHA256``).
- ``POST /exports/payments/{id}/cancel`` (kaemmerei/admin) with ``{"reason"}``: cancel the run; its
  invoices can be paid again. 409 if already cancelled, 404 unknown run.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..handoff.payments.errors import PaymentError
from ..store.masterdata_models import User
from .actor import acting_user, require_role
from .auth import check_api_token
from .context import JSON, get_ctx

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_api_token)], tags=["payments"])

MAKERS = ("kaemmerei", "admin")
READERS = ("kaemmerei", "kasse", "admin")


class PaymentRunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    execution_date: date = Field(description="requested execution date (ReqdExctnDt), not in the past")
    item_ids: list[int] | None = Field(None, description="the invoices (intake item ids); null: every open one")


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=4000, description="why the run is cancelled")


def _error(exc: PaymentError) -> JSON:
    return JSON(exc.to_json(), status_code=exc.status)


def _create(ctx, user: User, body: PaymentRunBody) -> dict:
    from ..handoff.payments.runs import create_run, run_json

    with ctx.db.transaction() as session:
        result = create_run(session, ctx.db.blobs, actor=f"user:{user.username}", execution_date=body.execution_date,
                            item_ids=body.item_ids, settings=ctx.settings)
        return {"run": run_json(result.run, result.entries), "skipped": [s.to_json() for s in result.skipped],
                "explanations": {str(k): v.explanation for k, v in result.amounts.items()}}


@router.post("/exports/payments", status_code=201)
async def create_payment_run(body: PaymentRunBody, request: Request, user: User = Depends(acting_user)):
    """Make a SEPA payment run of approved invoices (Skonto deducted only up to its deadline)."""
    require_role(user, *MAKERS)
    try:
        return JSON(await run_in_threadpool(_create, get_ctx(request), user, body), status_code=201)
    except PaymentError as exc:
        return _error(exc)


def _list(ctx, status: str | None) -> list[dict]:
    from ..handoff.payments.runs import list_runs, run_json

    with ctx.db.read() as session:
        return [run_json(run) for run in list_runs(session, status=status)]


@router.get("/exports/payments")
async def payment_runs(request: Request, status: Literal["created", "cancelled"] | None = None,
                       user: User = Depends(acting_user)):
    """The payment runs, newest first."""
    require_role(user, *READERS)
    return JSON({"runs": await run_in_threadpool(_list, get_ctx(request), status)})


def _one(ctx, run_id: int) -> dict:
    from ..handoff.payments.runs import get_run, run_entries, run_json

    with ctx.db.read() as session:
        return run_json(get_run(session, run_id), run_entries(session, run_id))


@router.get("/exports/payments/{run_id}")
async def payment_run(run_id: int, request: Request, user: User = Depends(acting_user)):
    """One payment run with its transfers."""
    require_role(user, *READERS)
    try:
        return JSON(await run_in_threadpool(_one, get_ctx(request), run_id))
    except PaymentError as exc:
        return _error(exc)


def _file(ctx, run_id: int):
    from ..handoff.payments.runs import run_file

    with ctx.db.read() as session:
        run, data = run_file(session, ctx.db.blobs, run_id)
        return run.file_name, run.sha256, data


@router.get("/exports/payments/{run_id}/file")
async def payment_file(run_id: int, request: Request, user: User = Depends(acting_user)):
    """The pain.001 file of a run, exactly as written."""
    require_role(user, *READERS)
    try:
        name, sha, data = await run_in_threadpool(_file, get_ctx(request), run_id)
    except PaymentError as exc:
        return _error(exc)
    return Response(data, media_type="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Content-SHA256": sha})


def _cancel(ctx, user: User, run_id: int, reason: str) -> dict:
    from ..handoff.payments.runs import cancel_run, run_entries, run_json

    with ctx.db.transaction() as session:
        run = cancel_run(session, run_id, actor=f"user:{user.username}", reason=reason)
        return run_json(run, run_entries(session, run_id))


@router.post("/exports/payments/{run_id}/cancel")
async def cancel_payment_run(run_id: int, body: CancelBody, request: Request, user: User = Depends(acting_user)):
    """Cancel a payment run (only if the bank has not executed the file): its invoices become payable again."""
    require_role(user, *MAKERS)
    try:
        return JSON(await run_in_threadpool(_cancel, get_ctx(request), user, run_id, body.reason))
    except PaymentError as exc:
        return _error(exc)
