"""The invoice page and its actions.

- ``GET /rechnungen/{id}``: facts, validation summary and full report, arithmetic pre-check, matching
  explanation, deadlines, the approval steps (who, when, in Vertretung für, decision, reason), comments,
  and forms for the actions the user may take on the current step.
- ``GET /rechnungen/{id}/ansicht``: the readable invoice (`einvoice.formats.html_view.render_html` of the
  original, with its attachments as downloads) as a page of its own (its inline stylesheet allowed by hash).
- ``GET /rechnungen/{id}/original``: the received file (XML, or the PDF of a ZUGFeRD/Factur-X invoice).
- ``POST /rechnungen/{id}/{aktion}`` (CSRF): freigeben, zurueckgeben, ablehnen, parken, fortsetzen,
  kommentieren, weiterleiten (``target`` = unit code), kostenstelle (``target`` = cost centre code: the
  case is cancelled, the new cost centre assigned and the approval of its unit starts again); fields
  ``expected_version`` and ``case_id`` (the case the user saw) and ``reason``.
  Success: 303 back to the page. A refusal (four-eyes, missing reason, someone else was quicker: "… bitte
  neu laden") shows the page again with the German message and the status of the workflow error.
All routes need a session and the invoice to be visible to the user (`access.visible_item`; else 404).
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ...routing import workflow as wf
from ...routing.clock import SYSTEM_CLOCK, today
from ...store.masterdata_models import User
from ..context import get_ctx
from .access import visible_item
from .access import page_user
from .csrf import checked_form
from .errors import UiError
from .invoice_data import load_invoice
from .render import page

router = APIRouter(include_in_schema=False)

ACTIONS = {"freigeben": (wf.approve, "Freigegeben."), "zurueckgeben": (wf.return_to_previous, "Zurückgegeben."),
           "ablehnen": (wf.reject_to_supplier, "Abgelehnt; der Lieferant wird benachrichtigt."),
           "parken": (wf.park, "Geparkt."), "fortsetzen": (wf.unpark, "Fortgesetzt."),
           "kommentieren": (wf.comment, "Kommentar gespeichert."),
           "weiterleiten": (wf.forward, "An die andere Organisationseinheit weitergeleitet."),
           "kostenstelle": (None, "Kostenstelle geändert; die Freigabe beginnt neu.")}
DONE = {name: text for name, (_, text) in ACTIONS.items()}
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def _page(request: Request, user: User, data: dict, *, status_code: int = 200, error: str | None = None,
          done: str | None = None, reason: str = "") -> HTMLResponse:
    return page(request, "invoice.html", user=user, status_code=status_code, error=error, done=done,
                reason=reason, **data)


@router.get("/rechnungen/{item_id}")
async def invoice_page(item_id: int, request: Request, erledigt: str = "", user: User = Depends(page_user)):
    data = await run_in_threadpool(load_invoice, get_ctx(request).db, user, item_id)
    return _page(request, user, data, done=DONE.get(erledigt))


def _original(db, user: User, item_id: int) -> tuple[bytes, str | None]:
    with db.read() as session:
        item = visible_item(session, user, item_id, today())
        sha, name = item.sha256, item.file_name
    return db.blobs.get(sha), name


def content_disposition(name: str) -> str:
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "rechnung"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.get("/rechnungen/{item_id}/original")
async def original(item_id: int, request: Request, user: User = Depends(page_user)):
    data, name = await run_in_threadpool(_original, get_ctx(request).db, user, item_id)
    pdf = b"%PDF-" in data[:1024]
    name = name or f"rechnung-{item_id}.{'pdf' if pdf else 'xml'}"
    return Response(data, media_type="application/pdf" if pdf else "application/xml",
                    headers={"Content-Disposition": content_disposition(name), "Cache-Control": "no-store"})


def _readable(db, user: User, item_id: int) -> str:
    from ...formats.html_view import render_html
    from ...formats.read import read_invoice

    data, name = _original(db, user, item_id)
    try:
        result = read_invoice(data, name or "")
    except Exception:
        raise UiError(422, "Keine lesbare Ansicht", "Diese Datei lässt sich nicht als Rechnung lesen. Sie können "
                                                   "das Original herunterladen.") from None
    return render_html(result, today=today())


@router.get("/rechnungen/{item_id}/ansicht")
async def readable(item_id: int, request: Request, user: User = Depends(page_user)):
    html = await run_in_threadpool(_readable, get_ctx(request).db, user, item_id)
    hashes = " ".join("'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
                      for m in _STYLE.findall(html))
    csp = (f"default-src 'none'; style-src {hashes or 'none'}; img-src data:; form-action 'none'; "
           "frame-ancestors 'none'; base-uri 'none'")
    return HTMLResponse(html, headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"})


def _act(db, user: User, item_id: int, action: str, form: dict) -> None:
    with db.read() as session:
        visible_item(session, user, item_id, today())
        case = wf.active_case(session, item_id) or wf.latest_case(session, item_id)
        if case is None:
            raise wf.NotFound(f"Rechnung #{item_id} hat keine Freigabe")
    if form["case_id"] and form["case_id"] != str(case.id):
        raise wf.Conflict("Die Freigabe dieser Rechnung wurde inzwischen neu gestartet – bitte neu laden")
    version = form["expected_version"]
    if action != "kommentieren" and not version.isdigit():
        raise wf.InvalidInput("Die Seite ist unvollständig – bitte neu laden")
    expected = int(version) if version.isdigit() else None
    if action == "weiterleiten":
        wf.run_decision(db, wf.forward, case.id, user=user, expected_version=expected, reason=form["reason"] or None,
                        unit=form["target"] or None, clock=SYSTEM_CLOCK)
        return
    if action == "kostenstelle":
        wf.run_decision(db, change_cost_centre, case.id, user=user, expected_version=expected,
                        reason=form["reason"] or None, cost_centre=form["target"], clock=SYSTEM_CLOCK)
        return
    fn = ACTIONS[action][0]
    wf.run_decision(db, fn, case.id, user=user, expected_version=expected,
                    reason=form["reason"] or None, clock=SYSTEM_CLOCK)


def change_cost_centre(session, case_id: int, *, user: User, expected_version: int | None, reason: str | None,
                       cost_centre: str, clock=SYSTEM_CLOCK):
    """Change the cost centre of an invoice in approval: the case is cancelled (`workflow.reassign`, with
    the reason), the new cost centre assigned by this person (`matching.assign_manually`), and the
    approval of the cost centre's unit starts again (`routing.route.route_in_session`)."""
    from sqlalchemy import select as _select

    from ...routing.matching.service import InvalidAssignment, assign_manually
    from ...routing.route import route_in_session
    from ...store.masterdata_models import CostCentre
    from ...store.models import IntakeItem

    centre = session.scalars(_select(CostCentre).where(CostCentre.code == (cost_centre or "").strip(),
                                                       CostCentre.active.is_(True))).one_or_none()
    if centre is None:
        raise wf.InvalidInput("Bitte eine bekannte Kostenstelle wählen")
    case = wf.reassign(session, case_id, user=user, expected_version=expected_version, reason=reason,
                       unit=centre.unit_id, clock=clock)
    item = session.get(IntakeItem, case.item_id)
    try:
        assign_manually(session, item, actor=f"user:{user.username}", unit_id=centre.unit_id,
                        cost_centre_id=centre.id, reason=reason)
    except InvalidAssignment as exc:
        raise wf.InvalidInput(str(exc)) from exc
    route_in_session(session, item, actor=f"user:{user.username}", clock=clock)
    return case


@router.post("/rechnungen/{item_id}/{action}")
async def act(item_id: int, action: str, request: Request, user: User = Depends(page_user)):
    form = await checked_form(request)
    if action not in ACTIONS:
        raise UiError(404, "Nicht gefunden", "Diese Aktion gibt es nicht.")
    fields = {key: str(form.get(key) or "").strip() for key in ("expected_version", "case_id", "reason", "target")}
    fields["reason"] = fields["reason"][:4000]
    db = get_ctx(request).db
    try:
        await run_in_threadpool(_act, db, user, item_id, action, fields)
    except wf.WorkflowError as exc:
        data = await run_in_threadpool(load_invoice, db, user, item_id)
        return _page(request, user, data, status_code=exc.status, error=exc.message, reason=fields["reason"])
    base = request.scope.get("root_path", "").rstrip("/")
    return RedirectResponse(f"{base}/rechnungen/{item_id}?erledigt={action}", status_code=303)
