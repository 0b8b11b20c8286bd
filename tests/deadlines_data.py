"""Test data for the deadline tests: parsed models through the real export (einvoice.formats), and
items, units, users, assignments and approval cases written directly with the ORM (the workflow's
own code is not used, so these tests only depend on the tables)."""

from __future__ import annotations

import hashlib
import itertools
from datetime import date, datetime
from decimal import Decimal

import pytest

from einvoice.formats.export import to_dict
from einvoice.formats.model import Amount, Invoice, Totals
from einvoice.formats.read import ReadResult
from einvoice.routing.clock import BERLIN
from einvoice.samples.generate import XRECHNUNG_30
from einvoice.store.masterdata_models import OrgUnit, Substitution, User, UserUnit
from einvoice.store.models import Blob, IntakeItem, ParsedInvoice
from einvoice.store.routing_models import ApprovalCase, ApprovalStep, Assignment
from einvoice.validation.identifiers import classify
from einvoice.validation.kinds import DocumentKind

_numbers = itertools.count(1)


def invoice_model(issue: date, amount_due: str | Decimal, bt20: str | None = None, *, due: date | None = None,
                  prepaid: str | None = None, tax_inclusive: str | None = None, credit: bool = False) -> dict:
    """`ParsedInvoice.model` of an invoice with these terms, made by the same export the intake uses."""
    amount = lambda value: Amount(Decimal(value), "EUR") if value is not None else None  # noqa: E731
    invoice = Invoice(syntax="ubl-creditnote" if credit else "ubl-invoice", number=f"RE-{next(_numbers):05d}",
                      issue_date=issue, type_code="381" if credit else "380", currency="EUR", due_date=due,
                      payment_terms=bt20, specification_id=XRECHNUNG_30,
                      totals=Totals(amount_due=amount(str(amount_due)), prepaid=amount(prepaid),
                                    tax_inclusive=amount(tax_inclusive)))
    kind = DocumentKind.UBL_CREDITNOTE if credit else DocumentKind.UBL_INVOICE
    return to_dict(ReadResult(invoice=invoice, kind=kind, specification=classify(XRECHNUNG_30), xml=b""))


def berlin(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def add_item(session, model: dict, received: datetime, *, state: str = "in_approval", seller: str = "Musterbau GmbH"):
    number = model["terms"].get("BT-1") or f"RE-{next(_numbers):05d}"
    sha = hashlib.sha256(f"{number}-{next(_numbers)}".encode()).hexdigest()
    session.add(Blob(sha256=sha, size=1))
    item = IntakeItem(channel="api", received_at=received, sha256=sha, size=1, state=state,
                      invoice_number=number, seller_name=seller, issue_date=date.fromisoformat(model["terms"]["BT-2"]))
    session.add(item)
    session.flush()
    session.add(ParsedInvoice(item_id=item.id, model=model))
    session.flush()
    return item


def add_unit(session, code: str, *, land: str | None = None, lead: User | None = None, email: str | None = None):
    unit = OrgUnit(code=code, name=f"Fachbereich {code}", bundesland=land, lead_user_id=lead.id if lead else None,
                   email=email)
    session.add(unit)
    session.flush()
    return unit


def add_user(session, username: str, *, units=(), roles=("approver",), email: str | None = "", limit=None):
    user = User(username=username, display_name=username.capitalize(), roles=list(roles),
                email=f"{username}@musterstadt.example" if email == "" else email,
                approval_limit=Decimal(limit) if limit is not None else None)
    session.add(user)
    session.flush()
    for unit in units:
        session.add(UserUnit(user_id=user.id, unit_id=unit.id))
    session.flush()
    return user


def substitute(session, absent: User, by: User, starts: date, ends: date) -> None:
    session.add(Substitution(absent_user_id=absent.id, substitute_user_id=by.id, starts_on=starts, ends_on=ends))
    session.flush()


def assign(session, item: IntakeItem, unit: OrgUnit) -> None:
    session.add(Assignment(item_id=item.id, status="matched", unit_id=unit.id, assigned_by="system:test"))
    session.flush()


def add_case(session, item: IntakeItem, unit: OrgUnit, *, opened: datetime, status: str = "open",
             frozen_at: datetime | None = None, kind: str = "sachlich", payable: str = "100.00") -> ApprovalCase:
    """A case with one step: open (``status`` open/parked) or done (``approved`` with ``frozen_at``)."""
    case = ApprovalCase(item_id=item.id, workflow_snapshot={"steps": [kind]}, status=status,
                        gross_amount=Decimal(payable), payable_amount=Decimal(payable), created_at=opened,
                        frozen_at=frozen_at, frozen_by="user:test" if frozen_at else None,
                        parked_at=opened if status == "parked" else None)
    session.add(case)
    session.flush()
    session.add(ApprovalStep(case_id=case.id, position=0, kind=kind, state="done" if frozen_at else "open",
                             unit_id=unit.id, role="approver", opened_at=opened,
                             decided_at=frozen_at))
    session.flush()
    return case


DEADLINE_ENV = ("EINVOICE_BUNDESLAND", "EINVOICE_PAYMENT_DAYS", "EINVOICE_PAYMENT_RUN_LEAD_DAYS",
                "EINVOICE_SKONTO_REMINDER_DAYS", "EINVOICE_ESCALATION_DAYS")


@pytest.fixture(autouse=True)
def default_deadline_settings(monkeypatch):
    """The tests assume the documented defaults (NW, 30 days, lead 1, reminder 3, escalation 5)."""
    for name in DEADLINE_ENV:
        monkeypatch.delenv(name, raising=False)
