"""Test data for the booking export: approved invoices of the example town "Stadt Musterstadt".

Master data is the real example (``rules/routing/example-masterdata``, imported). Each invoice is a
generated XRechnung (`einvoice.samples.generate.ubl_invoice`) read by the real reader into the stored
model dict (`to_dict`); the intake item, assignment and approved case (Anordnung given, payee/IBAN/
amount frozen) are written with the ORM, the deadline row by the real deadline code
(`compute_for_item`, which settles the Skonto of an approved case). `generated_month` makes a
month: 40 invoices of four suppliers (7 % and 19 % VAT, Skonto, document allowances and charges), 3
credit notes, 2 invoices split over two cost centres, 1 partially accepted.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from einvoice.formats.export import to_dict
from einvoice.formats.read import read_invoice
from einvoice.routing.clock import BERLIN, FixedClock
from einvoice.routing.deadlines.service import compute_for_item
from einvoice.routing.masterdata import import_folder
from einvoice.routing.workflow.facts import invoice_facts
from einvoice.samples.generate import SUPPLIERS, Skonto, _Adjustment, ubl_invoice
from einvoice.store.masterdata_models import CostCentre, OrgUnit, Supplier
from einvoice.store.models import Blob, IntakeItem, ParsedInvoice
from einvoice.store.routing_models import ApprovalCase, Assignment

ROOT = Path(__file__).resolve().parent.parent
CENTRE = {"musterbau": "6610", "gruenpflege": "6710", "schreibwerk": "2010", "nordlicht": "2030"}
CREDITOR = {"musterbau": "70001", "gruenpflege": "70002", "schreibwerk": "70003", "nordlicht": "70004"}
MONTH_START = date(2026, 11, 2)
TODAY = date(2026, 12, 1)
DISCOUNT = _Adjustment(False, "Rahmenvertragsrabatt 5 %", "95", Decimal("19.00"), percent=Decimal("5.00"))
FREIGHT = _Adjustment(True, "Versandkostenpauschale", "FC", Decimal("19.00"), amount=Decimal("4.90"))
_numbers = itertools.count(1)


@dataclass
class Town:
    db: object
    centres: dict[str, CostCentre] = field(default_factory=dict)  # code → row
    suppliers: dict[str, int] = field(default_factory=dict)  # creditor number → id
    units: dict[int, str] = field(default_factory=dict)  # id → code
    clock: FixedClock = field(default_factory=lambda: FixedClock(TODAY))


def load_town(db) -> Town:
    with db.transaction() as session:
        result = import_folder(session, ROOT / "rules/routing/example-masterdata", actor="system:test")
        assert all(r.ok for r in result.results), [r.errors for r in result.results if not r.ok]
        town = Town(db)
        town.centres = {c.code: c for c in session.scalars(select(CostCentre))}
        town.suppliers = {s.creditor_number: s.id for s in session.scalars(select(Supplier))}
        town.units = {u.id: u.code for u in session.scalars(select(OrgUnit))}
    return town


def split_rows(town: Town, model: dict, codes: tuple[str, str]) -> list[dict]:
    """Two splits as matching writes them: odd lines to the first cost centre, even ones to the second."""
    rows = []
    for parity, code in enumerate(codes):
        lines = [line for line in model["invoice"]["lines"] if int(line["id"]) % 2 != parity]
        centre = town.centres[code]
        amount = sum((Decimal(line["net_amount"]["value"]) for line in lines), Decimal("0"))
        rows.append({"cost_centre_id": centre.id, "cost_centre": code, "unit_id": centre.unit_id,
                     "account": centre.default_account, "budget_product": centre.budget_product,
                     "amount": str(amount), "lines": [line["id"] for line in lines],
                     "explanation": f"Positionen {', '.join(line['id'] for line in lines)} → KSt {code}"})
    return rows


def approved_invoice(town: Town, *, supplier: str = "musterbau", lines: int = 3, credit_note: bool = False,
                     received: date = MONTH_START, split: tuple[str, str] | None = None, adjustments=(),
                     skonto=None, cut: Decimal | None = None, known_supplier: bool = True) -> int:
    """One approved invoice (see the module docstring); returns the intake item id."""
    db = town.db
    number = f"RE-B-{next(_numbers):05d}"
    data = ubl_invoice(lines, number=number, issue_date=received - timedelta(days=1), supplier=supplier,
                       credit_note=credit_note, adjustments=adjustments, skonto=skonto)
    model = to_dict(read_invoice(data, f"{number}.xml"))
    facts = invoice_facts(model)
    sha = db.blobs.put(data)
    received_at = datetime(received.year, received.month, received.day, 8, 30, tzinfo=BERLIN)
    frozen_at = received_at + timedelta(days=2, hours=2)
    centre = town.centres[CENTRE[supplier]]
    with db.transaction() as session:
        if session.get(Blob, sha) is None:
            session.add(Blob(sha256=sha, size=len(data)))
        item = IntakeItem(channel="api", sender="test", file_name=f"{number}.xml", received_at=received_at, sha256=sha,
                          size=len(data), state="approved", kind=model["kind"], valid=True, triage="accept",
                          invoice_number=number, seller_name=SUPPLIERS[supplier].party.name,
                          issue_date=date.fromisoformat(model["terms"]["BT-2"]))
        session.add(item)
        session.flush()
        session.add(ParsedInvoice(item_id=item.id, model=model))
        session.add(Assignment(item_id=item.id, status="matched", unit_id=centre.unit_id, cost_centre_id=centre.id,
                               account=centre.default_account, budget_product=centre.budget_product,
                               supplier_id=town.suppliers[CREDITOR[supplier]] if known_supplier else None,
                               splits=split_rows(town, model, split) if split else None, assigned_by="system:test"))
        payable = facts.gross - cut if cut else facts.gross
        session.add(ApprovalCase(item_id=item.id, workflow_snapshot={"steps": []}, status="approved",
                                 gross_amount=facts.gross, payable_amount=payable,
                                 payable_reason="Mängel an Pos. 2, Kürzung vereinbart" if cut else None,
                                 payee_name=facts.payee_name, payee_iban=facts.iban, created_at=received_at,
                                 frozen_at=frozen_at, frozen_by="user:b.krause", closed_at=frozen_at))
        session.flush()
        compute_for_item(session, item, clock=FixedClock(frozen_at), settings=db.settings)
        return item.id


def generated_month(town: Town) -> list[int]:
    """40 approved invoices received in November 2026 (see the module docstring)."""
    keys = ("musterbau", "gruenpflege", "schreibwerk", "nordlicht")
    ids = []
    for n in range(40):
        supplier = keys[n % 4]
        kwargs = {"supplier": supplier, "lines": 1 + n % 6, "received": MONTH_START + timedelta(days=n % 26)}
        if n in (5, 17, 33):
            kwargs["credit_note"] = True
        if n == 10:
            kwargs.update(supplier="gruenpflege", lines=5, split=("6710", "6720"))
        if n == 22:
            kwargs.update(supplier="musterbau", lines=4, split=("6610", "6620"), adjustments=(DISCOUNT, FREIGHT))
        if n in (3, 29):
            kwargs["adjustments"] = (DISCOUNT,) if n == 3 else (FREIGHT,)
        if n % 7 == 0:
            kwargs["skonto"] = (Skonto(10, Decimal("3.00")), Skonto(30, Decimal("1.50")))
        if n == 14:
            kwargs["cut"] = Decimal("100.00")
        ids.append(approved_invoice(town, **kwargs))
    return ids


def signed_payable_total(db, item_ids) -> Decimal:
    with db.read() as session:
        cases = session.scalars(select(ApprovalCase).where(ApprovalCase.item_id.in_(list(item_ids))))
        return sum((case.payable_amount for case in cases), Decimal("0.00"))
