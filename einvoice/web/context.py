"""What the routes share: the database, settings, status tokens, one validation engine, the templates;
and the intake steps both channels use (read a body within its limit, keep it, check it at once).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse

from ..config import Settings
from ..intake.receive import receive
from ..intake.process import receipt_date
from ..intake.status_token import base_url as configured_base_url
from ..store.db import Database
from ..store.models import IntakeItem
from ..store.types import _json_default
from .auth import StatusTokens
from .templates import environment
from .texts import CheckSummary, explain, summarize_check

log = logging.getLogger("einvoice.web")

CHUNK = 64 * 1024
SNIFF_BYTES = 1024
MAX_NAME = 255
MAX_UPLOAD_FILES = 20
MULTIPART_OVERHEAD = 1024 * 1024  # boundaries, part headers and the small fields of a multipart body
MASTERDATA_IMPORT_BYTES = 32 * 1024 * 1024  # a master data CSV (POST /api/v1/masterdata/<kind>/import)


class JSON(JSONResponse):
    """JSON with German umlauts as they are, Decimal as strings, dates in ISO 8601."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, default=_json_default, separators=(",", ":")).encode("utf-8")


@dataclass
class WebContext:
    db: Database
    settings: Settings
    tokens: StatusTokens
    templates: Any = field(default_factory=environment)
    engine: Any = None
    worker: threading.Thread | None = None
    _engine_lock: threading.Lock = field(default_factory=threading.Lock)

    def validation_engine(self):
        with self._engine_lock:
            if self.engine is None:
                from ..validation import ValidationEngine

                self.engine = ValidationEngine(self.settings)
            return self.engine

    # --- limits --------------------------------------------------------------------------------

    @property
    def max_file_bytes(self) -> int:
        return max(self.settings.max_xml_bytes, self.settings.max_pdf_bytes)

    def limit_for_prefix(self, prefix: bytes) -> int:
        """The limit of a file from its first bytes: a PDF (``%PDF-`` in the first KB, as the validator
        decides) gets ``max_pdf_bytes``, anything else ``max_xml_bytes``."""
        return self.settings.max_pdf_bytes if b"%PDF-" in prefix[:SNIFF_BYTES] else self.settings.max_xml_bytes

    def request_limit(self, path: str) -> int | None:
        """The whole-body limit per route (the per-file limits are checked as the file is read)."""
        if path.endswith("/api/v1/invoices"):
            return self.max_file_bytes + MULTIPART_OVERHEAD
        if path.endswith("/upload"):
            return 2 * self.max_file_bytes + MULTIPART_OVERHEAD
        if ("/api/v1/masterdata/" in path or "/verwaltung/stammdaten/" in path) and path.endswith("/import"):
            return MASTERDATA_IMPORT_BYTES + MULTIPART_OVERHEAD
        return MULTIPART_OVERHEAD  # any other POST (there is none): small

    # --- rendering -----------------------------------------------------------------------------

    def render(self, name: str, request: Request | None, **values) -> str:
        base = request.scope.get("root_path", "").rstrip("/") if request is not None else ""
        return self.templates.get_template(name).render(base=base, **values)


def get_ctx(request: Request) -> WebContext:
    return request.app.state.web


def base_url(request: Request) -> str:
    """``EINVOICE_BASE_URL`` (e.g. https://rechnung.example.de, as in the receipt mails), else the request's."""
    return configured_base_url() or str(request.base_url).rstrip("/")


def status_path(request: Request, ctx: WebContext, item_id: int, uid: str) -> str:
    root = request.scope.get("root_path", "").rstrip("/")
    return f"{root}/status/{item_id}/{ctx.tokens.token(uid)}"


def status_url(request: Request, ctx: WebContext, item_id: int, uid: str) -> str:
    return f"{base_url(request)}/status/{item_id}/{ctx.tokens.token(uid)}"


def api_url(request: Request, item_id: int) -> str:
    return f"{base_url(request)}/api/v1/invoices/{item_id}"


# --- file names ----------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """Control characters shown as ``\\xNN``: what a client sent, kept readable and storable (PostgreSQL
    text and JSONB refuse NUL)."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def safe_file_name(raw: str | None) -> str | None:
    """The last path component of a client's file name, without control characters, at most 255
    characters; None for nothing usable. Only ever metadata: blobs are stored by hash."""
    if raw is None:
        return None
    name = _CONTROL.sub("", raw).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", ".."):
        return None
    return name[:MAX_NAME]


def header_file_name(value: str | None) -> str | None:
    """``X-Filename``: plain ASCII, percent-encoded UTF-8, or raw UTF-8 bytes (read as Latin-1 by ASGI)."""
    if value is None:
        return None
    try:
        value = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    if "%" in value:
        value = unquote(value, errors="replace")
    return value


