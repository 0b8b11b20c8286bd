"""Test data for the matching tests: a small municipality's master data, model dicts, intake items.

Used by tests/test_matching_*.py (plain module, imported by name: tests/ is on sys.path).
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import date

from einvoice.formats.leitweg import expected_check_digits
from einvoice.intake import states
from einvoice.store import IntakeItem
from einvoice.store.masterdata_models import (
    Account, Contract, CostCentre, LeitwegId, OrgUnit, PurchaseOrder, Supplier,
)
from einvoice.store.models import Blob, ParsedInvoice
from einvoice.store.types import utcnow


def leitweg(coarse: str, fine: str) -> str:
    return f"{coarse}-{fine}-{expected_check_digits(coarse, fine)}"


COARSE = "05315000"
LW_66 = leitweg(COARSE, "FB66")  # → KSt 6610 (full)
LW_10 = leitweg(COARSE, "FB10")  # → KSt 1100 (full)
LW_40 = leitweg(COARSE, "FB40")  # → unit FB40 only
LW_UNKNOWN = leitweg(COARSE, "FB99")  # valid, same coarse address, not in master data
LW_CENTRAL = leitweg(COARSE, "RE")  # the central address of the Rechnungseingangsstelle (unit FB10, central)
VAT_MUSTERBAU, IBAN_MUSTERBAU = "DE123456788", "DE91440501990004711815"
VAT_SCHULBEDARF, IBAN_SCHULBEDARF = "DE811128135", "DE02120300000000202051"
VAT_BUERO, IBAN_BUERO = "DE136695976", "DE02500105170137075030"

_counter = itertools.count(1)


UNITS = [("FB66", "Tiefbauamt"), ("FB40", "Schulamt"), ("FB10", "Zentrale Dienste")]
ACCOUNTS = [("5221", "Unterhaltung Straßen"), ("5241", "Bewirtschaftung"), ("5431", "Geschäftsaufwendungen")]
CENTRES = [  # code, name, unit, default account, budget product, active
    ("6610", "Straßenunterhaltung", "FB66", "5221", "54.10", True),
    ("6620", "Brückenbau", "FB66", "5221", "54.20", True),
    ("4010", "Grundschulen", "FB40", "5241", "21.10", True),
    ("4020", "Gymnasien", "FB40", "5241", "21.30", True),
    ("1100", "Zentrale Verwaltung", "FB10", "5431", "11.10", True),
    ("9900", "Aufgelöst", "FB10", None, None, False),
]
LEITWEG = [(LW_66, "FB66", "6610"), (LW_10, "FB10", "1100"), (LW_40, "FB40", None), (LW_CENTRAL, "FB10", None)]
SUPPLIERS = [  # key, creditor number, name, VAT id, IBAN, default cost centre
    ("musterbau", "K-1001", "Musterbau GmbH", VAT_MUSTERBAU, IBAN_MUSTERBAU, "6620"),
    ("schulbedarf", "K-1002", "Schulbedarf Meier KG", VAT_SCHULBEDARF, IBAN_SCHULBEDARF, "4010"),
    ("buero", "K-1003", "Büro Schmidt", VAT_BUERO, IBAN_BUERO, None),
]
ORDERS = [  # number, supplier, unit, cost centre, account, open
    ("BEST-2026-0815", "musterbau", "FB66", "6610", "5221", True),
    ("BEST-2026-0900", None, "FB40", "4020", None, False),
]
CONTRACTS = [  # number, unit, cost centre, account, valid from, valid until
    ("V-2024-17", "FB10", "1100", "5241", date(2024, 1, 1), date(2027, 12, 31)),
    ("V-2020-01", "FB40", "4010", None, date(2020, 1, 1), date(2022, 12, 31)),
]


def master_data(session) -> dict[str, int]:
    """The master data above in the database; returns ids by unit code, "KSt <code>" and supplier key."""
    units = {code: OrgUnit(code=code, name=name) for code, name in UNITS}
    session.add_all(units.values())
    session.add_all([Account(code=code, name=name) for code, name in ACCOUNTS])
    session.flush()
    centres = {code: CostCentre(code=code, name=name, unit_id=units[unit].id, default_account=account,
                                budget_product=product, active=active)
               for code, name, unit, account, product, active in CENTRES}
    session.add_all(centres.values())
    session.flush()
    session.add_all([LeitwegId(leitweg_id=lid, unit_id=units[unit].id, cost_centre_id=centres[cc].id if cc else None)
                     for lid, unit, cc in LEITWEG])
    suppliers = {key: Supplier(creditor_number=number, name=name, vat_id=vat, iban=iban,
                               default_cost_centre_id=centres[cc].id if cc else None)
                 for key, number, name, vat, iban, cc in SUPPLIERS}
    session.add_all(suppliers.values())
    session.flush()
    session.add_all([PurchaseOrder(number=number, supplier_id=suppliers[sup].id if sup else None,
                                   unit_id=units[unit].id, cost_centre_id=centres[cc].id, account=account, open=open_)
                     for number, sup, unit, cc, account, open_ in ORDERS])
    session.add_all([Contract(number=number, unit_id=units[unit].id, cost_centre_id=centres[cc].id, account=account,
                              valid_from=start, valid_until=until)
                     for number, unit, cc, account, start, until in CONTRACTS])
    session.flush()
    ids = {code: unit.id for code, unit in units.items()}
    ids.update({f"KSt {code}": centre.id for code, centre in centres.items()})
    ids.update({key: supplier.id for key, supplier in suppliers.items()})
    return ids


def memory_context(rules=None, *, min_confidence: int = 50):
    """The same master data as a `MatchingContext` without a database (ids: 1, 2, … in list order);
    rules: the default file's unless given (`Rule` objects or definition dicts)."""
    from einvoice.routing.matching.context import (
        ContractInfo, CostCentreInfo, LeitwegInfo, MatchingContext, OrderInfo, SupplierInfo, UnitInfo,
    )
    from einvoice.routing.matching.rules import Rule, default_rules_file, parse_rules_toml

    unit = {code: i for i, (code, _) in enumerate(UNITS, start=1)}
    cc = {code: i for i, (code, *_rest) in enumerate(CENTRES, start=1)}
    sup = {key: i for i, (key, *_rest) in enumerate(SUPPLIERS, start=1)}
    if rules is None:
        rules = parse_rules_toml(default_rules_file().read_text(encoding="utf-8"))
    made = []
    for position, rule in enumerate(rules, start=1):
        if isinstance(rule, dict):
            rule = Rule.make(id=position, position=position, name=rule["name"], key=rule["key"],
                             pattern=rule.get("pattern"), unit_id=unit.get(rule.get("unit")),
                             cost_centre_id=cc.get(rule.get("cost_centre")), account=rule.get("account"),
                             confidence=rule.get("confidence", 90), active=rule.get("active", True))
        made.append(rule)
    return MatchingContext.build(
        units=[UnitInfo(unit[code], code, name) for code, name in UNITS],
        cost_centres=[CostCentreInfo(cc[code], code, name, unit[u], account, product, active)
                      for code, name, u, account, product, active in CENTRES],
        leitweg_ids=[LeitwegInfo(lid, unit[u], cc[c] if c else None, central=lid == LW_CENTRAL)
                     for lid, u, c in LEITWEG],
        orders=[OrderInfo(number, unit[u], cc[c], account, sup[s] if s else None, open_)
                for number, s, u, c, account, open_ in ORDERS],
        contracts=[ContractInfo(number, unit[u], cc[c], account, None, start, until)
                   for number, u, c, account, start, until in CONTRACTS],
        suppliers=[SupplierInfo(sup[key], number, name, vat, None, iban, cc[c] if c else None)
                   for key, number, name, vat, iban, c in SUPPLIERS],
        rules=made, min_confidence=min_confidence)


