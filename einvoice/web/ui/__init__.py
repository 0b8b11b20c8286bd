"""The staff web UI (issue #8): server-rendered German pages on the FastAPI app.

- `session`: the signed session cookie ``einvoice_session`` (middleware), idle timeout, no fixation.
- `csrf`: a per-session token in every form, checked on every POST. `passwords`: argon2 and lockout.
- `access`: the logged-in user, roles, and which units' invoices a user may see (one function).
- `login`: ``/login``, ``/logout``, trusted-header SSO. `oidc`: ``/login/oidc`` (OpenID Connect, off by
  default). `inbox`: ``/aufgaben``. `invoice`: ``/rechnungen/{id}`` with its actions, ``/original``,
  ``/ansicht``. `assets`: ``/static/ui.css``.
- `intake_queue`: ``/eingang`` (Rechnungseingangsstelle). `kaemmerei`: ``/kaemmerei`` (export batches,
  payment runs, Skonto dashboard with the SVG chart of `chart`, payment deadlines).
- `admin`: ``/verwaltung`` (admins: master data, matching rules, workflows, rule packs, failed jobs).
- `cli`: ``einvoice users password USERNAME``, ``einvoice users list``.

`install(app)` adds the routers, the session middleware and the handlers that turn `UiError` into a
German error page and `LoginRequired` into a redirect to ``/login?next=…``.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from .errors import LoginRequired, UiError
from .session import SessionMiddleware


def install(app: FastAPI) -> None:
    from . import admin, assets, inbox, intake_queue, invoice, kaemmerei, login, oidc
    from .access import page_user
    from .render import page

    for module in (assets, login, oidc, inbox, invoice, intake_queue, kaemmerei, admin):
        app.include_router(module.router)

    @app.exception_handler(UiError)
    async def ui_error(request: Request, exc: UiError):
        try:
            user = await page_user(request)  # the layout with navigation and logout, when logged in
        except LoginRequired:
            user = None
        return page(request, "error.html", user=user, status_code=exc.status, title=exc.title, text=exc.text,
                    reference=None)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        base = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(f"{base}/login?next={quote(exc.next_path, safe='/')}", status_code=303)

    app.add_middleware(SessionMiddleware, data_dir=app.state.web.settings.data_dir)
