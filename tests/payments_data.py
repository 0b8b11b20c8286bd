"""Approved invoices for the payment tests, through the real workflow: the `world` of
workflow_fixtures (units, users, supplier Musterbau, workflows), an item with a parsed model whose
Skonto terms come from the real BT-20 parser (`deadlines_data.invoice_model`), the approval case
started and approved by A (sachlich) and C (Anordnung), optionally with a partial acceptance, and the
`InvoiceDeadline` computed (and settled) by `einvoice.routing.deadlines`.

``approved(world, "1190.00", bt20=ONE_TERM)`` returns the item id. Use in a test module:
``pytest_plugins = ["pg", "workflow_fixtures"]``.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date

from deadlines_data import invoice_model
from einvoice.intake.receive import receive
from einvoice.intake.states import transition
from einvoice.routing.deadlines.service import compute_for_item
from einvoice.routing.workflow import approve, set_payable
from einvoice.store.models import IntakeItem, ParsedInvoice
from einvoice.store.routing_models import Assignment
from workflow_fixtures import IBAN, World, act, model_for, start

DEBTOR = {"debtor_name": "Stadt Musterstadt", "debtor_iban": "DE02120300000000202051", "debtor_bic": "BYLADEM1001"}
ISSUE = date(2026, 11, 9)  # world.clock stands on Tue 10 Nov 2026
ONE_TERM = "#SKONTO#TAGE=14#PROZENT=2.00#\n"  # deadline Mon 23 Nov 2026
STAGGERED = "#SKONTO#TAGE=7#PROZENT=3.00#\n#SKONTO#TAGE=14#PROZENT=2.00#\n#SKONTO#TAGE=30#PROZENT=0.00#\n"
_numbers = itertools.count(1)


def settings_for(db, **changes):
    """The test database's settings with the municipality's account (EINVOICE_DEBTOR_*)."""
    return replace(db.settings, **{**DEBTOR, **changes})


def payment_model(gross: str, *, bt20: str | None, issue: date, number: str, payee: str | None,
                  iban: str | None, credit: bool) -> dict:
    model = model_for(gross, iban=iban, number=number)
    terms = model["terms"]
    terms["BT-2"] = model["invoice"]["issue_date"] = issue.isoformat()
    if payee:
        terms["BT-27"] = model["invoice"]["seller"]["name"] = payee
    if bt20:
        terms["BT-20"] = bt20
        model["payment_terms"] = invoice_model(issue, terms["BT-115"], bt20)["payment_terms"]
    if credit:
        model["invoice"]["type_code"] = "381"
        model["direction"] = {**model["direction"], "is_credit_note": True, "sign": -1, "direction": "seller-pays"}
    return model


def approved(world: World, gross: str = "1190.00", *, bt20: str | None = None, issue: date = ISSUE,
             payable: str | None = None, payee: str | None = None, iban: str | None = IBAN,
             credit: bool = False, approve_it: bool = True) -> int:
    """An invoice approved through the workflow (Anordnung by C); returns its item id."""
    number = f"RE-PAY-{next(_numbers):04d}"
    db = world.db
    item = receive(db, f"<Invoice>{number}</Invoice>".encode(), channel="upload", sender="test",
                   file_name=f"{number}.xml")
    with db.transaction() as session:
        row = session.get(IntakeItem, item.id)
        for state in ("validated", "parsed", "matched"):
            transition(row, state, "system:test", "test setup")
        row.invoice_number, row.seller_name = number, payee or "Musterbau GmbH"
        session.add(ParsedInvoice(item_id=item.id, model=payment_model(
            gross, bt20=bt20, issue=issue, number=number, payee=payee, iban=iban, credit=credit)))
        session.add(Assignment(item_id=item.id, status="matched", unit_id=world.units["66"],
                               supplier_id=world.supplier_id, assigned_by="system:test"))
    start(world, item.id)
    if payable is not None:
        act(world, set_payable, item.id, "A", reason="Teilleistung nicht erbracht", payable_amount=payable)
    if approve_it:
        act(world, approve, item.id, "A", reason="Leistung abgenommen")
        act(world, approve, item.id, "C")
    with db.transaction() as session:
        compute_for_item(session, session.get(IntakeItem, item.id), clock=world.clock, settings=db.settings)
    return item.id
