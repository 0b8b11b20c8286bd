"""The JSON API of master data (`/api/v1/masterdata/...`): API token required; changes by an admin
named in ``X-Einvoice-User`` (`actor.py`).

Per kind ``K`` of `einvoice.routing.masterdata.KINDS` (units, accounts, cost_centres, leitweg_ids,
suppliers, orders, contracts, users, substitutions, supplier_links):

- ``GET /masterdata`` — the kinds with their columns.
- ``GET /masterdata/K?page=&per_page=`` — rows as JSON, in natural-key order, paginated.
- ``GET /masterdata/K.csv[?decimal_comma=true&bom=true]`` — the CSV export (re-importable).
- ``GET /masterdata/K/{key}`` — one row (composite keys: parts joined with ``|``).
- ``POST /masterdata/K/import`` (admin) — a CSV file as the raw body or as the multipart part
  ``file``: 200 with the counts, or 422 with every error and its line; nothing is written then.
- ``POST /masterdata/K`` (admin) — create one row from JSON (201; 409 if the key exists).
- ``PUT /masterdata/K/{key}`` (admin) — change the given fields (key fields cannot change);
  there is no DELETE: ``{"active": false}`` deactivates where the kind has ``active``.

JSON values pass the same checks as CSV cells; errors are 422 ``{"error", "errors": [{line,
column, value, message}]}``. Amounts are strings in JSON output (exact decimals).
"""

import math
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ConfigDict, create_model
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from ..routing.masterdata import service
from ..routing.masterdata.csv_io import encode
from ..routing.masterdata.exporter import export_csv
from ..routing.masterdata.importer import ImportResult, import_csv
from ..routing.masterdata.kinds import KINDS, Kind
from ..store.masterdata_models import User
from .actor import acting_user, require_role
from .auth import check_api_token
from .context import JSON, get_ctx

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_api_token)], tags=["masterdata"])

_TYPES = {"amount": Decimal, "date": date, "bool": bool, "list": list[str]}


def _body_model(kind: Kind, *, create: bool):
    fields: dict[str, Any] = {}
    for column in kind.columns:
        annotation = _TYPES.get(column.type.name, str) | None
        fields[column.name] = (annotation, ... if create and column.required else None)
    name = "".join(part.title() for part in kind.name.split("_")) + ("Create" if create else "Update")
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


def _error(status: int, message: str, errors: list | None = None, **extra) -> JSON:
    body = {"error": message, **extra}
    if errors is not None:
        body["errors"] = [error.to_dict() for error in errors]
    return JSON(body, status_code=status)


def _import_response(result: ImportResult) -> JSON:
    if result.ok:
        return JSON(result.to_dict())
    return _error(422, f"Import abgelehnt: {len(result.errors)} Fehler, nichts gespeichert", result.errors,
                  kind=result.kind, created=0, updated=0, unchanged=0)


_IMPORT_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                                       "required": ["file"]}}}}}


def _register(kind: Kind) -> None:
    base = f"/masterdata/{kind.name}"
    create_body, update_body = _body_model(kind, create=True), _body_model(kind, create=False)

    async def list_rows(request: Request, page: int = Query(1, ge=1, le=1_000_000),
                        per_page: int = Query(50, ge=1, le=500)):
        ctx = get_ctx(request)

        def load():
            with ctx.db.read() as session:
                return service.list_rows(session, kind.name, page=page, per_page=per_page)

        total, rows = await run_in_threadpool(load)
        pages = max(1, math.ceil(total / per_page))

        def link(number: int) -> str:
            return str(request.url.include_query_params(page=number, per_page=per_page))

        return JSON({"kind": kind.name, "items": rows, "page": page, "per_page": per_page, "total": total,
                     "pages": pages, "next": link(page + 1) if page < pages else None,
                     "prev": link(page - 1) if page > 1 else None})

    async def export(request: Request, decimal_comma: bool = False, bom: bool = False):
        ctx = get_ctx(request)

        def load():
            with ctx.db.read() as session:
                return export_csv(session, kind.name, decimal_comma=decimal_comma)

        text = await run_in_threadpool(load)
        return Response(encode(text, bom=bom), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{kind.name}.csv"'})

    async def get_one(request: Request, key: str):
        ctx = get_ctx(request)

        def load():
            with ctx.db.read() as session:
                return service.get_row(session, kind.name, key)

        try:
            return JSON(await run_in_threadpool(load))
        except service.NotFound as exc:
            return _error(404, str(exc))

    async def import_file(request: Request, user: User = Depends(acting_user)):
        require_role(user, "admin")
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return _error(422, "multipart/form-data braucht die Datei im Feld 'file'")
            data = await upload.read()
        else:
            data = await request.body()
        ctx = get_ctx(request)

        def run():
            with ctx.db.transaction() as session:
                return import_csv(session, kind.name, data, actor=f"user:{user.username}")

        return _import_response(await run_in_threadpool(run))

    async def create(request: Request, body: create_body, user: User = Depends(acting_user)):
        require_role(user, "admin")
        return await _save(request, lambda session: service.create_row(
            session, kind.name, body.model_dump(exclude_unset=True), actor=f"user:{user.username}"), 201)

    async def update(request: Request, key: str, body: update_body, user: User = Depends(acting_user)):
        require_role(user, "admin")
        return await _save(request, lambda session: service.update_row(
            session, kind.name, key, body.model_dump(exclude_unset=True), actor=f"user:{user.username}"), 200)

    title = kind.title
    router.add_api_route(base, list_rows, methods=["GET"], summary=f"{title}: list")
    router.add_api_route(f"{base}.csv", export, methods=["GET"], summary=f"{title}: CSV export",
                         response_class=Response)
    router.add_api_route(f"{base}/import", import_file, methods=["POST"], summary=f"{title}: CSV import (admin)",
                         openapi_extra=_IMPORT_BODY)
    router.add_api_route(base, create, methods=["POST"], summary=f"{title}: create one (admin)", status_code=201)
    router.add_api_route(f"{base}/{{key:path}}", get_one, methods=["GET"], summary=f"{title}: one row")
    router.add_api_route(f"{base}/{{key:path}}", update, methods=["PUT"], summary=f"{title}: change one (admin)")


async def _save(request: Request, action, status: int) -> JSON:
    ctx = get_ctx(request)

    def run():
        with ctx.db.transaction() as session:
            return action(session)

    try:
        return JSON(await run_in_threadpool(run), status_code=status)
    except service.NotFound as exc:
        return _error(404, str(exc))
    except service.AlreadyExists as exc:
        return _error(409, str(exc))
    except service.InvalidRow as exc:
        return _error(422, "ungültige Werte", exc.errors)


@router.get("/masterdata", summary="master data kinds and their columns")
async def kinds_overview():
    return JSON({"kinds": service.describe_kinds()})


for _kind in KINDS:
    _register(_kind)