# --- reading bodies ------------------------------------------------------------------------------

@dataclass
class TooLarge:
    limit: int
    received: int
    kind: str
    prefix_sha256: str


def _kind(prefix: bytes) -> str:
    return "pdf" if b"%PDF-" in prefix[:SNIFF_BYTES] else "xml"


class _Reader:
    """Collects chunks and stops once past the limit of the kind of file they start like."""

    def __init__(self, ctx: WebContext):
        self.ctx = ctx
        self.chunks: list[bytes] = []
        self.size = 0
        self.prefix = b""
        self.limit = ctx.max_file_bytes

    def add(self, chunk: bytes) -> bool:
        """False once the data is over its limit (stop reading)."""
        if not chunk:
            return True
        if len(self.prefix) < SNIFF_BYTES:
            self.prefix += chunk[:SNIFF_BYTES - len(self.prefix)]
            if len(self.prefix) >= SNIFF_BYTES:
                self.limit = self.ctx.limit_for_prefix(self.prefix)
        self.chunks.append(chunk)
        self.size += len(chunk)
        if len(self.prefix) < SNIFF_BYTES:
            self.limit = self.ctx.limit_for_prefix(self.prefix)  # so far; decided for good at 1 KB
        return self.size <= self.limit

    def too_large(self) -> TooLarge:
        digest = hashlib.sha256(b"".join(self.chunks)).hexdigest()
        return TooLarge(self.limit, self.size, _kind(self.prefix), digest)

    def data(self) -> bytes:
        return b"".join(self.chunks)


async def read_stream(ctx: WebContext, request: Request) -> bytes | TooLarge:
    reader = _Reader(ctx)
    async for chunk in request.stream():
        if not reader.add(chunk):
            return reader.too_large()
    return reader.data()


async def read_upload(ctx: WebContext, upload: UploadFile) -> bytes | TooLarge:
    reader = _Reader(ctx)
    while chunk := await upload.read(CHUNK):
        if not reader.add(chunk):
            return reader.too_large()
    return reader.data()


def log_refused_file(request: Request, *, reason: str, file_name: str | None, sender: str | None,
                     too_large: TooLarge | None = None) -> None:
    client = request.client
    facts = {"path": request.url.path, "client": f"{client.host}:{client.port}" if client else None,
             "file_name": file_name, "sender": sender, "user_agent": request.headers.get("user-agent")}
    if too_large is not None:
        facts.update(limit=too_large.limit, bytes_read_before_stopping=too_large.received, looks_like=too_large.kind,
                     sha256_of_bytes_read=too_large.prefix_sha256)
    log.warning("refused a file (%s): %s", reason,
                ", ".join(f"{key}={value!r}" for key, value in facts.items() if value is not None))


# --- keeping and checking --------------------------------------------------------------------------

@dataclass
class Accepted:
    item: IntakeItem
    report: dict[str, Any] | None  # ValidationResult.to_dict() of the immediate check (None: it failed)
    summary: CheckSummary | None

    @property
    def not_a_document(self) -> bool:
        return self.summary is not None and self.summary.outcome == "not_invoice"


def _keep_and_check(ctx: WebContext, data: bytes, *, channel: str, sender: str | None, raw_name: str | None,
                    extra: dict[str, Any]) -> Accepted:
    name = safe_file_name(raw_name)
    if raw_name is not None and raw_name != name:
        extra = {**extra, "original_file_name": visible(raw_name[:1024])}
    item = receive(ctx.db, data, channel=channel, sender=sender, file_name=name, extra=extra or None)
    try:  # for the response only: the stored item goes through the process job like any other
        result = ctx.validation_engine().validate(data, name or "", receipt_date=receipt_date(item.received_at))
        report = result.to_dict()
        return Accepted(item, report, summarize_check(report))
    except Exception:
        log.exception("immediate check of item #%s failed (the item is kept and will be processed)", item.id)
        return Accepted(item, None, None)


async def keep_and_check(ctx: WebContext, data: bytes, *, channel: str, sender: str | None, raw_name: str | None,
                         extra: dict[str, Any]) -> Accepted:
    return await run_in_threadpool(_keep_and_check, ctx, data, channel=channel, sender=sender, raw_name=raw_name,
                                   extra=extra)


def client_extra(request: Request, **more: Any) -> dict[str, Any]:
    client = request.client
    extra = {"user_agent": (request.headers.get("user-agent") or "")[:512] or None,
             "client": client.host if client else None}
    extra.update({key: visible(value) if isinstance(value, str) else value for key, value in more.items()})
    return {key: value for key, value in extra.items() if value is not None}


def finding_json(finding: dict[str, Any]) -> dict[str, Any]:
    """A finding as stored, plus its plain German text."""
    return {**finding, "text_de": explain(finding)["text"]}
