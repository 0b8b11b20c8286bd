"""The HTTP application: ``create_app(settings=None, db=None) -> FastAPI``.

Routes (see `pages` and `api`):

- ``GET /``, ``GET /upload``: the public upload form; ``POST /upload``: keep the files, show the receipt.
- ``POST /api/v1/invoices``: submit one file (202 + receipt; 422 kept-but-no-e-invoice; 400; 413; 415).
- ``GET /api/v1/invoices``, ``GET /api/v1/invoices/{id}``: read API (``Authorization: Bearer``
  ``EINVOICE_API_TOKEN``; 503 while unset).
- ``GET /status/{id}/{token}``: the supplier's status page.
- ``GET /healthz``: the database answers (and the in-process worker runs, where there is one);
  ``/livez``, ``/readyz``, ``/metrics`` (Prometheus): see `ops`.

Security: body limits per route that stop reading early (`middleware.BodyLimitMiddleware`),
file names kept only as metadata, autoescaped templates, ``X-Content-Type-Options: nosniff`` and a
strict Content-Security-Policy (no script at all; the one inline stylesheet by hash) on every
response, ``Referrer-Policy: no-referrer`` (status links carry their token), no stack trace to
any client (a 500 names an error reference that is in the log with the traceback), and no GET
changes anything. The anonymous upload form needs no CSRF token: it only adds items. A full disk
under the blob store answers 503 with ``Retry-After`` (`store.blobs.StorageFull`: nothing half-written
kept), an id beyond 64 bits in a path 404 (`path_ids`) instead of a database error. A database that
is away (``OperationalError``: restart, network, connections refused) answers 503 with ``Retry-After``
and a German "nothing was kept, send again" (its transaction was rolled back), not a 500.
No API docs pages (they would load third-party scripts); the schema is at ``/api/v1/openapi.json``.

``worker=True`` runs an in-process worker thread (`einvoice.jobs.run_worker`) for the lifetime of
the app (``einvoice serve`` does that unless ``--no-worker``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Scope

from ..config import Settings
from ..store.blobs import StorageFull, is_storage_full
from ..store.db import Database
from .api import _too_large_body, read_router
from .api import router as api_router
from .auth import AuthError, StatusTokens
from .context import JSON, WebContext
from .middleware import BodyLimitMiddleware, BodyTooLarge, SecurityHeadersMiddleware, log_too_large
from .api_archive import router as archive_router
from .api_audit import router as audit_router
from .api_bookings import router as bookings_router
from .api_deadlines import router as deadlines_router
from .api_masterdata import router as masterdata_router
from .api_matching import router as matching_router
from .api_payments import router as payments_router
from .api_workflow import router as workflow_router
from .ops import router as ops_router
from .pages import STORAGE_FULL_TEXT
from .path_ids import ids_in_range
from .pages import router as pages_router
from .templates import css_hash, environment

log = logging.getLogger("einvoice.web")

WORKER_STOP_SECONDS = 60.0


def security_headers() -> dict[str, str]:
    return {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": (f"default-src 'none'; style-src {css_hash()}; img-src 'self' data:; "
                                    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path in ("/healthz", "/livez", "/readyz", "/metrics")


HTTP_TEXTS = {
    400: ("Ungültige Anfrage", "Die Anfrage konnte nicht verarbeitet werden."),
    404: ("Nicht gefunden", "Diese Seite gibt es nicht."),
    405: ("Nicht erlaubt", "Diese Aktion ist für diese Adresse nicht vorgesehen."),
    413: ("Zu groß", "Die hochgeladenen Dateien sind zusammen zu groß. Bitte laden Sie weniger oder kleinere "
                     "Dateien auf einmal hoch. Es wurde nichts gespeichert."),
    503: ("Vorübergehend nicht erreichbar", "Der Dienst ist gerade nicht erreichbar (Datenbank). Es wurde nichts "
                                            "gespeichert. Bitte versuchen Sie es in einigen Minuten noch einmal."),
    500: ("Technischer Fehler", "Es ist ein technischer Fehler aufgetreten. Bitte versuchen Sie es später noch "
                                "einmal. Falls Sie Dateien hochgeladen haben: prüfen Sie über die Statuslinks, "
                                "ob sie eingegangen sind, bevor Sie sie erneut senden."),
}


def _html_error(ctx: WebContext, request: Request | None, status_code: int, reference: str | None = None,
                headers: dict | None = None) -> HTMLResponse:
    title, text = HTTP_TEXTS.get(status_code, ("Fehler", "Die Anfrage konnte nicht bearbeitet werden."))
    page = ctx.render("error.html", request, title=title, text=text, reference=reference)
    return HTMLResponse(page, status_code=status_code, headers=headers)


def _worker_main(db: Database, stop: threading.Event) -> None:
    from ..jobs.worker import run_worker

    try:
        run_worker(stop_event=stop, db=db)
    except Exception:
        log.exception("the in-process worker stopped with an error")


def create_app(settings: Settings | None = None, db: Database | None = None, *, worker: bool = False) -> FastAPI:
    """The einvoice web application on ``db`` (default: a `Database` of ``settings``, default from the
    environment). ``settings`` (default ``db.settings``) gives the size limits and the data dir."""
    if db is None:
        db = Database(settings=settings)
    settings = settings or db.settings
    ctx = WebContext(db=db, settings=settings, tokens=StatusTokens(settings.data_dir), templates=environment())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        if worker:
            ctx.worker = threading.Thread(target=_worker_main, args=(db, stop), name="einvoice-worker", daemon=True)
            ctx.worker.start()
        try:
            yield
        finally:
            if ctx.worker is not None:
                stop.set()
                await asyncio.to_thread(ctx.worker.join, WORKER_STOP_SECONDS)

    app = FastAPI(title="einvoice", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/api/v1/openapi.json", debug=False,
                  dependencies=[Depends(ids_in_range)])  # an id beyond 64 bits: 404, not a database error
    app.state.web = ctx
    app.include_router(pages_router)
    app.include_router(ops_router)
    app.include_router(api_router)
    app.include_router(read_router)
    app.include_router(audit_router)  # the audit trail export: API and /rechnungen/{id}/audit.json
    for stage_router in (masterdata_router, matching_router, workflow_router, deadlines_router, bookings_router,
                         payments_router, archive_router):
        app.include_router(stage_router)

    def too_large(scope: Scope, exc: BodyTooLarge) -> Response:
        if _is_api(scope.get("path", "")):
            return JSON(_too_large_body(exc.limit, exc.received or None), status_code=413)
        return _html_error(ctx, None, 413)

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, exc: BodyTooLarge):
        log_too_large(request.scope, exc)
        response = too_large(request.scope, exc)
        response.headers["connection"] = "close"
        return response

    @app.exception_handler(ClientDisconnect)
    async def client_disconnected(request: Request, exc: ClientDisconnect):
        # a client gone mid-body (or a Content-Length larger than what it sent): a warning, not a 500 traceback
        from .middleware import request_facts

        log.warning("the client disconnected before its request body was complete; nothing kept: %s",
                    ", ".join(f"{key}={value!r}" for key, value in request_facts(request.scope).items() if value))
        return Response(status_code=400)  # never delivered: nobody is listening any more

    def _unavailable(request: Request, error: str, cause: str, *, title: str, text: str, retry_after: int):
        """503 "nothing kept, try again later": JSON for the API, the German error page otherwise; the
        reference and the cause go to the log. Security headers set here, since `server_error` (outside the
        middleware) answers through it too."""
        reference = uuid.uuid4().hex[:12]
        log.error("error %s on %s %s: %s, answered 503: %s", reference, request.method, request.url.path, error,
                  cause)
        headers = {"Retry-After": str(retry_after), **security_headers()}
        if _is_api(request.url.path):
            return JSON({"error": error, "reference": reference, "message_de": text}, status_code=503,
                        headers=headers)
        page = ctx.render("error.html", request, title=title, text=text, reference=reference)
        return HTMLResponse(page, status_code=503, headers=headers)

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError):
        # the database is away (restart, network, connections refused) or busy: its transaction was rolled
        # back, so 503 "nothing kept, send again" instead of a 500 (tests/test_faults_db_outage.py)
        return _unavailable(request, "database unavailable", " ".join(str(exc.orig or exc).split())[:300],
                            title=HTTP_TEXTS[503][0], text=HTTP_TEXTS[503][1], retry_after=60)

    @app.exception_handler(StorageFull)
    async def storage_full(request: Request, exc: Exception):
        # the blob store's disk is full (store.blobs): nothing half-written was kept; the sender tries again
        return _unavailable(request, "storage full", str(exc), title="Vorübergehend nicht möglich",
                            text=STORAGE_FULL_TEXT, retry_after=300)

    @app.exception_handler(AuthError)
    async def auth_error(request: Request, exc: AuthError):
        headers = {"WWW-Authenticate": 'Bearer realm="einvoice"'} if exc.status_code == 401 else None
        return JSON({"error": exc.message}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if _is_api(request.url.path):
            return JSON({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return _html_error(ctx, request, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = [{"location": list(e.get("loc", ())), "message": e.get("msg")} for e in exc.errors()]
        if _is_api(request.url.path):
            return JSON({"error": "invalid request", "problems": problems}, status_code=422)
        return _html_error(ctx, request, 400)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        if is_storage_full(exc):  # e.g. the temporary file of a multipart upload on a full disk
            return await storage_full(request, exc)
        reference = uuid.uuid4().hex[:12]
        log.error("error %s on %s %s", reference, request.method, request.url.path, exc_info=exc)
        # this handler runs outside the other middleware: the security headers are set here
        if _is_api(request.url.path):
            return JSON({"error": "internal error", "reference": reference}, status_code=500,
                        headers=security_headers())
        return _html_error(ctx, request, 500, reference=reference, headers=security_headers())

    from .ui import install as install_ui

    install_ui(app)  # the staff UI: login, sessions (middleware), /aufgaben, /rechnungen/{id} (einvoice.web.ui)
    app.add_middleware(BodyLimitMiddleware, limit_for=ctx.request_limit, too_large=too_large)
    app.add_middleware(SecurityHeadersMiddleware, headers=security_headers())
    return app
