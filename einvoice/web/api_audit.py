"""Export of one invoice's hash-chained audit trail (`einvoice.store.audit_chain.export_item`), for admins.

- ``GET /api/v1/invoices/{id}/audit`` (API token + ``X-Einvoice-User`` with role admin or kaemmerei):
  the export document (format ``einvoice-audit-export/1``: item, events with seq, prev_hash and hash,
  final hash, export time, einvoice version); 404 for an unknown item. Check it offline with
  ``python3 verify_audit.py FILE`` (``einvoice audit verifier``).
- ``GET /rechnungen/{id}/audit.json`` (staff UI, logged in, role admin or kaemmerei): the same document
  as a download, linked from the invoice page.

There is no separate role for the Rechnungsprüfungsamt (`masterdata_models.ROLES`); an admin or the
Kämmerei hands the export over. Every export is logged (who, which item, final hash).
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..store.audit_chain import export_item
from ..store.masterdata_models import User
from .actor import acting_user, require_role
from .auth import check_api_token
from .context import JSON, get_ctx
from .ui.access import page_user
from .ui.access import require_role as require_page_role
from .ui.errors import NOT_FOUND, UiError

router = APIRouter(tags=["audit"])
log = logging.getLogger("einvoice.web.audit")

ROLES = ("admin", "kaemmerei")


def _export(ctx, item_id: int, username: str) -> dict | None:
    with ctx.db.read() as session:
        document = export_item(session, item_id)
    if document is not None:
        log.info("audit trail of item #%s exported by %s (%s events, final hash %s)", item_id, username,
                 document["event_count"], document["final_hash"])
    return document


@router.get("/api/v1/invoices/{item_id}/audit", dependencies=[Depends(check_api_token)],
            summary="the invoice's hash-chained audit trail (admin, kaemmerei)")
async def api_audit(item_id: int, request: Request, user: User = Depends(acting_user)):
    require_role(user, *ROLES)
    document = await run_in_threadpool(_export, get_ctx(request), item_id, user.username)
    if document is None:
        return JSON({"error": f"no intake item {item_id}"}, status_code=404)
    return JSON(document)


@router.get("/rechnungen/{item_id}/audit.json", include_in_schema=False)
async def ui_audit(item_id: int, request: Request, user: User = Depends(page_user)):
    require_page_role(user, *ROLES)
    document = await run_in_threadpool(_export, get_ctx(request), item_id, user.username)
    if document is None:
        raise UiError(404, *NOT_FOUND)
    body = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="audit-trail-{item_id:08d}.json"', "Cache-Control": "no-store"})
