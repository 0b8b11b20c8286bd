"""``/kaemmerei``: the Kämmerei's page (roles ``kaemmerei`` and ``admin`` act; ``kasse`` may view).

- ``GET /kaemmerei``: approved invoices ready for the booking export (count, sum of the frozen payable
  amounts, the first 50), the export batches (`handoff.bookings`), the payment runs
  (`handoff.payments`), the Skonto dashboard (`routing.deadlines.metrics.skonto_metrics` per unit and
  month as a table and as an inline SVG bar chart, `chart.py`) and the payment deadlines of the open
  invoices due within 30 days (and overdue ones), sorted by pay-by date.
- ``POST /kaemmerei/buchungsstapel`` (CSRF; ``format`` csv|json, ``mapping``): a batch of every ready
  invoice. ``POST /kaemmerei/buchungsstapel/{id}/gebucht``: mark booked. ``POST
  /kaemmerei/buchungsstapel/{id}/stornieren`` (``reason``): cancel. ``GET
  /kaemmerei/buchungsstapel/{id}/datei``: the batch file byte for byte.
- ``POST /kaemmerei/zahllaeufe`` (CSRF; ``ausfuehrung`` YYYY-MM-DD): a SEPA payment run of every payable
  invoice. ``GET /kaemmerei/zahllaeufe/{id}/datei``: its pain.001 file.

A refusal of the hand-off code (German message, e.g. a missing reason, a booked batch, nothing payable)
shows the page again with the message and the error's status; success is a 303 back to the page.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import exists, select
from starlette.concurrency import run_in_threadpool

from ...handoff.bookings import batches as b
from ...handoff.bookings.errors import BookingError
from ...handoff.bookings.mapping import available_mappings
from ...handoff.payments.errors import PaymentError
from ...handoff.payments.runs import create_run, list_runs, run_file, run_json
from ...routing.clock import today
from ...routing.deadlines.metrics import skonto_metrics
from ...store.handoff_models import ExportRecord
from ...store.masterdata_models import OrgUnit, User
from ...store.models import IntakeItem, ItemState
from ...store.routing_models import ApprovalCase, CaseStatus, InvoiceDeadline
from ..context import get_ctx
from .access import page_user, require_role
from .chart import month_label, skonto_chart
from .csrf import checked_form
from .invoice import content_disposition
from .invoice_data import ITEM_STATES
from .render import page

router = APIRouter(include_in_schema=False)
VIEWERS = ("kaemmerei", "kasse", "admin")
MAKERS = ("kaemmerei", "admin")
READY_SHOWN = 50
HORIZON_DAYS = 30
OPEN_STATES = (ItemState.PARSED.value, ItemState.MATCHED.value, ItemState.IN_APPROVAL.value,
               ItemState.APPROVED.value)
BATCH_STATES = {"created": "erstellt", "booked": "gebucht", "cancelled": "storniert"}
RUN_STATES = {"created": "erstellt", "cancelled": "storniert"}


def _ready(session) -> dict:
    active = exists().where(ExportRecord.item_id == IntakeItem.id, ExportRecord.active.is_(True))
    items = list(session.scalars(select(IntakeItem).where(IntakeItem.state == ItemState.APPROVED.value, ~active)
                                 .order_by(IntakeItem.id)))
    ids = [item.id for item in items]
    payable: dict[int, Decimal] = {}
    if ids:
        for case in session.scalars(select(ApprovalCase).where(ApprovalCase.item_id.in_(ids),
                                                               ApprovalCase.status == CaseStatus.APPROVED.value)
                                    .order_by(ApprovalCase.id)):
            payable[case.item_id] = case.payable_amount
    rows = [{"id": i.id, "number": i.invoice_number, "seller": i.seller_name, "amount": payable.get(i.id)}
            for i in items]
    total = sum((r["amount"] for r in rows if r["amount"] is not None), Decimal("0.00"))
    return {"count": len(rows), "total": total, "rows": rows[:READY_SHOWN]}


def _deadlines(session, on: date) -> list[dict]:
    horizon = on + timedelta(days=HORIZON_DAYS)
    units = dict(session.execute(select(OrgUnit.id, OrgUnit.code)).all())
    query = (select(InvoiceDeadline, IntakeItem).join(IntakeItem, IntakeItem.id == InvoiceDeadline.item_id)
             .where(IntakeItem.state.in_(OPEN_STATES), InvoiceDeadline.pay_by <= horizon)
             .order_by(InvoiceDeadline.pay_by, InvoiceDeadline.item_id).limit(200))
    return [{"id": item.id, "number": item.invoice_number, "seller": item.seller_name,
             "unit": units.get(d.unit_id, "–"), "payable": d.payable, "currency": d.currency, "pay_by": d.pay_by,
             "overdue": d.pay_by < on, "skonto_deadline": d.skonto_deadline, "skonto_amount": d.skonto_amount,
             "state": ITEM_STATES.get(item.state, item.state)}
            for d, item in session.execute(query)]


def _load(db) -> dict:
    on = today()
    with db.read() as session:
        metrics = skonto_metrics(session)
        names = dict(session.execute(select(OrgUnit.code, OrgUnit.name)).all())
        return {
            "ready": _ready(session),
            "batches": [b.batch_dict(batch) for batch in b.list_batches(session, limit=50)],
            "runs": [run_json(run) for run in list_runs(session, limit=50)],
            "metrics": metrics, "unit_names": names, "chart": skonto_chart(metrics),
            "deadlines": _deadlines(session, on), "archive": _archive_summary(session), "today": on, "horizon": on + timedelta(days=HORIZON_DAYS),
            "formats": b.FORMATS, "mappings": available_mappings(), "batch_states": BATCH_STATES,
            "run_states": RUN_STATES, "month_label": month_label,
        }


def _page(request: Request, user: User, data: dict, *, status_code: int = 200, error: str | None = None,
          details: list | None = None, done: str | None = None, values: dict | None = None):
    return page(request, "kaemmerei.html", user=user, status_code=status_code, error=error, details=details or [],
                done=done, may_act=any(user.has_role(r) for r in MAKERS), values=values or {}, **data)


# --- DMS archive ---------------------------------------------------------------------------------------

def _archive_summary(session) -> dict:
    from sqlalchemy import func

    from ...store.handoff_models import ArchivePackage

    rows = dict(session.execute(select(ArchivePackage.status, func.count()).group_by(ArchivePackage.status)).all())
    bad = session.scalar(select(func.count()).select_from(ArchivePackage).where(ArchivePackage.verified_ok.is_(False)))
    return {"delivered": rows.get("delivered", 0), "failed": rows.get("failed", 0), "verify_failed": bad or 0}


def _archive(ctx, user: User, verify: bool) -> str:
    """Archive all finished invoices (or verify the delivered packages) to EINVOICE_ARCHIVE_TARGET."""
    from ...handoff.archive.service import archive_due, verify_all
    from ...handoff.archive.targets import TargetError, target_from_setting

    try:
        target = target_from_setting(ctx.settings.archive_target)
    except TargetError as exc:
        raise ArchiveRefused(str(exc)) from exc
    if verify:
        outcome = verify_all(ctx.db, targets={target.name: target})
        problems = sum(1 for found in outcome.values() if found)
        return f"{len(outcome)} Archivpakete geprüft, {problems} mit Abweichungen."
    run = archive_due(ctx.db, actor=_actor(user), target=target)
    return (f"{len(run.archived)} Rechnungen archiviert, {len(run.failed)} fehlgeschlagen, "
            f"{len(run.skipped)} übersprungen.")


class ArchiveRefused(Exception):
    status, details = 503, None

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@router.post("/kaemmerei/archiv")
async def archive(request: Request, user: User = Depends(page_user)):
    require_role(user, *MAKERS)
    form = await checked_form(request)
    verify = str(form.get("pruefen") or "") == "1"
    try:
        text = await run_in_threadpool(_archive, get_ctx(request), user, verify)
    except ArchiveRefused as exc:
        return await _refused(request, user, exc, {})
    data = await run_in_threadpool(_load, get_ctx(request).db)
    return _page(request, user, data, done=text)


def _done_text(erledigt: str, nr: str) -> str | None:
    nr = nr if nr.isdigit() else ""
    return {"stapel": f"Buchungsstapel {nr} erstellt.", "gebucht": f"Buchungsstapel {nr} als gebucht markiert.",
            "storniert": f"Buchungsstapel {nr} storniert; seine Rechnungen sind wieder exportbereit.",
            "zahllauf": f"Zahllauf {nr} erstellt.", "leer": "Keine freigegebenen, noch nicht exportierten Rechnungen: "
                                                             "kein Buchungsstapel erstellt."}.get(erledigt)


@router.get("/kaemmerei")
async def kaemmerei_page(request: Request, erledigt: str = "", nr: str = "", user: User = Depends(page_user)):
    require_role(user, *VIEWERS)
    data = await run_in_threadpool(_load, get_ctx(request).db)
    return _page(request, user, data, done=_done_text(erledigt, nr[:12]))


def _back(request: Request, done: str, nr: int | None = None) -> RedirectResponse:
    base = request.scope.get("root_path", "").rstrip("/")
    return RedirectResponse(f"{base}/kaemmerei?erledigt={done}" + (f"&nr={nr}" if nr is not None else ""),
                            status_code=303)


async def _refused(request: Request, user: User, exc, values: dict):
    data = await run_in_threadpool(_load, get_ctx(request).db)
    details = [d.get("reason") or str(d) for d in getattr(exc, "details", None) or []]
    return _page(request, user, data, status_code=exc.status, error=exc.message, details=details, values=values)


def _actor(user: User) -> str:
    return f"user:{user.username}"


# --- booking batches -------------------------------------------------------------------------------------

def _create_batch(db, user: User, fmt: str, mapping: str) -> int | None:
    with db.transaction() as session:
        batch = b.create_batch(session, db.blobs, actor=_actor(user), format=fmt, mapping=mapping or "generic")
        return batch.id if batch is not None else None


@router.post("/kaemmerei/buchungsstapel")
async def create_batch(request: Request, user: User = Depends(page_user)):
    require_role(user, *MAKERS)
    form = await checked_form(request)
    fmt, mapping = str(form.get("format") or "csv")[:16], str(form.get("mapping") or "generic")[:64]
    try:
        batch_id = await run_in_threadpool(_create_batch, get_ctx(request).db, user, fmt, mapping)
    except BookingError as exc:
        return await _refused(request, user, exc, {"format": fmt, "mapping": mapping})
    return _back(request, "stapel", batch_id) if batch_id is not None else _back(request, "leer")


def _book(db, user: User, batch_id: int) -> None:
    with db.transaction() as session:
        b.mark_booked(session, batch_id, actor=_actor(user))


def _cancel(db, user: User, batch_id: int, reason: str) -> None:
    with db.transaction() as session:
        b.cancel_batch(session, batch_id, actor=_actor(user), reason=reason)


@router.post("/kaemmerei/buchungsstapel/{batch_id}/gebucht")
async def book_batch(batch_id: int, request: Request, user: User = Depends(page_user)):
    require_role(user, *MAKERS)
    await checked_form(request)
    try:
        await run_in_threadpool(_book, get_ctx(request).db, user, batch_id)
    except BookingError as exc:
        return await _refused(request, user, exc, {})
    return _back(request, "gebucht", batch_id)


@router.post("/kaemmerei/buchungsstapel/{batch_id}/stornieren")
async def cancel_batch(batch_id: int, request: Request, user: User = Depends(page_user)):
    require_role(user, *MAKERS)
    form = await checked_form(request)
    reason = str(form.get("reason") or "").strip()[:4000]
    try:
        await run_in_threadpool(_cancel, get_ctx(request).db, user, batch_id, reason)
    except BookingError as exc:
        return await _refused(request, user, exc, {"cancel_id": batch_id, "reason": reason})
    return _back(request, "storniert", batch_id)


def _batch_download(db, batch_id: int) -> tuple[bytes, str, str]:
    with db.read() as session:
        batch = b.get_batch(session, batch_id)
        name, kind = batch.file_name, b.content_type(batch)
    return b.batch_file(db, batch_id), name, kind


@router.get("/kaemmerei/buchungsstapel/{batch_id}/datei")
async def batch_download(batch_id: int, request: Request, user: User = Depends(page_user)):
    require_role(user, *VIEWERS)
    try:
        data, name, kind = await run_in_threadpool(_batch_download, get_ctx(request).db, batch_id)
    except BookingError as exc:
        return await _refused(request, user, exc, {})
    return Response(data, media_type=kind, headers={"Content-Disposition": content_disposition(name),
                                                    "Cache-Control": "no-store"})


# --- payment runs --------------------------------------------------------------------------------------

def _create_run(ctx, user: User, execution: date) -> tuple[int, int]:
    with ctx.db.transaction() as session:
        result = create_run(session, ctx.db.blobs, actor=_actor(user), execution_date=execution,
                            settings=ctx.settings)
        return result.run.id, len(result.skipped)


@router.post("/kaemmerei/zahllaeufe")
async def create_payment_run(request: Request, user: User = Depends(page_user)):
    require_role(user, *MAKERS)
    form = await checked_form(request)
    text = str(form.get("ausfuehrung") or "").strip()[:10]
    try:
        execution = date.fromisoformat(text)
    except ValueError:
        data = await run_in_threadpool(_load, get_ctx(request).db)
        return _page(request, user, data, status_code=422, values={"ausfuehrung": text},
                     error="Bitte geben Sie ein Ausführungsdatum an (Datum, z. B. 2026-12-01).")
    try:
        run_id, _skipped = await run_in_threadpool(_create_run, get_ctx(request), user, execution)
    except PaymentError as exc:
        return await _refused(request, user, exc, {"ausfuehrung": text})
    return _back(request, "zahllauf", run_id)


def _run_download(db, run_id: int) -> tuple[bytes, str]:
    with db.read() as session:
        run, data = run_file(session, db.blobs, run_id)
        return data, run.file_name


@router.get("/kaemmerei/zahllaeufe/{run_id}/datei")
async def run_download(run_id: int, request: Request, user: User = Depends(page_user)):
    require_role(user, *VIEWERS)
    try:
        data, name = await run_in_threadpool(_run_download, get_ctx(request).db, run_id)
    except PaymentError as exc:
        return await _refused(request, user, exc, {})
    return Response(data, media_type="application/xml", headers={"Content-Disposition": content_disposition(name),
                                                                 "Cache-Control": "no-store"})
