"""Keep the TCP peer's address when a reverse proxy's ``X-Forwarded-*`` headers replace the client.

`einvoice serve` applies the forwarded headers itself (uvicorn's `ProxyHeadersMiddleware`, trusting
``EINVOICE_TRUSTED_PROXIES``, default 127.0.0.1) inside `PeerRecorder`, which first stores the address
the connection really came from in ``scope["einvoice.peer"]``. Logs and the session see the browser's
address and scheme; the trusted-header login (`web.ui.login`) checks the *peer* — the nginx in front —
because only the proxy may vouch for a user header. Without a proxy (tests, `TestClient`) the peer is
the client.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


def peer_host(scope: Scope) -> str | None:
    """The address of the connection itself (the proxy, if there is one)."""
    peer = scope.get("einvoice.peer") or scope.get("client")
    return peer[0] if peer else None


class PeerRecorder:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "einvoice.peer" not in scope:
            scope = {**scope, "einvoice.peer": scope.get("client")}
        await self.app(scope, receive, send)


def behind_proxies(app: ASGIApp, trusted: str) -> ASGIApp:
    """``app`` taking ``X-Forwarded-For``/``-Proto`` from the ``trusted`` addresses (comma-separated)."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    hosts = [host.strip() for host in trusted.split(",") if host.strip()] or ["127.0.0.1"]
    return PeerRecorder(ProxyHeadersMiddleware(app, trusted_hosts=hosts))
