"""Everything a matching run needs, loaded once per run into dictionaries.

`load_context(session)` runs a fixed number of queries (units, cost centres, Leitweg-IDs, orders,
contracts, active suppliers, active rules), whatever the number of invoices matched with the
context afterwards: the engine then only does dictionary look-ups (a run of 10,000 invoices does
not query per invoice per rule; ``bench/matching.py`` measures it). `MatchingContext.build` makes
one from plain records (tests, benchmark).

Keys are normalised as in `keys.py`: references upper case without whitespace, supplier names
case-folded with whitespace collapsed. Suppliers are indexed by VAT id, tax number, IBAN and name;
a value shared by several suppliers is ambiguous and identifies none of them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...config import load_settings
from ...store.masterdata_models import Contract, CostCentre, LeitwegId, OrgUnit, PurchaseOrder, Supplier
from .keys import InvoiceKeys, clean_name, norm_name, norm_ref
from .rules import Rule, load_rules


@dataclass(frozen=True)
class UnitInfo:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class CostCentreInfo:
    id: int
    code: str
    name: str
    unit_id: int
    default_account: str | None = None
    budget_product: str | None = None
    active: bool = True


@dataclass(frozen=True)
class LeitwegInfo:
    leitweg_id: str
    unit_id: int
    cost_centre_id: int | None = None
    description: str | None = None
    central: bool = False  # the central address: names no department


@dataclass(frozen=True)
class OrderInfo:
    number: str
    unit_id: int
    cost_centre_id: int
    account: str | None = None
    supplier_id: int | None = None
    open: bool = True


@dataclass(frozen=True)
class ContractInfo:
    number: str
    unit_id: int
    cost_centre_id: int
    account: str | None = None
    supplier_id: int | None = None
    valid_from: date | None = None
    valid_until: date | None = None


@dataclass(frozen=True)
class SupplierInfo:
    id: int
    creditor_number: str
    name: str
    vat_id: str | None = None
    tax_number: str | None = None
    iban: str | None = None
    default_cost_centre_id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.creditor_number} {self.name}"


@dataclass(frozen=True)
class SupplierMatch:
    supplier: SupplierInfo | None
    how: str | None = None  # "USt-IdNr.", "Steuernummer", "IBAN", "Name"
    note: str | None = None  # ambiguity


def _index(items: Iterable, key) -> dict[str, list]:
    found: dict[str, list] = defaultdict(list)
    for item in items:
        value = key(item)
        if value:
            found[value].append(item)
    return dict(found)


@dataclass
class MatchingContext:
    units: dict[int, UnitInfo]
    cost_centres: dict[int, CostCentreInfo]
    leitweg_ids: dict[str, LeitwegInfo]
    orders: dict[str, OrderInfo]
    contracts: dict[str, ContractInfo]
    suppliers: dict[int, SupplierInfo]
    rules: list[Rule]
    min_confidence: int = 50
    cost_centres_by_code: dict[str, CostCentreInfo] = field(default_factory=dict)
    leitweg_by_coarse: dict[str, list[str]] = field(default_factory=dict)
    suppliers_by: dict[str, dict[str, list[SupplierInfo]]] = field(default_factory=dict)

    @classmethod
    def build(cls, *, units: Iterable[UnitInfo] = (), cost_centres: Iterable[CostCentreInfo] = (),
              leitweg_ids: Iterable[LeitwegInfo] = (), orders: Iterable[OrderInfo] = (),
              contracts: Iterable[ContractInfo] = (), suppliers: Iterable[SupplierInfo] = (),
              rules: Iterable[Rule] = (), min_confidence: int = 50) -> MatchingContext:
        centres = {c.id: c for c in cost_centres}
        leitweg = {norm_ref(lid.leitweg_id): lid for lid in leitweg_ids if norm_ref(lid.leitweg_id)}
        coarse: dict[str, list[str]] = defaultdict(list)
        for value in sorted(leitweg):
            coarse[value.split("-", 1)[0]].append(value)
        supplier_list = list(suppliers)
        return cls(
            units={u.id: u for u in units}, cost_centres=centres, leitweg_ids=leitweg,
            orders={norm_ref(o.number): o for o in orders if norm_ref(o.number)},
            contracts={norm_ref(c.number): c for c in contracts if norm_ref(c.number)},
            suppliers={s.id: s for s in supplier_list},
            rules=sorted((r for r in rules if r.active), key=lambda r: (r.position, r.id or 0)),
            min_confidence=min_confidence,
            cost_centres_by_code={norm_ref(c.code): c for c in centres.values() if norm_ref(c.code)},
            leitweg_by_coarse=dict(coarse),
            suppliers_by={"vat": _index(supplier_list, lambda s: norm_ref(s.vat_id)),
                          "tax": _index(supplier_list, lambda s: norm_ref(s.tax_number)),
                          "iban": _index(supplier_list, lambda s: norm_ref(s.iban)),
                          "name": _index(supplier_list, lambda s: norm_name(s.name))},
        )

    # --- look-ups ----------------------------------------------------------------------------------

    def supplier_by(self, kind: str, value: str | None) -> tuple[SupplierInfo | None, int]:
        """The one supplier with this VAT id / tax number / IBAN / name (``kind`` vat, tax, iban, name),
        and how many share the value (0: unknown, >1: ambiguous, then None)."""
        if not value:
            return None, 0
        value = norm_name(value) if kind == "name" else norm_ref(value)
        found = self.suppliers_by.get(kind, {}).get(value or "", [])
        return (found[0] if len(found) == 1 else None), len(found)

    def find_supplier(self, keys: InvoiceKeys) -> SupplierMatch:
        """The invoice's supplier: by VAT id (BT-31), else tax number (BT-32), else IBAN (BT-84), else name (BT-27)."""
        notes = []
        attempts = [("vat", "USt-IdNr.", keys.seller_vat_id), ("tax", "Steuernummer", keys.seller_tax_number)]
        attempts += [("iban", "IBAN", iban) for iban in keys.ibans]
        attempts.append(("name", "Name", keys.seller_name))
        for kind, how, value in attempts:
            supplier, count = self.supplier_by(kind, value)
            if supplier is not None:
                return SupplierMatch(supplier, how, "; ".join(notes) or None)
            if count > 1:
                notes.append(f"{how} {value} passt zu {count} Lieferanten")
        return SupplierMatch(None, None, "; ".join(notes) or None)

    def cost_centre_text(self, cost_centre_id: int | None) -> str:
        centre = self.cost_centres.get(cost_centre_id) if cost_centre_id is not None else None
        return f"KSt {centre.code} {centre.name}" if centre else f"KSt #{cost_centre_id}"

    def unit_text(self, unit_id: int | None) -> str:
        unit = self.units.get(unit_id) if unit_id is not None else None
        return f"OE {unit.code} {unit.name}" if unit else f"OE #{unit_id}"


