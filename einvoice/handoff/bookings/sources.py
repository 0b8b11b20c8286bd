"""Reading what the records of many approved invoices are built from, in a few queries.

`load_sources(session, items)` → one `records.Sources` per item: the newest stored model, the latest
approved case, the assignment, the deadline row, the supplier, every cost centre and unit. Cases,
assignments, deadlines, suppliers and cost centres are read as plain rows (only the columns the
records use, no ORM objects); of each stored model only `records.MODEL_PARTS` (and the lines of split
invoices) are extracted by the database (``json_extract`` on SQLite, ``->``/``#>`` on PostgreSQL), so
a 10,000-invoice export parses a fraction of the JSON. Ids go to the database in chunks of `CHUNK`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from ...store.masterdata_models import CostCentre, OrgUnit, Supplier
from ...store.models import IntakeItem, ParsedInvoice
from ...store.routing_models import ApprovalCase, Assignment, CaseStatus, InvoiceDeadline
from .errors import Conflict
from .records import LINES_PART, MODEL_PARTS, Sources

CHUNK = 1000


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _parts_query(session: Session, item_ids: list[int], paths: tuple[tuple[str, ...], ...]):
    """(item id, JSON array of the values at ``paths`` of its newest model), extracted by the database.

    PostgreSQL: the top-level parts (``model -> 'invoice'`` …) are taken once per row in a subquery
    that the planner may not flatten (``OFFSET 0``), and the paths read from those: every ``#>`` on the
    stored column would decompress the whole TOASTed model again (4 × slower)."""
    newest = (select(func.max(ParsedInvoice.id)).where(ParsedInvoice.item_id.in_(item_ids))
              .group_by(ParsedInvoice.item_id))
    if session.get_bind().dialect.name != "postgresql":
        column = func.json_extract(ParsedInvoice.model, *("$." + ".".join(path) for path in paths))
        return select(ParsedInvoice.item_id, column).where(ParsedInvoice.id.in_(newest))
    roots = list(dict.fromkeys(path[0] for path in paths))
    inner = select(ParsedInvoice.item_id, *(literal_column(f"parsed_invoices.model -> '{root}'").label(f"r{n}")
                                            for n, root in enumerate(roots)))
    sub = inner.where(ParsedInvoice.id.in_(newest)).offset(0).subquery("parts")
    values = ", ".join(f"parts.r{roots.index(path[0])}" + (f" #> '{{{','.join(path[1:])}}}'" if path[1:] else "")
                       for path in paths)
    return select(sub.c.item_id, literal_column(f"jsonb_build_array({values})::text"))


def _extract(session: Session, ids: list[int], paths: tuple[tuple[str, ...], ...],
             models: dict[int, dict]) -> None:
    """Put the values at ``paths`` of each item's newest stored model into ``models[item_id]``."""
    for part in _chunks(ids):
        for item_id, values in session.execute(_parts_query(session, part, paths)):
            model = models.setdefault(item_id, {"terms": {}})
            for path, value in zip(paths, json.loads(values)):
                if value is None:
                    continue
                target = model
                for key in path[:-1]:
                    target = target.setdefault(key, {})
                target[path[-1]] = value


def _models(session: Session, ids: list[int], split_ids: list[int]) -> dict[int, dict]:
    """item id → the parts of its newest stored model that records use (`records.MODEL_PARTS`; the lines
    only for split invoices): a fraction of each model is read and parsed, which keeps large exports fast."""
    models: dict[int, dict] = {}
    _extract(session, ids, MODEL_PARTS, models)
    if split_ids:  # two paths, so that both databases answer with an array
        _extract(session, split_ids, (LINES_PART, ("invoice", "number")), models)
    return models


def load_sources(session: Session, items: list[IntakeItem]) -> list[Sources]:
    """What `build_records` needs of each item, read in a few queries (plain rows, not ORM objects)."""
    ids = [item.id for item in items]
    cases: dict[int, Any] = {}
    assignments: dict[int, Any] = {}
    deadlines: dict[int, Any] = {}
    for part in _chunks(ids):
        for case in session.execute(select(
                ApprovalCase.item_id, ApprovalCase.payable_amount, ApprovalCase.payable_reason, ApprovalCase.payee_name,
                ApprovalCase.payee_iban, ApprovalCase.frozen_by, ApprovalCase.frozen_at).where(
                ApprovalCase.item_id.in_(part), ApprovalCase.status == CaseStatus.APPROVED.value,
                ApprovalCase.frozen_at.is_not(None)).order_by(ApprovalCase.id)):
            cases[case.item_id] = case  # the latest approved case wins
        assignments.update((a.item_id, a) for a in session.execute(select(
            Assignment.item_id, Assignment.unit_id, Assignment.cost_centre_id, Assignment.account,
            Assignment.budget_product, Assignment.supplier_id, Assignment.splits).where(Assignment.item_id.in_(part))))
        deadlines.update((d.item_id, d) for d in session.execute(select(
            InvoiceDeadline.item_id, InvoiceDeadline.due_date, InvoiceDeadline.legal_due_date,
            InvoiceDeadline.skonto_deadline, InvoiceDeadline.skonto_amount, InvoiceDeadline.skonto_status,
            InvoiceDeadline.terms).where(InvoiceDeadline.item_id.in_(part))))
    models = _models(session, ids, sorted(i for i, a in assignments.items() if a.splits and len(a.splits) > 1))
    missing = [i for i in ids if i not in models or i not in cases]
    if missing:
        raise Conflict("Freigegebene Rechnungen ohne gelesene Rechnungsdaten oder Anordnung: "
                       + ", ".join(f"#{item_id}" for item_id in missing[:10]))
    supplier_ids = sorted({a.supplier_id for a in assignments.values() if a.supplier_id is not None})
    suppliers = {}
    for part in _chunks(supplier_ids):
        suppliers.update((s.id, s) for s in session.execute(select(
            Supplier.id, Supplier.creditor_number, Supplier.name, Supplier.iban, Supplier.bic)
            .where(Supplier.id.in_(part))))
    centres = {c.id: c for c in session.execute(select(
        CostCentre.id, CostCentre.code, CostCentre.name, CostCentre.unit_id, CostCentre.default_account,
        CostCentre.budget_product))}
    units = dict(session.execute(select(OrgUnit.id, OrgUnit.code)).all())
    result = []
    for item in items:
        assignment = assignments.get(item.id)
        supplier = suppliers.get(assignment.supplier_id) if assignment and assignment.supplier_id else None
        result.append(Sources(item_id=item.id, item_uid=item.uid, received_at=item.received_at,
                              model=models[item.id], case=cases[item.id], assignment=assignment,
                              supplier=supplier, deadline=deadlines.get(item.id), centres=centres, units=units))
    return result
