"""The JSON API of handoff/archive (`/api/v1/...`): API token required; actions name the user (`actor.py`).

- ``POST /archive`` (kaemmerei/admin), body ``{"item_id": ID}`` or ``{}``: archive that finished
  invoice, or every one that is due, to ``EINVOICE_ARCHIVE_TARGET``. Answers ``{"archived": [...],
  "failed": {id: error}, "skipped": {id: why}, "packages": [...]}``; 409 when the one item is not
  finished or already archived, 502 when its delivery failed (recorded), 503 without a target.
- ``GET /archive?item_id=&status=delivered|failed&limit=100``: archive packages, newest first.
- ``POST /archive/verify`` (kaemmerei/admin), body ``{"item_id": ID}`` or ``{}``: re-check delivered
  packages (manifest hashes, originals against the blob store); ``{"checked", "ok", "problems":
  {package id: [...]}}``.
- ``GET /invoices/{id}/archive``: the item's state and its archive packages (404 unknown item).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..handoff.archive.service import ArchiveError, UnknownItem, archive_due, archive_item, package_json, verify_all
from ..handoff.archive.targets import TargetError, target_from_setting
from ..store.handoff_models import ArchivePackage
from ..store.masterdata_models import User
from ..store.models import IntakeItem
from .actor import acting_user, require_role
from .auth import check_api_token
from .context import JSON, get_ctx

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_api_token)], tags=["archive"])

ROLES = ("kaemmerei", "admin")


class ArchiveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: int | None = Field(None, description="archive only this finished invoice (default: every one due)")


def _error(status: int, message: str) -> JSON:
    return JSON({"error": message}, status_code=status)


def _archive(ctx, item_id: int | None, actor: str) -> JSON:
    try:
        target = target_from_setting(ctx.settings.archive_target)
    except TargetError as exc:
        return _error(503, str(exc))
    if item_id is None:
        run = archive_due(ctx.db, actor=actor, target=target, settings=ctx.settings)
        archived = run.archived
        body: dict[str, Any] = run.to_dict()
    else:
        try:
            archive_item(ctx.db, item_id, actor=actor, target=target, settings=ctx.settings)
        except ArchiveError as exc:
            return _error(404 if isinstance(exc, UnknownItem) else 409, str(exc))
        except Exception as exc:  # recorded as a failed package
            return _error(502, f"Archivierung fehlgeschlagen: {exc}")
        archived = [item_id]
        body = {"archived": archived, "failed": {}, "skipped": {}}
    with ctx.db.read() as session:
        rows = session.scalars(select(ArchivePackage).where(ArchivePackage.item_id.in_(archived),
                                                            ArchivePackage.status == "delivered")
                               .order_by(ArchivePackage.id)) if archived else []
        body["packages"] = [package_json(row) for row in rows]
    return JSON(body)


@router.post("/archive", summary="archive finished invoices to the DMS target")
async def post_archive(request: Request, body: ArchiveBody | None = None, user: User = Depends(acting_user)):
    require_role(user, *ROLES)
    return await run_in_threadpool(_archive, get_ctx(request), body.item_id if body else None, f"user:{user.username}")


def _list(ctx, item_id: int | None, status: str | None, limit: int) -> dict[str, Any]:
    with ctx.db.read() as session:
        stmt = select(ArchivePackage)
        if item_id is not None:
            stmt = stmt.where(ArchivePackage.item_id == item_id)
        if status:
            stmt = stmt.where(ArchivePackage.status == status)
        rows = session.scalars(stmt.order_by(ArchivePackage.id.desc()).limit(limit))
        return {"packages": [package_json(row) for row in rows]}


@router.get("/archive", summary="archive packages, newest first")
async def get_archive(request: Request, item_id: int | None = None,
                      status: str | None = Query(None, pattern="^(delivered|failed)$"),
                      limit: int = Query(100, ge=1, le=1000)):
    return JSON(await run_in_threadpool(_list, get_ctx(request), item_id, status, limit))


def _verify(ctx, item_id: int | None) -> JSON:
    try:
        target = target_from_setting(ctx.settings.archive_target)
    except TargetError as exc:
        return _error(503, str(exc))
    outcome = verify_all(ctx.db, targets={target.name: target}, item_id=item_id)
    problems = {str(pid): found for pid, found in outcome.items() if found}
    return JSON({"checked": len(outcome), "ok": not problems, "problems": problems})


@router.post("/archive/verify", summary="re-check delivered archive packages")
async def post_verify(request: Request, body: ArchiveBody | None = None, user: User = Depends(acting_user)):
    require_role(user, *ROLES)
    return await run_in_threadpool(_verify, get_ctx(request), body.item_id if body else None)


def _of_item(ctx, item_id: int) -> JSON:
    with ctx.db.read() as session:
        item = session.get(IntakeItem, item_id)
        if item is None:
            return _error(404, f"Rechnung #{item_id} gibt es nicht")
        rows = session.scalars(select(ArchivePackage).where(ArchivePackage.item_id == item_id)
                               .order_by(ArchivePackage.id))
        return JSON({"item_id": item_id, "state": item.state, "packages": [package_json(row) for row in rows]})


@router.get("/invoices/{item_id}/archive", summary="the archive packages of one invoice")
async def get_item_archive(request: Request, item_id: int):
    return await run_in_threadpool(_of_item, get_ctx(request), item_id)