def model(*, leitweg_id=None, order=None, contract=None, buyer_reference=None, vat=None, iban=None,
          name="Unbekannt AG", lines=None, issue_date="2026-11-02", number=None) -> dict:
    """A ParsedInvoice model dict with the keys matching reads. ``lines``: [(id, BT-133, net amount)]."""
    terms = {"BT-1": number or f"RE-{next(_counter):05d}", "BT-2": issue_date, "BT-5": "EUR", "BT-27": name,
             "BT-115": "119.00"}
    for bt, value in [("BT-10", leitweg_id), ("BT-13", order), ("BT-12", contract), ("BT-19", buyer_reference),
                      ("BT-31", vat)]:
        if value is not None:
            terms[bt] = value
    if iban is not None:
        terms["BT-84"] = [iban]
    lines = lines or [("1", None, "100.00")]
    invoice_lines = []
    for line_id, reference, amount in lines:
        line = {"id": line_id, "net_amount": {"value": amount, "currency": "EUR"}}
        if reference is not None:
            line["accounting_reference"] = reference
        invoice_lines.append(line)
    return {"terms": terms, "invoice": {"lines": invoice_lines}}


def parsed_item(session, invoice_model: dict, *, state: str = "parsed") -> IntakeItem:
    """An intake item that went received → validated → parsed (→ matched → in_approval) with its model."""
    data = repr(invoice_model).encode() + str(next(_counter)).encode()
    sha = hashlib.sha256(data).hexdigest()
    session.add(Blob(sha256=sha, size=len(data)))
    item = IntakeItem(channel="api", sender="test", file_name="x.xml", received_at=utcnow(), sha256=sha,
                      size=len(data), state="received")
    session.add(item)
    session.flush()
    states.initial_event(item, actor="system:test", reason="test")
    for to in ("validated", "parsed", "matched", "in_approval"):
        states.transition(item, to, "system:test", "test")
        if to == "parsed":
            session.add(ParsedInvoice(item_id=item.id, model=invoice_model))
        if to == state:
            break
    session.flush()
    return item
