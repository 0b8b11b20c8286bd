"""The JSON API of booking batches for the Kämmerei (`/api/v1/exports/bookings…`).

API token required, and the acting person (``X-Einvoice-User``, `actor.py`): reading needs the role
``kaemmerei``, ``admin`` or ``kasse``; creating, booking and cancelling ``kaemmerei`` or ``admin``.

- ``POST /exports/bookings`` ``{"format": "csv"|"json", "mapping": "generic", "item_ids": [..]}``: a batch of
  every approved, not yet exported invoice (or of the given ones) → 201 with the batch as ``GET
  /exports/bookings/{id}`` shows it; nothing to export → 200 ``{"created": false, "message": …}``.
- ``GET /exports/bookings?status=&limit=``: batches, newest first.
- ``GET /exports/bookings/{id}``: metadata, counts, control total (Kontrollsumme) and totals per
  currency, VAT group and document type.
- ``GET /exports/bookings/{id}/file``: the stored file byte for byte (its content type, file name and
  ``X-Content-SHA256``).
- ``POST /exports/bookings/{id}/booked``: the Kämmerei booked it (created → booked).
- ``POST /exports/bookings/{id}/cancel`` ``{"reason": "…"}`` (mandatory): created → cancelled, the
  invoices are approved again; a booked batch is not cancelled (409: a correction is a Storno in the
  finance system).

Errors ``{"error": "<German message>"}``: 403 role, 404 unknown batch, 409 conflict (state, invoices
not ready, a concurrent export), 422 bad input (missing reason, unknown mapping or format).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..handoff.bookings import batches as b
from ..handoff.bookings.errors import BookingError
from ..store.handoff_models import BatchStatus
from ..store.masterdata_models import User
from .actor import acting_user, require_role
from .auth import check_api_token
from .context import JSON, get_ctx

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_api_token)], tags=["bookings"])

WRITE_ROLES = ("kaemmerei", "admin")
READ_ROLES = ("kaemmerei", "admin", "kasse")


class BookingExportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["csv", "json"] = Field("csv", description="csv (shaped by the mapping) or json (every field)")
    mapping: str = Field("generic", pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
                         description="column mapping rules/export/<mapping>.toml (CSV only)")
    item_ids: list[int] | None = Field(None, max_length=100_000,
                                       description="only these invoices (all must be ready); default: all ready")


class BookingCancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=4000, description="why the batch is cancelled (mandatory)")


def _error(exc: BookingError) -> JSON:
    return JSON({"error": exc.message}, status_code=exc.status)


def _actor(user: User) -> str:
    return f"user:{user.username}"


def _create(ctx, body: BookingExportBody, actor: str):
    with ctx.db.transaction() as session:
        batch = b.create_batch(session, ctx.db.blobs, actor=actor, format=body.format, mapping=body.mapping,
                               item_ids=body.item_ids)
        return b.batch_dict(batch) if batch is not None else None


@router.post("/exports/bookings", status_code=201)
async def create_booking_batch(body: BookingExportBody, request: Request, user: User = Depends(acting_user)):
    """Create a booking batch of the approved, not yet exported invoices (Kämmerei)."""
    require_role(user, *WRITE_ROLES)
    try:
        batch = await run_in_threadpool(_create, get_ctx(request), body, _actor(user))
    except BookingError as exc:
        return _error(exc)
    if batch is None:
        return JSON({"created": False, "message": "Keine freigegebenen, noch nicht exportierten Rechnungen"},
                    status_code=200)
    return JSON(batch, status_code=201)


def _list(ctx, status: str | None, limit: int) -> list[dict]:
    with ctx.db.read() as session:
        return [b.batch_dict(batch) for batch in b.list_batches(session, status=status, limit=limit)]


@router.get("/exports/bookings")
async def list_booking_batches(request: Request, status: BatchStatus | None = None,
                               limit: int = Query(100, ge=1, le=1000), user: User = Depends(acting_user)):
    """Booking batches, newest first."""
    require_role(user, *READ_ROLES)
    rows = await run_in_threadpool(_list, get_ctx(request), status.value if status else None, limit)
    return JSON({"batches": rows})


def _one(ctx, batch_id: int) -> dict:
    with ctx.db.read() as session:
        return b.batch_dict(b.get_batch(session, batch_id))


@router.get("/exports/bookings/{batch_id}")
async def get_booking_batch(batch_id: int, request: Request, user: User = Depends(acting_user)):
    """One batch: status, counts, file, control total and totals."""
    require_role(user, *READ_ROLES)
    try:
        return JSON(await run_in_threadpool(_one, get_ctx(request), batch_id))
    except BookingError as exc:
        return _error(exc)


def _file(ctx, batch_id: int) -> tuple[bytes, dict]:
    meta = _one(ctx, batch_id)
    return b.batch_file(ctx.db, batch_id), meta


@router.get("/exports/bookings/{batch_id}/file")
async def booking_batch_file(batch_id: int, request: Request, user: User = Depends(acting_user)):
    """The batch's file exactly as created."""
    require_role(user, *READ_ROLES)
    try:
        data, meta = await run_in_threadpool(_file, get_ctx(request), batch_id)
    except BookingError as exc:
        return _error(exc)
    return Response(data, media_type=meta["content_type"],
                    headers={"Content-Disposition": f'attachment; filename="{meta["file_name"]}"',
                             "X-Content-SHA256": meta["sha256"]})


def _book(ctx, batch_id: int, actor: str) -> dict:
    with ctx.db.transaction() as session:
        return b.batch_dict(b.mark_booked(session, batch_id, actor=actor))


@router.post("/exports/bookings/{batch_id}/booked")
async def book_booking_batch(batch_id: int, request: Request, user: User = Depends(acting_user)):
    """Mark the batch booked in the finance system."""
    require_role(user, *WRITE_ROLES)
    try:
        return JSON(await run_in_threadpool(_book, get_ctx(request), batch_id, _actor(user)))
    except BookingError as exc:
        return _error(exc)


def _cancel(ctx, batch_id: int, actor: str, reason: str | None) -> dict:
    with ctx.db.transaction() as session:
        return b.batch_dict(b.cancel_batch(session, batch_id, actor=actor, reason=reason))


@router.post("/exports/bookings/{batch_id}/cancel")
async def cancel_booking_batch(batch_id: int, request: Request, body: BookingCancelBody | None = None,
                               user: User = Depends(acting_user)):
    """Cancel a batch that is not booked: its invoices are ready for the next export."""
    require_role(user, *WRITE_ROLES)
    try:
        return JSON(await run_in_threadpool(_cancel, get_ctx(request), batch_id, _actor(user),
                                           body.reason if body else None))
    except BookingError as exc:
        return _error(exc)
