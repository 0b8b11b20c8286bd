"""Fixtures of the workflow tests: a small municipality and invoices ready for approval.

`world` (on the `db` fixture of tests/pg.py, so SQLite and PostgreSQL): units 66 (Tiefbau) and 20
(Kämmerei); users A (approver of 66, Anordnung limit 10 000), B (approver of 66, no limit), C
(approver of 66, limit 10 000: the budget holder), D (approver of 66 and its lead, limit 100 000), S
(approver of 20, limit 10 000: stands in for C when a test adds the substitution), K (kaemmerei),
R (rechnungseingang), ADM (admin), KASSE (kasse and approver of 66); supplier Musterbau with its
IBAN; the workflows of rules/routing/workflows.toml ("Standard", "Tiefbau groß" from 25 000 EUR).

`world.item(gross=…)` makes an intake item in ``matched`` with a matched `Assignment` (unit 66, the
supplier) and a `ParsedInvoice` model dict as `einvoice.formats.export.to_dict` writes it: one line,
19 % VAT, amounts that add up (``wrong_total=True``: BT-115 off by 10 EUR, the arithmetic check fails).

Use in a test module: ``pytest_plugins = ["pg", "workflow_fixtures"]``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa

from einvoice.intake.receive import receive
from einvoice.intake.states import transition
from einvoice.routing.clock import FixedClock
from einvoice.routing.workflow.definitions import load_file, replace_workflows
from einvoice.store.masterdata_models import OrgUnit, Substitution, Supplier, User, UserSupplierLink, UserUnit
from einvoice.store.models import AuditEvent, IntakeItem, ParsedInvoice
from einvoice.store.routing_models import ApprovalCase, ApprovalStep, Assignment

IBAN = "DE91440501990004711815"
OTHER_IBAN = "DE02120300000000202051"
TODAY = date(2026, 11, 10)
_numbers = itertools.count(1)


def amount(value: Decimal) -> dict:
    return {"value": str(value), "currency": "EUR"}


def model_for(gross: Decimal | str, *, iban: str | None = IBAN, email: str | None = "buchhaltung@musterbau.example",
              number: str = "RE-1", wrong_total: bool = False) -> dict:
    """A stored invoice model (to_dict shape) of about ``gross`` EUR whose amounts add up."""
    net = (Decimal(gross) / Decimal("1.19")).quantize(Decimal("0.01"))
    tax = (net * Decimal("0.19")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    total = net + tax
    due = total + (Decimal("10.00") if wrong_total else 0)
    seller = {"name": "Musterbau GmbH", "vat_id": "DE123456788"}
    if email:
        seller["contact"] = {"email": email}
    invoice = {
        "syntax": "ubl-invoice", "number": number, "issue_date": "2026-11-02", "type_code": "380", "currency": "EUR",
        "buyer_reference": "05315-12345-85", "seller": seller, "buyer": {"name": "Stadt Musterstadt"},
        "totals": {"line_net_total": amount(net), "tax_exclusive": amount(net), "tax_total": amount(tax),
                   "tax_inclusive": amount(total), "amount_due": amount(due)},
        "vat_breakdown": [{"taxable_amount": amount(net), "tax_amount": amount(tax), "category": "S", "rate": "19.00"}],
        "lines": [{"id": "1", "quantity": {"value": "1", "unit": "C62"}, "net_amount": amount(net),
                   "price": {"net_price": amount(net)}, "vat": {"category": "S", "rate": "19.00"},
                   "item": {"name": "Straßenbauarbeiten"}}],
    }
    terms = {"BT-1": number, "BT-5": "EUR", "BT-27": "Musterbau GmbH", "BT-31": "DE123456788",
             "BT-106": str(net), "BT-110": str(tax), "BT-112": str(total), "BT-115": str(due)}
    if email:
        terms["BT-43"] = email
    if iban:
        invoice["payment_instructions"] = {"means_code": "58", "credit_transfers": [{"account_id": iban}]}
        terms["BT-84"] = [iban]
    return {"invoice": invoice, "terms": terms, "payment_terms": {"skonto_terms": []},
            "direction": {"is_credit_note": False, "sign": 1, "direction": "buyer-pays",
                          "signed_amount_due": amount(due)}}


@dataclass
class World:
    db: object
    clock: FixedClock
    units: dict[str, int] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    supplier_id: int = 0

    def user(self, name: str) -> User:
        return self.users[name]

    def item(self, gross="3000", *, unit: str = "66", supplier: bool = True, channel: str = "upload",
             extra: dict | None = None, **model_kw) -> int:
        """An item in ``matched`` with assignment and parsed model; returns its id."""
        number = f"RE-2026-{next(_numbers):04d}"
        item = receive(self.db, f"<Invoice>{number}</Invoice>".encode(), channel=channel, sender="test",
                       file_name=f"{number}.xml", extra=extra)
        with self.db.transaction() as session:
            row = session.get(IntakeItem, item.id)
            for state in ("validated", "parsed", "matched"):
                transition(row, state, "system:test", "test setup")
            row.invoice_number, row.seller_name = number, "Musterbau GmbH"
            session.add(ParsedInvoice(item_id=item.id, model=model_for(gross, number=number, **model_kw)))
            session.add(Assignment(item_id=item.id, status="matched", unit_id=self.units[unit],
                                   supplier_id=self.supplier_id if supplier else None, assigned_by="system:test"))
        return item.id

    def substitute(self, absent: str, substitute: str, starts: date = TODAY, ends: date = TODAY) -> None:
        with self.db.transaction() as session:
            session.add(Substitution(absent_user_id=self.users[absent].id, substitute_user_id=self.users[substitute].id,
                                     starts_on=starts, ends_on=ends, created_by="test"))

    def link_supplier(self, name: str) -> None:
        with self.db.transaction() as session:
            session.add(UserSupplierLink(user_id=self.users[name].id, supplier_id=self.supplier_id, note="Schwager"))

    # --- reading back ---------------------------------------------------------------------------

    def case(self, item_id: int) -> ApprovalCase:
        with self.db.read() as session:
            return session.scalars(sa.select(ApprovalCase).where(ApprovalCase.item_id == item_id)
                                   .order_by(ApprovalCase.id.desc())).first()

    def steps(self, item_id: int) -> list[ApprovalStep]:
        case = self.case(item_id)
        with self.db.read() as session:
            return list(session.scalars(sa.select(ApprovalStep).where(ApprovalStep.case_id == case.id)
                                        .order_by(ApprovalStep.position)))

    def state(self, item_id: int) -> str:
        with self.db.read() as session:
            return session.get(IntakeItem, item_id).state

    def events(self, item_id: int, event: str = "approval") -> list[AuditEvent]:
        with self.db.read() as session:
            return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == item_id,
                                                                    AuditEvent.event == event).order_by(AuditEvent.id)))


USERS = {  # name: (roles, units, limit)
    "A": (["approver"], ["66"], "10000"), "B": (["approver"], ["66"], None), "C": (["approver"], ["66"], "10000"),
    "D": (["approver"], ["66"], "100000"), "S": (["approver"], ["20"], "10000"), "K": (["kaemmerei"], ["20"], None),
    "R": (["rechnungseingang"], [], None), "ADM": (["admin"], [], None),
    "KASSE": (["kasse", "approver"], ["66"], "100000"),
}


def build_world(db) -> World:
    world = World(db=db, clock=FixedClock(TODAY))
    with db.transaction() as session:
        for code, name in (("66", "Tiefbauamt"), ("20", "Kämmerei")):
            unit = OrgUnit(code=code, name=name)
            session.add(unit)
            session.flush()
            world.units[code] = unit.id
        for name, (roles, units, limit) in USERS.items():
            user = User(username=name.lower(), display_name=f"Person {name}", roles=roles,
                        approval_limit=Decimal(limit) if limit else None, email=f"{name.lower()}@musterstadt.example")
            session.add(user)
            session.flush()
            session.add_all([UserUnit(user_id=user.id, unit_id=world.units[code]) for code in units])
            world.users[name] = user
        session.get(OrgUnit, world.units["66"]).lead_user_id = world.users["D"].id
        supplier = Supplier(creditor_number="70001", name="Musterbau GmbH", iban=IBAN, vat_id="DE123456788")
        session.add(supplier)
        session.flush()
        world.supplier_id = supplier.id
        replace_workflows(session, load_file())
    return world


@pytest.fixture
def world(db) -> World:
    return build_world(db)


def start(world: World, item_id: int, actor: str = "system:route") -> ApprovalCase:
    from einvoice.routing.workflow import start_case

    with world.db.transaction() as session:
        return start_case(session, session.get(IntakeItem, item_id), actor=actor, clock=world.clock)


def act(world: World, fn, item_id: int, who: str, *, version: int | None = None, **kwargs) -> ApprovalCase:
    """Run decision ``fn`` on the item's latest case as user ``who`` (with the version just read)."""
    from einvoice.routing.workflow import run_decision

    case = world.case(item_id)
    return run_decision(world.db, fn, case.id, user=world.user(who),
                        expected_version=case.version if version is None else version, clock=world.clock, **kwargs)
