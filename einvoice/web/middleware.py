"""ASGI middleware: security headers on every response, and a request body limit that stops early.

`BodyLimitMiddleware` refuses a POST whose ``Content-Length`` is over the route's limit before
reading a byte of it, and counts the bytes of every other POST (chunked ones too) as they arrive:
the moment the count passes the limit, reading stops (`BodyTooLarge` is raised into whatever reads
the body) and the client gets 413. What is known about the refused request is logged
(``einvoice.web``): nothing is dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("einvoice.web")


class BodyTooLarge(Exception):
    """The request body passed the limit; ``received`` bytes were read before reading stopped."""

    def __init__(self, limit: int, received: int, declared: int | None = None, details: dict[str, Any] | None = None):
        super().__init__(f"request body over the limit of {limit} bytes")
        self.limit = limit
        self.received = received
        self.declared = declared
        self.details = details or {}


def request_facts(scope: Scope) -> dict[str, Any]:
    """What can be said about a request from its head (for the log of a refused request)."""
    headers = Headers(scope=scope)
    client = scope.get("client")
    return {
        "method": scope.get("method"),
        "path": scope.get("path"),
        "client": f"{client[0]}:{client[1]}" if client else None,
        "content_type": headers.get("content-type"),
        "content_length": headers.get("content-length"),
        "x_filename": headers.get("x-filename"),
        "x_sender": headers.get("x-sender"),
        "user_agent": headers.get("user-agent"),
    }


def log_too_large(scope: Scope, exc: BodyTooLarge) -> None:
    facts = request_facts(scope)
    facts.update(exc.details)
    log.warning("refused a request body over the limit (413): limit %d bytes, %d bytes read before stopping, "
                "declared length %s; %s", exc.limit, exc.received,
                exc.declared if exc.declared is not None else "none (chunked)",
                ", ".join(f"{key}={value!r}" for key, value in facts.items() if value is not None))


class BodyLimitMiddleware:
    """``limit_for(path) -> int | None`` gives the limit of a route (None: no limit here)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int | None],
                 too_large: Callable[[Scope, BodyTooLarge], Response]):
        self.app = app
        self.limit_for = limit_for
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        raw = Headers(scope=scope).get("content-length")
        if raw is not None:
            try:
                declared = int(raw)
            except ValueError:
                declared = None
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, BodyTooLarge(limit, 0, declared))
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, received, declared)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await self._refuse(scope, receive, send, exc)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: BodyTooLarge) -> None:
        log_too_large(scope, exc)
        response = self.too_large(scope, exc)
        response.headers["connection"] = "close"
        await response(scope, receive, send)


class SecurityHeadersMiddleware:
    """Adds the security headers to every response (unless a route set its own value)."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]):
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

