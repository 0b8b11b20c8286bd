"""Rendering UI pages: Jinja2 templates from ``templates/`` (package data, autoescaped), the layout's
navigation by role, and the UI's Content-Security-Policy (stylesheet from ``'self'``, no script)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ...store.masterdata_models import User
from ..texts import german_time
from .session import get_session

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
NAV = [  # path, label, roles that see it
    ("/aufgaben", "Aufgaben", ("approver", "kasse", "admin")),
    ("/eingang", "Rechnungseingang", ("rechnungseingang", "admin")),
    ("/kaemmerei", "Kämmerei", ("kaemmerei", "kasse", "admin")),
    ("/verwaltung", "Verwaltung", ("admin",)),
]


def euro(value) -> str:
    if value is None or value == "":
        return "–"
    try:
        value = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = f"{value:,.2f}".replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")
    return f"{text} €"


def day(value) -> str:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value.strftime("%d.%m.%Y") if value else "–"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("einvoice.web.ui", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(euro=euro, day=day, time=lambda v: german_time(v) if v else "–",
                       iban=lambda v: " ".join(v[i:i + 4] for i in range(0, len(v), 4)) if v else "–")
    return env


def nav_for(user: User | None) -> list[tuple[str, str]]:
    if user is None:
        return []
    return [(path, label) for path, label, roles in NAV if any(user.has_role(r) for r in roles)]


def page(request: Request, name: str, *, user: User | None = None, status_code: int = 200,
         headers: dict | None = None, **values) -> HTMLResponse:
    session = get_session(request)
    base = request.scope.get("root_path", "").rstrip("/")
    html = environment().get_template(name).render(
        base=base, user=user, nav=nav_for(user), path=request.url.path, csrf=session.csrf if session else "",
        **values)
    return HTMLResponse(html, status_code=status_code,
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store", **(headers or {})})
