"""The public pages: the supplier upload form with its receipt and the status page (``/healthz`` is in `ops`).

``POST /upload`` keeps every file through `intake.receive` (channel ``upload``), runs the cheap
immediate check on the bytes in hand for the receipt only, and answers at once: the stored items go
through the worker's ``process`` job like those of every other channel. An empty file or one over
the size limit is refused on the receipt (and logged); the others are kept.

``GET /status/{id}/{token}`` shows only the state (eingegangen, wird geprüft, angenommen, in
Freigabe, zur Zahlung freigegeben, abgelehnt) and the reasons of a rejection in plain German; a
wrong token or an unknown id gives the same 404. ``Accept: application/json`` gets the same as JSON.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ..store.blobs import StorageFull
from ..store.models import AuditEvent, Channel, IntakeItem, ItemState, ValidationReport
from .context import (
    JSON, MAX_UPLOAD_FILES, TooLarge, WebContext, client_extra, get_ctx, keep_and_check, log_refused_file,
    read_upload, safe_file_name, status_path, status_url,
)
from .texts import PUBLIC_LABELS, german_size, german_time, public_status

router = APIRouter()

EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']+\.[^@\s<>\"']{2,}$")
MAX_EMAIL = 254
STEPS = [(code, PUBLIC_LABELS[code]) for code in ("received", "checking", "accepted", "in_approval",
                                                   "payment_released")]
NO_STORE = {"Cache-Control": "no-store"}
STORAGE_FULL_TEXT = ("Der Speicher des Rechnungseingangs ist im Moment voll. Es wurde nichts gespeichert. Bitte "
                     "versuchen Sie es später noch einmal.")
STORAGE_FULL_FILE = ("Der Speicher des Rechnungseingangs ist im Moment voll: diese Datei wurde nicht gespeichert. "
                     "Bitte senden Sie sie später noch einmal.")


def _limits(ctx: WebContext) -> dict:
    return {"max_files": MAX_UPLOAD_FILES, "xml_limit": german_size(ctx.settings.max_xml_bytes),
            "pdf_limit": german_size(ctx.settings.max_pdf_bytes)}


def _form_page(request: Request, ctx: WebContext, *, status_code: int = 200, email: str = "",
               files_error: str | None = None, email_error: str | None = None) -> HTMLResponse:
    errors = []
    if files_error:
        errors.append({"field": "files", "text": files_error})
    if email_error:
        errors.append({"field": "email", "text": email_error})
    page = ctx.render("upload.html", request, errors=errors, email=email, files_error=files_error,
                      email_error=email_error, **_limits(ctx))
    return HTMLResponse(page, status_code=status_code)


@router.get("/", response_class=HTMLResponse)
@router.get("/upload", response_class=HTMLResponse)
async def upload_form(request: Request):
    return _form_page(request, get_ctx(request))


@router.post("/upload", response_class=HTMLResponse)
async def upload(request: Request):
    ctx = get_ctx(request)
    try:
        form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=10)
    except (MultiPartException, HTTPException) as exc:  # Starlette turns the first into a 400 HTTPException
        message = str(getattr(exc, "message", None) or getattr(exc, "detail", ""))
        files_error = (f"Bitte laden Sie höchstens {MAX_UPLOAD_FILES} Dateien auf einmal hoch."
                       if "too many files" in message.lower() else "Das Formular konnte nicht gelesen werden.")
        return _form_page(request, ctx, status_code=400, files_error=files_error)
    try:
        email_value = form.get("email")
        email = email_value.strip()[:MAX_EMAIL] if isinstance(email_value, str) else ""
        uploads = [part for part in form.getlist("files") if isinstance(part, UploadFile)]
        # a file input with nothing chosen sends one empty part without a file name
        uploads = [part for part in uploads if part.filename or (part.size or 0) > 0]
        email_error = None
        if email and not EMAIL.match(email):
            email_error = "Bitte geben Sie eine gültige E-Mail-Adresse an (zum Beispiel name@firma.de) oder lassen Sie das Feld leer."
        files_error = None if uploads else "Bitte wählen Sie mindestens eine Rechnungsdatei aus."
        if email_error or files_error:
            return _form_page(request, ctx, status_code=400, email=email, files_error=files_error,
                              email_error=email_error)
        sender = email or None
        entries, storage_full = [], False
        for upload_file in uploads:
            shown_name = safe_file_name(upload_file.filename)
            data = await read_upload(ctx, upload_file)
            if isinstance(data, TooLarge):
                log_refused_file(request, reason="too large", file_name=upload_file.filename, sender=sender,
                                 too_large=data)
                entries.append({"file_name": shown_name, "item_id": None, "refusal":
                                f"Die Datei ist zu groß. Erlaubt sind bei {data.kind.upper()}-Dateien höchstens "
                                f"{german_size(data.limit)}. Sie wurde nicht gespeichert."})
                continue
            if not data:
                log_refused_file(request, reason="empty", file_name=upload_file.filename, sender=sender)
                entries.append({"file_name": shown_name, "item_id": None,
                                "refusal": "Die Datei ist leer. Sie wurde nicht gespeichert."})
                continue
            try:
                accepted = await keep_and_check(ctx, data, channel=Channel.UPLOAD.value, sender=sender,
                                                raw_name=upload_file.filename,
                                                extra=client_extra(request, content_type=upload_file.content_type))
            except StorageFull as exc:  # this file is not kept; those before it are (their receipts stay)
                log_refused_file(request, reason=f"storage full: {exc}", file_name=upload_file.filename, sender=sender)
                entries.append({"file_name": shown_name, "item_id": None, "refusal": STORAGE_FULL_FILE})
                storage_full = True
                continue
            item = accepted.item
            entries.append({
                "file_name": item.file_name, "item_id": item.id, "received": german_time(item.received_at),
                "size": german_size(item.size), "sha256": item.sha256,
                "status_path": status_path(request, ctx, item.id, item.uid),
                "status_url": status_url(request, ctx, item.id, item.uid),
                "check": accepted.summary,
            })
    finally:
        await form.close()
    accepted_count = sum(1 for entry in entries if entry.get("item_id"))
    received = next((entry["received"] for entry in entries if entry.get("item_id")), "")
    page = ctx.render("receipt.html", request, entries=entries, accepted=accepted_count,
                      refused=len(entries) - accepted_count, received=received)
    status = 200 if accepted_count else 503 if storage_full else 400
    retry = {"Retry-After": "300"} if status == 503 else {}
    return HTMLResponse(page, status_code=status, headers={**NO_STORE, **retry})


# --- status page -----------------------------------------------------------------------------------

def _load_status(ctx: WebContext, item_id: int, token: str):
    with ctx.db.read() as session:
        item = session.get(IntakeItem, item_id)
        if item is None or not ctx.tokens.check(item.uid, token):
            return None
        report = session.scalars(select(ValidationReport.report).where(ValidationReport.item_id == item_id)
                                 .order_by(ValidationReport.id.desc()).limit(1)).first()
        archived_from = None
        if item.state == ItemState.ARCHIVED:
            archived_from = session.scalars(
                select(AuditEvent.from_state).where(AuditEvent.item_id == item_id,
                                                    AuditEvent.to_state == ItemState.ARCHIVED.value)
                .order_by(AuditEvent.id.desc()).limit(1)).first()
        return public_status(item.state, triage=item.triage, report=report, archived_from=archived_from)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@router.get("/status/{item_id}/{token}")
async def status_page(item_id: str, token: str, request: Request):
    ctx = get_ctx(request)
    status = None
    if item_id.isdigit() and len(item_id) < 19 and re.fullmatch(r"[0-9a-f]{1,64}", token):
        status = await run_in_threadpool(_load_status, ctx, int(item_id), token)
    headers = {**NO_STORE, "X-Robots-Tag": "noindex"}
    if status is None:
        if _wants_json(request):
            return JSON({"error": "not found"}, status_code=404, headers=headers)
        page = ctx.render("error.html", request, title="Nicht gefunden", reference=None,
                          text="Diese Statusseite gibt es nicht. Bitte prüfen Sie, ob Sie den Statuslink aus Ihrer "
                               "Eingangsbestätigung vollständig übernommen haben.")
        return HTMLResponse(page, status_code=404, headers=headers)
    if _wants_json(request):
        return JSON({"id": int(item_id), "status": status.code, "label": status.label, "text": status.text,
                     "reasons": status.reasons}, headers=headers)
    codes = [code for code, _ in STEPS]
    current_index = codes.index(status.code) if status.code in codes else -1
    page = ctx.render("status.html", request, item_id=int(item_id), status=status, steps=STEPS,
                      current_index=current_index)
    return HTMLResponse(page, headers=headers)


@router.get("/favicon.ico", include_in_schema=False)
async def favicon():
    return Response(status_code=204, headers={"Cache-Control": "max-age=86400"})  # no icon; browsers ask anyway
