"""Operations endpoints: liveness, health, readiness and Prometheus metrics (not in the OpenAPI schema).

- ``GET /livez``: liveness. The process answers; touches nothing else (no database). For a process
  supervisor or a container orchestrator that restarts a hung process.
- ``GET /healthz``: the database answers (``SELECT 1``) and, where ``einvoice serve`` runs an
  in-process worker, whether its thread is alive. 200 ``{"status": "ok", "database": "ok"[, "worker":
  "running"]}``, 503 when the database does not answer. Kept as it was before /readyz existed: the
  tests, ``einvoice demo`` and ``bench/*.py`` wait for a started server with it.
- ``GET /readyz``: readiness, for nginx/load balancer checks and deploy scripts: the database is
  reachable, its schema is at the revision this einvoice needs (``einvoice.store.migrate``; an
  instance of an older or newer version than the database reports not ready), the blob store folder
  is writable (a probe file is created and removed), and the in-process worker, if any, is alive.
  200 ``{"status": "ok", "checks": {...}}`` or 503 with ``"status": "error"`` and ``"reasons"``
  (plain English, no secrets; the details are in the log).
- ``GET /metrics``: Prometheus text format, read from the database at scrape time (`web.metrics`).
  Access: with ``EINVOICE_METRICS_TOKEN`` (``[web] metrics_token``) set, only with ``Authorization:
  Bearer <token>`` (401 otherwise); without it, only from the loopback addresses 127.0.0.1/::1 (403
  otherwise). Behind nginx the client address is the one nginx forwards (uvicorn trusts
  ``X-Forwarded-For`` from 127.0.0.1), so a request from outside never counts as local; the nginx
  site denies /metrics anyway and Prometheus scrapes an instance's port directly.

All answers are JSON except /metrics, with ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import tempfile
import threading
from functools import lru_cache

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from ..config import setting
from .context import JSON, WebContext, get_ctx

log = logging.getLogger("einvoice.web.ops")
router = APIRouter(include_in_schema=False)

METRICS_TOKEN_ENV = "EINVOICE_METRICS_TOKEN"
NO_STORE = {"Cache-Control": "no-store"}
# the classic text format every Prometheus 2.x reads (our metric names need none of 1.0.0's escaping)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_registry_lock = threading.Lock()


@lru_cache(maxsize=1)
def head_revision() -> str:
    from ..store.migrate import head_revision as head

    return head()


# --- liveness and health -------------------------------------------------------------------------

@router.get("/livez")
async def livez():
    return JSON({"status": "ok"}, headers=NO_STORE)


def _database_ok(ctx: WebContext) -> bool:
    try:
        with ctx.db.read() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get("/healthz")
async def healthz(request: Request):
    ctx = get_ctx(request)
    database = await run_in_threadpool(_database_ok, ctx)
    body = {"status": "ok" if database else "error", "database": "ok" if database else "error"}
    if ctx.worker is not None:
        body["worker"] = "running" if ctx.worker.is_alive() else "stopped"
    return JSON(body, status_code=200 if database else 503, headers=NO_STORE)


# --- readiness -----------------------------------------------------------------------------------

def _check_database(ctx: WebContext, checks: dict, reasons: list[str]) -> None:
    try:
        with ctx.db.read() as session:
            current = MigrationContext.configure(session.connection()).get_current_revision()
    except Exception as exc:
        log.warning("readiness: the database does not answer: %s", exc)
        checks["database"], checks["schema"] = "error", "unknown"
        reasons.append(f"database unreachable ({type(exc).__name__})")
        return
    checks["database"] = "ok"
    head = head_revision()
    if current == head:
        checks["schema"] = "ok"
    else:
        checks["schema"] = "outdated"
        reasons.append(f"database schema at revision {current or 'none'}, this einvoice needs {head}: "
                       "run `einvoice db upgrade` (or start the matching einvoice version)")


def _check_blobs(ctx: WebContext, checks: dict, reasons: list[str]) -> None:
    root = ctx.db.blobs.root
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".readyz-", dir=root)
        try:
            os.write(fd, b"ok")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(name)
        checks["blobs"] = "ok"
    except OSError as exc:
        log.warning("readiness: the blob store %s is not writable: %s", root, exc)
        checks["blobs"] = "error"
        reasons.append(f"blob store folder not writable ({exc.strerror or type(exc).__name__})")


def readiness(ctx: WebContext) -> tuple[bool, dict]:
    checks: dict[str, str] = {}
    reasons: list[str] = []
    _check_database(ctx, checks, reasons)
    _check_blobs(ctx, checks, reasons)
    if ctx.worker is not None:
        alive = ctx.worker.is_alive()
        checks["worker"] = "running" if alive else "stopped"
        if not alive:
            reasons.append("the in-process worker has stopped: restart this instance")
    ok = not reasons
    body: dict = {"status": "ok" if ok else "error", "checks": checks}
    if reasons:
        body["reasons"] = reasons
    return ok, body


@router.get("/readyz")
async def readyz(request: Request):
    ok, body = await run_in_threadpool(readiness, get_ctx(request))
    return JSON(body, status_code=200 if ok else 503, headers=NO_STORE)


# --- metrics -------------------------------------------------------------------------------------

def _is_loopback(host: str | None) -> bool:
    try:
        address = ipaddress.ip_address((host or "").strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def metrics_access(request: Request) -> tuple[int, str] | None:
    """None when the request may read /metrics, else (status, error message)."""
    token = (setting(METRICS_TOKEN_ENV) or "").strip()
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        return 401, "a valid metrics token is required (Authorization: Bearer)"
    if _is_loopback(request.client.host if request.client else None):
        return None
    return 403, f"metrics are served to localhost only (set {METRICS_TOKEN_ENV} for remote scrapes)"


def _registry(request: Request):
    state = request.app.state
    registry = getattr(state, "metrics_registry", None)
    if registry is None:
        from .metrics import make_registry

        with _registry_lock:
            registry = getattr(state, "metrics_registry", None)
            if registry is None:
                ctx = get_ctx(request)
                registry = state.metrics_registry = make_registry(ctx.db, settings=ctx.settings)
    return registry


@router.get("/metrics")
async def metrics(request: Request):
    refused = metrics_access(request)
    if refused is not None:
        status, message = refused
        headers = {**NO_STORE, **({"WWW-Authenticate": 'Bearer realm="einvoice-metrics"'} if status == 401 else {})}
        return JSON({"error": message}, status_code=status, headers=headers)
    from .metrics import render

    body = await run_in_threadpool(render, _registry(request))
    return Response(body, media_type=CONTENT_TYPE, headers=NO_STORE)
