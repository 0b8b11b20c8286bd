"""The JSON API: ``POST /api/v1/invoices`` (open, for suppliers' software) and the read endpoints
``GET /api/v1/invoices`` / ``GET /api/v1/invoices/{id}`` (bearer token, see `auth`).

POST takes either a multipart body with the field ``file`` (and optionally ``sender``) or the raw
file as the body with ``Content-Type: application/xml`` (``text/xml``, ``application/*+xml``),
``application/pdf`` or ``application/octet-stream``, with the optional headers ``X-Filename``
(plain or percent-encoded UTF-8) and ``X-Sender``. Answers:

- **202** ``{"id", "status_url", "api_url", "receipt": {…, "check": immediate validation}}`` and
  ``Location: <status_url>``: kept; the item is processed by the worker (never waited for).
- **422** the same plus ``"error"`` and ``"findings"``: kept as well, but the bytes are no
  e-invoice at all (``EINVOICE-PARSE``, ``-XML-UNSAFE``, ``-PDF``, ``-NOT-INVOICE``, ``-EMPTY``
  for whitespace only): the item will be rejected by processing.
- **400** empty body (``EINVOICE-EMPTY``) or an unreadable multipart body; nothing kept.
- **413** over ``max_xml_bytes`` / ``max_pdf_bytes`` (``EINVOICE-TOO-LARGE``); reading stops at the
  limit, the facts go to the log; nothing kept.
- **415** any other content type.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ..store.models import AuditEvent, Channel, IntakeItem, ItemState, ParsedInvoice, ValidationReport
from .auth import check_api_token
from .context import (
    JSON, Accepted, TooLarge, WebContext, api_url, client_extra, finding_json, get_ctx, header_file_name,
    keep_and_check, log_refused_file, read_stream, read_upload, status_url, visible,
)

RAW_TYPES = ("application/xml", "text/xml", "application/pdf", "application/octet-stream")
MAX_SENDER = 1024

router = APIRouter(prefix="/api/v1")


def _too_large_body(limit: int, received: int | None = None) -> dict:
    what = f"{received} bytes read" if received else "declared length"
    return {"error": "too large", "limit_bytes": limit,
            "findings": [{"rule_id": "EINVOICE-TOO-LARGE", "severity": "error",
                          "message": f"the file is larger than the limit of {limit} bytes ({what}; reading stopped)",
                          "location": "", "source": "api", "text_de": "Die Datei ist größer als erlaubt."}]}


def _empty_body() -> dict:
    return {"error": "empty body",
            "findings": [{"rule_id": "EINVOICE-EMPTY", "severity": "error",
                          "message": "the file is empty / die Datei ist leer", "location": "", "source": "api",
                          "text_de": "Die Datei ist leer."}]}


def _receipt(request: Request, ctx: WebContext, accepted: Accepted) -> dict:
    item = accepted.item
    check = None
    if accepted.report is not None:
        report, summary = accepted.report, accepted.summary
        check = {"valid": report["valid"], "triage": report["triage"], "kind": report["kind"],
                 "specification_id": report.get("specification_id"),
                 "outcome": summary.outcome, "summary_de": f"{summary.headline}. {summary.text}",
                 "findings": [finding_json(f) for f in report["findings"]]}
    return {
        "id": item.id, "uid": item.uid, "state": item.state, "channel": item.channel, "sender": item.sender,
        "file_name": item.file_name, "size": item.size, "sha256": item.sha256, "received_at": item.received_at,
        "status_url": status_url(request, ctx, item.id, item.uid), "api_url": api_url(request, item.id),
        "check": check,
        "note": "check is an immediate, provisional validation; the binding result comes from processing "
                "(see status_url)",
    }


def _accepted_response(request: Request, ctx: WebContext, accepted: Accepted) -> JSON:
    receipt = _receipt(request, ctx, accepted)
    body = {"id": accepted.item.id, "status_url": receipt["status_url"], "api_url": receipt["api_url"],
            "receipt": receipt}
    headers = {"Location": receipt["status_url"]}
    if accepted.not_a_document:
        body["error"] = "not an e-invoice (XRechnung or ZUGFeRD/Factur-X): kept, and it will be rejected"
        body["findings"] = receipt["check"]["findings"]
        return JSON(body, status_code=422, headers=headers)
    return JSON(body, status_code=202, headers=headers)


def _sender(value: str | None) -> str | None:
    value = visible(value or "").strip()  # X-Sender may be percent-encoded: %00 must not reach the database
    return value[:MAX_SENDER] or None


@router.post("/invoices", status_code=202)
async def submit_invoice(request: Request):
    ctx = get_ctx(request)
    content_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    sender = _sender(header_file_name(request.headers.get("x-sender")))
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=10)
        except (MultiPartException, HTTPException) as exc:  # Starlette turns the first into a 400 HTTPException
            message = getattr(exc, "message", None) or getattr(exc, "detail", "")
            return JSON({"error": f"unreadable multipart body: {message}"}, status_code=400)
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return JSON({"error": "multipart body without a file in the field 'file'"}, status_code=400)
            form_sender = form.get("sender")
            if isinstance(form_sender, str) and form_sender.strip():
                sender = _sender(form_sender)
            raw_name = upload.filename
            data = await read_upload(ctx, upload)
        finally:
            await form.close()
    elif content_type in RAW_TYPES or (content_type.startswith("application/") and content_type.endswith("+xml")):
        raw_name = header_file_name(request.headers.get("x-filename"))
        data = await read_stream(ctx, request)
    else:
        log_refused_file(request, reason=f"unsupported content type {content_type or '(none)'}", file_name=None,
                         sender=sender)
        return JSON({"error": f"unsupported content type {content_type or '(none)'}",
                     "supported": ["multipart/form-data (field 'file')", *RAW_TYPES, "application/*+xml"]},
                    status_code=415)

    if isinstance(data, TooLarge):
        log_refused_file(request, reason="too large", file_name=raw_name, sender=sender, too_large=data)
        return JSON(_too_large_body(data.limit, data.received), status_code=413, headers={"Connection": "close"})
    if not data:
        log_refused_file(request, reason="empty", file_name=raw_name, sender=sender)
        return JSON(_empty_body(), status_code=400)
    accepted = await keep_and_check(ctx, data, channel=Channel.API.value, sender=sender, raw_name=raw_name,
                                    extra=client_extra(request, content_type=content_type or None))
    return _accepted_response(request, ctx, accepted)


# --- reading (bearer token) -----------------------------------------------------------------------

read_router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_api_token)])


def _summary(request: Request, item: IntakeItem) -> dict:
    return {
        "id": item.id, "uid": item.uid, "state": item.state, "state_changed_at": item.state_changed_at,
        "channel": item.channel, "sender": item.sender, "file_name": item.file_name,
        "received_at": item.received_at, "size": item.size, "sha256": item.sha256,
        "kind": item.kind, "valid": item.valid, "triage": item.triage, "invoice_number": item.invoice_number,
        "issue_date": item.issue_date, "seller_name": item.seller_name,
        "duplicate_of": item.duplicate_of_id, "url": api_url(request, item.id),
    }


def _load_detail(ctx: WebContext, item_id: int) -> dict | None:
    with ctx.db.read() as session:
        item = session.get(IntakeItem, item_id)
        if item is None:
            return None
        report = session.scalars(select(ValidationReport).where(ValidationReport.item_id == item_id)
                                 .order_by(ValidationReport.id.desc()).limit(1)).first()
        reports = session.scalar(select(func.count()).select_from(ValidationReport)
                                 .where(ValidationReport.item_id == item_id))
        parsed = session.scalars(select(ParsedInvoice).where(ParsedInvoice.item_id == item_id)
                                 .order_by(ParsedInvoice.id.desc()).limit(1)).first()
        events = session.scalars(select(AuditEvent).where(AuditEvent.item_id == item_id)
                                 .order_by(AuditEvent.id)).all()
        first = session.get(IntakeItem, item.duplicate_of_id) if item.duplicate_of_id else None
        duplicates = session.execute(select(IntakeItem.id, IntakeItem.state)
                                     .where(IntakeItem.duplicate_of_id == item_id).order_by(IntakeItem.id)).all()
        return {"item": item, "report": report, "reports": reports, "parsed": parsed, "events": events,
                "first": first, "duplicates": duplicates}


@read_router.get("/invoices/{item_id}")
async def invoice_detail(item_id: int, request: Request):
    ctx = get_ctx(request)
    loaded = await run_in_threadpool(_load_detail, ctx, item_id)
    if loaded is None:
        return JSON({"error": f"no intake item {item_id}"}, status_code=404)
    item, report, parsed, first = loaded["item"], loaded["report"], loaded["parsed"], loaded["first"]
    body = _summary(request, item)
    body.update({
        "hashes": {"sha256": item.sha256, "envelope_sha256": item.envelope_sha256},
        "seller_vat_id": item.seller_vat_id,
        "error": item.error,
        "extra": item.extra,
        "status_url": status_url(request, ctx, item.id, item.uid),
        "validation": None if report is None else {
            "id": report.id, "created_at": report.created_at, "valid": report.valid, "triage": report.triage,
            "pack": report.pack, "reports_total": loaded["reports"],
            "report": report.report,
        },
        "findings": [finding_json(f) for f in (report.report.get("findings") or [])] if report else [],
        "parsed": None if parsed is None else {"id": parsed.id, "created_at": parsed.created_at, "model": parsed.model},
        "duplicate_of": None if first is None else {"id": first.id, "state": first.state,
                                                    "url": api_url(request, first.id)},
        "duplicates": [{"id": dup_id, "state": state, "url": api_url(request, dup_id)}
                       for dup_id, state in loaded["duplicates"]],
        "audit": [{"id": e.id, "at": e.at, "actor": e.actor, "event": e.event, "from_state": e.from_state,
                   "to_state": e.to_state, "reason": e.reason, "details": e.details} for e in loaded["events"]],
    })
    return JSON(body)


def _load_page(ctx: WebContext, filters: list, page: int, per_page: int) -> tuple[int, list[IntakeItem]]:
    with ctx.db.read() as session:
        total = session.scalar(select(func.count()).select_from(IntakeItem).where(*filters))
        items = session.scalars(select(IntakeItem).where(*filters)
                                .order_by(IntakeItem.received_at.desc(), IntakeItem.id.desc())
                                .offset((page - 1) * per_page).limit(per_page)).all()
        return total, list(items)


@read_router.get("/invoices")
async def list_invoices(request: Request, state: ItemState | None = None, channel: Channel | None = None,
                        sender: str | None = Query(None, max_length=MAX_SENDER),
                        page: int = Query(1, ge=1, le=1_000_000), per_page: int = Query(50, ge=1, le=200)):
    ctx = get_ctx(request)
    filters = []
    if state is not None:
        filters.append(IntakeItem.state == state.value)
    if channel is not None:
        filters.append(IntakeItem.channel == channel.value)
    if sender:
        filters.append(func.lower(IntakeItem.sender) == sender.strip().lower())
    total, items = await run_in_threadpool(_load_page, ctx, filters, page, per_page)
    pages = max(1, math.ceil(total / per_page))

    def link(number: int) -> str:
        return str(request.url.include_query_params(page=number, per_page=per_page))

    return JSON({
        "items": [_summary(request, item) for item in items],
        "page": page, "per_page": per_page, "total": total, "pages": pages,
        "next": link(page + 1) if page < pages else None,
        "prev": link(page - 1) if page > 1 else None,
    })