def load_context(session: Session, *, min_confidence: int | None = None) -> MatchingContext:
    """All master data and the active rules, in seven queries."""
    if min_confidence is None:
        min_confidence = load_settings().match_min_confidence
    units = [UnitInfo(*row) for row in session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.name))]
    centres = [CostCentreInfo(*row) for row in session.execute(
        select(CostCentre.id, CostCentre.code, CostCentre.name, CostCentre.unit_id, CostCentre.default_account,
               CostCentre.budget_product, CostCentre.active))]
    leitweg = [LeitwegInfo(*row) for row in session.execute(
        select(LeitwegId.leitweg_id, LeitwegId.unit_id, LeitwegId.cost_centre_id, LeitwegId.description,
               LeitwegId.central))]
    orders = [OrderInfo(*row) for row in session.execute(
        select(PurchaseOrder.number, PurchaseOrder.unit_id, PurchaseOrder.cost_centre_id, PurchaseOrder.account,
               PurchaseOrder.supplier_id, PurchaseOrder.open))]
    contracts = [ContractInfo(*row) for row in session.execute(
        select(Contract.number, Contract.unit_id, Contract.cost_centre_id, Contract.account, Contract.supplier_id,
               Contract.valid_from, Contract.valid_until))]
    suppliers = [SupplierInfo(id, number, clean_name(name) or "", vat, tax, iban, default_cc)
                 for id, number, name, vat, tax, iban, default_cc in session.execute(
                     select(Supplier.id, Supplier.creditor_number, Supplier.name, Supplier.vat_id, Supplier.tax_number,
                            Supplier.iban, Supplier.default_cost_centre_id).where(Supplier.active.is_(True)))]
    return MatchingContext.build(units=units, cost_centres=centres, leitweg_ids=leitweg, orders=orders,
                                 contracts=contracts, suppliers=suppliers, rules=load_rules(session),
                                 min_confidence=min_confidence)
