"""``/eingang``: the Rechnungseingangsstelle's page (roles ``rechnungseingang`` and ``admin``).

- ``GET /eingang``: the manual queue (`matching.service.manual_queue`: parsed items without a usable
  assignment, oldest first, with the latest matching explanation), the invalid invoices held for review
  (state ``rejected``, triage ``review``) and the duplicates (state ``duplicate``, linked to the first).
- ``POST /eingang/{id}/zuordnen`` (CSRF): fields ``kostenstelle`` (cost-centre id; its unit is the
  unit) and ``reason`` → `matching.service.assign_manually`, then `route.continue_routing` queues the
  route job in the same transaction, which starts the approval.
- ``POST /eingang/{id}/ablehnen`` (CSRF): field ``reason`` → `routing.rejection.reject_before_approval`
  (→ rejected, the supplier is told by mail).
- ``GET /eingang/{id}/mail``: the whole received mail (.eml, `IntakeItem.envelope_sha256`) as a
  ``text/plain`` download.

A refused action (no reason, unknown cost centre, the item moved on) shows the page again with the
German message next to the item and keeps the typed reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ...routing.matching.service import InvalidAssignment, WrongState, assign_manually, manual_queue
from ...routing.rejection import RejectionError, reject_before_approval
from ...routing.route import continue_routing
from ...store.masterdata_models import CostCentre, OrgUnit, User
from ...store.models import IntakeItem, ItemState
from ...store.routing_models import InvoiceDeadline, MatchResult
from ..context import get_ctx
from .access import page_user, require_role
from .csrf import checked_form
from .errors import UiError
from .invoice import content_disposition
from .render import page

router = APIRouter(include_in_schema=False)
ROLES = ("rechnungseingang", "admin")
QUEUE_LIMIT = 200
LIST_LIMIT = 100
DONE = {"zugeordnet": "Zugeordnet; die Freigabe wird gestartet.",
        "abgelehnt": "Abgelehnt; der Lieferant wird benachrichtigt."}


def _row(item: IntakeItem) -> dict:
    return {"id": item.id, "number": item.invoice_number, "seller": item.seller_name, "received_at": item.received_at,
            "channel": item.channel, "file_name": item.file_name, "has_mail": bool(item.envelope_sha256),
            "duplicate_of": item.duplicate_of_id, "state": item.state}


def _load(db) -> dict:
    with db.read() as session:
        queue = manual_queue(session, limit=QUEUE_LIMIT)
        ids = [item.id for item in queue]
        explanations: dict[int, MatchResult] = {}
        if ids:
            for result in session.scalars(select(MatchResult).where(MatchResult.item_id.in_(ids))
                                          .order_by(MatchResult.id)):
                explanations[result.item_id] = result  # the latest wins
        pay_by = dict(session.execute(select(InvoiceDeadline.item_id, InvoiceDeadline.pay_by)
                                      .where(InvoiceDeadline.item_id.in_(ids))).all()) if ids else {}
        rows = []
        for item in queue:
            row = _row(item)
            match = explanations.get(item.id)
            row["explanation"] = match.explanation if match else None
            row["confidence"] = match.confidence if match else None
            row["pay_by"] = pay_by.get(item.id)
            rows.append(row)
        invalid = [_row(i) for i in session.scalars(
            select(IntakeItem).where(IntakeItem.state == ItemState.REJECTED.value, IntakeItem.triage == "review")
            .order_by(IntakeItem.received_at.desc(), IntakeItem.id.desc()).limit(LIST_LIMIT))]
        duplicates = [_row(i) for i in session.scalars(
            select(IntakeItem).where(IntakeItem.state == ItemState.DUPLICATE.value)
            .order_by(IntakeItem.received_at.desc(), IntakeItem.id.desc()).limit(LIST_LIMIT))]
        units = {u.id: u for u in session.scalars(select(OrgUnit).order_by(OrgUnit.code))}
        groups: dict[int, list[dict]] = {}
        for centre in session.scalars(select(CostCentre).where(CostCentre.active.is_(True)).order_by(CostCentre.code)):
            groups.setdefault(centre.unit_id, []).append({"id": centre.id, "code": centre.code, "name": centre.name})
        centres = [{"unit": f"{units[uid].code} {units[uid].name}" if uid in units else "–", "centres": rows_}
                   for uid, rows_ in sorted(groups.items(), key=lambda kv: units[kv[0]].code if kv[0] in units else "")]
    return {"queue": rows, "invalid": invalid, "duplicates": duplicates, "centre_groups": centres}


def _page(request: Request, user: User, data: dict, *, status_code: int = 200, error: dict | None = None,
          done: str | None = None):
    return page(request, "eingang.html", user=user, status_code=status_code, error=error, done=done, **data)


@router.get("/eingang")
async def queue_page(request: Request, erledigt: str = "", user: User = Depends(page_user)):
    require_role(user, *ROLES)
    data = await run_in_threadpool(_load, get_ctx(request).db)
    return _page(request, user, data, done=DONE.get(erledigt))


def _locked_item(session, item_id: int) -> IntakeItem:
    item = session.get(IntakeItem, item_id, with_for_update=True)
    if item is None:
        raise UiError(404, "Nicht gefunden", "Diesen Eingang gibt es nicht.")
    return item


def _assign(db, user: User, item_id: int, centre: str, reason: str) -> None:
    if not reason:
        raise InvalidAssignment("Bitte geben Sie eine Begründung für die Zuordnung an.")
    if not centre.isdigit():
        raise InvalidAssignment("Bitte wählen Sie eine Kostenstelle.")
    with db.transaction() as session:
        item = _locked_item(session, item_id)
        try:
            assign_manually(session, item, actor=f"user:{user.username}", unit_id=None, cost_centre_id=int(centre),
                            reason=reason)
        except WrongState:
            raise InvalidAssignment(f"Eingang {item_id} ist nicht mehr offen (Stand: {item.state}) – bitte neu "
                                    "laden.") from None
        except InvalidAssignment:
            raise InvalidAssignment("Diese Kostenstelle gibt es nicht oder sie ist nicht aktiv.") from None
        continue_routing(session, [item])


def _reject(db, user: User, item_id: int, reason: str) -> None:
    with db.transaction() as session:
        item = _locked_item(session, item_id)
        reject_before_approval(session, item, actor=f"user:{user.username}", reason=reason)


async def _form(request: Request) -> dict:
    form = await checked_form(request)
    return {"kostenstelle": str(form.get("kostenstelle") or "").strip()[:32],
            "reason": str(form.get("reason") or "").strip()[:4000]}


async def _refused(request: Request, user: User, item_id: int, action: str, message: str, status: int, reason: str):
    data = await run_in_threadpool(_load, get_ctx(request).db)
    return _page(request, user, data, status_code=status,
                 error={"item_id": item_id, "action": action, "message": message, "reason": reason})


def _back(request: Request, done: str) -> RedirectResponse:
    base = request.scope.get("root_path", "").rstrip("/")
    return RedirectResponse(f"{base}/eingang?erledigt={done}", status_code=303)


@router.post("/eingang/{item_id}/zuordnen")
async def assign(item_id: int, request: Request, user: User = Depends(page_user)):
    require_role(user, *ROLES)
    fields = await _form(request)
    try:
        await run_in_threadpool(_assign, get_ctx(request).db, user, item_id, fields["kostenstelle"], fields["reason"])
    except InvalidAssignment as exc:
        return await _refused(request, user, item_id, "zuordnen", str(exc), 422, fields["reason"])
    return _back(request, "zugeordnet")


@router.post("/eingang/{item_id}/ablehnen")
async def reject(item_id: int, request: Request, user: User = Depends(page_user)):
    require_role(user, *ROLES)
    fields = await _form(request)
    try:
        await run_in_threadpool(_reject, get_ctx(request).db, user, item_id, fields["reason"])
    except RejectionError as exc:
        return await _refused(request, user, item_id, "ablehnen", exc.message, exc.status, fields["reason"])
    return _back(request, "abgelehnt")


def _mail(db, item_id: int) -> bytes:
    with db.read() as session:
        item = session.get(IntakeItem, item_id)
        sha = item.envelope_sha256 if item is not None else None
    if not sha:
        raise UiError(404, "Nicht gefunden", "Zu diesem Eingang ist keine E-Mail gespeichert.")
    return db.blobs.get(sha)


@router.get("/eingang/{item_id}/mail")
async def raw_mail(item_id: int, request: Request, user: User = Depends(page_user)):
    require_role(user, *ROLES)
    data = await run_in_threadpool(_mail, get_ctx(request).db, item_id)
    return Response(data, media_type="text/plain; charset=utf-8",
                    headers={"Content-Disposition": content_disposition(f"eingang-{item_id}.eml"),
                             "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
