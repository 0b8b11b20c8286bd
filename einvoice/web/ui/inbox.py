"""``GET /aufgaben``: the user's inbox — the open steps they may decide today, own or as substitute
(`einvoice.routing.workflow.tasks_for`), most urgent first (money at risk, then pay-by date).

Each row: invoice number (link), supplier, unit, amount, step, Skonto deadline and the discount at
risk, pay-by date, "in Vertretung für …", the IBAN alert. Filters as GET parameters (nothing changes):
``einheit`` (unit code), ``lieferant`` (part of the supplier name), ``betrag_von`` / ``betrag_bis``
(German or plain numbers), ``suche`` (invoice number, supplier or Leitweg-ID, case-insensitive);
``seite`` pages through 50 rows at a time. The list comes from `taskcache.cached_tasks` (recomputed
whenever an audit event was written, else after at most 30 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ...routing.clock import today
from ...routing.workflow.checks import STEP_NAMES
from ...store.masterdata_models import OrgUnit, User
from ...store.models import ParsedInvoice
from ..context import get_ctx
from .access import page_user
from .render import page
from .taskcache import cached_tasks

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def parse_amount(text: str | None) -> Decimal | None:
    text = (text or "").strip().replace("€", "").replace(" ", "")
    if not text:
        return None
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


@dataclass
class Filters:
    unit: str = ""
    supplier: str = ""
    amount_from: str = ""
    amount_to: str = ""
    search: str = ""

    @property
    def active(self) -> bool:
        return any((self.unit, self.supplier, self.amount_from, self.amount_to, self.search))


def _leitweg_ids(session, item_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    rows = session.execute(select(ParsedInvoice.item_id, ParsedInvoice.model)
                           .where(ParsedInvoice.item_id.in_(item_ids)).order_by(ParsedInvoice.id))
    for item_id, model in rows:
        found[item_id] = str(((model or {}).get("invoice") or {}).get("buyer_reference") or "")
    return found


def _inbox(ctx, user: User, filters: Filters) -> dict:
    with ctx.db.read() as session:
        tasks = cached_tasks(session, user, today())
        units = dict(session.execute(select(OrgUnit.code, OrgUnit.name)).all())
        absent = {t.acting_for for t in tasks if t.acting_for}
        names = dict(session.execute(select(User.username, User.display_name).where(User.username.in_(absent))).all()) \
            if absent else {}
        unit_choices = sorted({t.unit for t in tasks if t.unit})
        low, high = parse_amount(filters.amount_from), parse_amount(filters.amount_to)
        rows = [t for t in tasks
                if (not filters.unit or t.unit == filters.unit)
                and (not filters.supplier or filters.supplier.lower() in (t.seller_name or "").lower())
                and (low is None or t.gross_amount >= low) and (high is None or t.gross_amount <= high)]
        if filters.search:
            needle = filters.search.lower()
            leitweg = _leitweg_ids(session, [t.item_id for t in rows])
            rows = [t for t in rows if needle in (t.invoice_number or "").lower()
                    or needle in (t.seller_name or "").lower() or needle in leitweg.get(t.item_id, "").lower()]
    return {"tasks": rows, "total": len(tasks), "units": units, "names": names, "unit_choices": unit_choices,
            "amount_error": bool(filters.amount_from and low is None) or bool(filters.amount_to and high is None)}


@router.get("/aufgaben")
async def inbox(request: Request, einheit: str = "", lieferant: str = "", betrag_von: str = "", betrag_bis: str = "",
                suche: str = "", seite: int = 1, user: User = Depends(page_user)):
    filters = Filters(einheit[:32], lieferant[:200], betrag_von[:32], betrag_bis[:32], suche[:200])
    data = await run_in_threadpool(_inbox, get_ctx(request), user, filters)
    tasks = data.pop("tasks")
    pages = max(1, -(-len(tasks) // PAGE_SIZE))
    seite = min(max(1, seite), pages)
    shown = tasks[(seite - 1) * PAGE_SIZE: seite * PAGE_SIZE]
    query = {"einheit": filters.unit, "lieferant": filters.supplier, "betrag_von": filters.amount_from,
             "betrag_bis": filters.amount_to, "suche": filters.search}
    return page(request, "inbox.html", user=user, tasks=shown, count=len(tasks), filters=filters, query=query,
                page_no=seite, pages=pages, step_names=STEP_NAMES, **data)
