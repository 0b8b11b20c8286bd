"""One declarative description per master data kind: its CSV columns (parse / check / format), its
natural key, and how the columns map to the database model.

`KINDS` is ordered for import (a kind only refers to kinds before it; the lead of a unit is the
exception: `einvoice.routing.masterdata.importer.import_folder` sets it after the users).

A `Column` is ``required`` (in the header and a value in every row) or optional (may be left out
of the file: then the field is not touched on update and gets its default on create; an empty
cell clears the field or, for booleans, gives the default). ``ref`` names the kind whose natural
key the column holds; ``many`` columns hold a ``|``-separated list of keys or values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...store.masterdata_models import (Account, Contract, CostCentre, LeitwegId, OrgUnit, PurchaseOrder,
                                        Substitution, Supplier, User, UserSupplierLink, UserUnit)
from . import normalize as n
from .refs import Refs


@dataclass(frozen=True)
class ValueType:
    name: str  # text, amount, date, bool, list (JSON type of the API)
    parse: Callable[[str], Any]
    format: Callable[[Any, bool], str] = lambda value, decimal_comma: "" if value is None else str(value)


AMOUNT = ValueType("amount", n.parse_amount, lambda value, comma: n.format_amount(value, decimal_comma=comma))
DATE = ValueType("date", n.parse_date, lambda value, comma: n.format_date(value))
BOOL = ValueType("bool", n.parse_bool, lambda value, comma: n.format_bool(value))
ROLES = ValueType("list", n.parse_roles, lambda value, comma: n.format_list(value))
KEYS = ValueType("list", n.parse_list, lambda value, comma: n.format_list(value))


def text(max_length: int, **options) -> ValueType:
    return ValueType("text", n.text(max_length, **options))


def checked(parse: Callable[[str], str]) -> ValueType:
    return ValueType("text", parse)


CODE = text(32, no_spaces=True, forbid="|")
USERNAME = text(128, no_spaces=True, forbid="|")


@dataclass(frozen=True)
class Column:
    name: str
    type: ValueType
    attr: str | None = None  # model attribute (a foreign key for ``ref`` columns)
    ref: str | None = None  # kind whose natural key the cell holds
    required: bool = False  # in the header and a value in every row
    in_header: bool = False  # in the header, may be empty (an optional part of a composite key)
    default: Any = None  # the value of an empty cell
    many: bool = False  # a list (``ref``: of keys; set through `Kind.set_many` after a flush)

    @property
    def must_be_in_header(self) -> bool:
        return self.required or self.in_header


Check = Callable[[dict[str, Any], dict[str, Any], Refs], list[tuple[str, str]]]


@dataclass(frozen=True)
class Kind:
    name: str
    title: str  # German, plural
    model: type
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # column names of the natural key
    order_by: tuple[str, ...]  # model attributes: the order of lists and exports
    check: Check | None = None  # cross-column checks: (values, targets, refs) → [(column, message)]
    on_create: Callable[[Any, str], None] | None = None  # (row, actor)
    set_many: Callable[[Session, Any, Column, list[Any]], None] | None = None
    get_many: Callable[[Any, Column, Refs], list[str]] | None = None
    column_map: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "column_map", {column.name: column for column in self.columns})

    @property
    def has_active(self) -> bool:
        return "active" in self.column_map

    def value_of(self, row: Any, column: Column, refs: Refs) -> Any:
        """The typed value of a column for a database row (a key string for references)."""
        if column.many:
            return self.get_many(row, column, refs) if self.get_many else []
        value = getattr(row, column.attr)
        return refs.key_of(column.ref, value) if column.ref else value


def _active() -> Column:
    return Column("active", BOOL, "active", default=True)


def _cost_centre_in_unit(values, targets, refs, cost_centre="cost_centre", unit="unit") -> list[tuple[str, str]]:
    centre, org = targets.get(cost_centre), targets.get(unit)
    if centre is not None and org is not None and centre.unit_id != org.id:
        owner = refs.key_of("units", centre.unit_id)
        return [(cost_centre, f"Kostenstelle {centre.code} gehört zur Einheit {owner}, nicht zu {org.code}")]
    return []


def _check_contract(values, targets, refs):
    problems = _cost_centre_in_unit(values, targets, refs)
    start, end = values.get("valid_from"), values.get("valid_until")
    if start and end and start > end:
        problems.append(("valid_until", "Vertragsende liegt vor dem Vertragsbeginn"))
    return problems


def _check_user(values, targets, refs):
    roles = values.get("roles") or []
    if "kasse" in roles and "approver" in roles:
        return [("roles", "Kasse und Anordnung in einer Person sind nicht zulässig (Trennung von Anordnung und "
                          "Zahlung): Rolle kasse nicht zusammen mit approver")]
    return []


def _check_substitution(values, targets, refs):
    problems = []
    absent, substitute, unit = targets.get("absent"), targets.get("substitute"), targets.get("unit")
    if absent is not None and absent is substitute:
        problems.append(("substitute", "niemand kann sich selbst vertreten"))
    start, end = values.get("starts_on"), values.get("ends_on")
    if start and end and start > end:
        problems.append(("ends_on", "Ende der Vertretung liegt vor ihrem Beginn"))
    if absent is not None and unit is not None and unit.code not in refs.user_units(absent.id):
        problems.append(("unit", f"{absent.username} handelt nicht für die Einheit {unit.code} "
                                 "(Spalte units in users.csv)"))
    return problems


def _user_units(row: User, column: Column, refs: Refs) -> list[str]:
    return refs.user_units(row.id)


def _set_user_units(session: Session, user: User, column: Column, units: list[OrgUnit]) -> None:
    wanted = {unit.id for unit in units}
    current = {link.unit_id: link for link in session.scalars(select(UserUnit).where(UserUnit.user_id == user.id))}
    for unit_id, link in current.items():
        if unit_id not in wanted:
            session.delete(link)
    for unit_id in wanted - current.keys():
        session.add(UserUnit(user_id=user.id, unit_id=unit_id))


def _created_by(row: Substitution, actor: str) -> None:
    row.created_by = actor


KINDS: tuple[Kind, ...] = (
    Kind("units", "Organisationseinheiten", OrgUnit, (
        Column("code", CODE, "code", required=True),
        Column("name", text(256), "name", required=True),
        Column("bundesland", checked(n.parse_bundesland), "bundesland"),
        Column("email", checked(n.parse_email), "email"),
        Column("lead_username", USERNAME, "lead_user_id", ref="users"),
        _active(),
    ), key=("code",), order_by=("code",)),
    Kind("accounts", "Sachkonten", Account, (
        Column("code", CODE, "code", required=True),
        Column("name", text(256), "name", required=True),
        _active(),
    ), key=("code",), order_by=("code",)),
    Kind("cost_centres", "Kostenstellen", CostCentre, (
        Column("code", CODE, "code", required=True),
        Column("name", text(256), "name", required=True),
        Column("unit", CODE, "unit_id", ref="units", required=True),
        Column("default_account", CODE, "default_account", ref="accounts"),
        Column("budget_product", text(64), "budget_product"),
        _active(),
    ), key=("code",), order_by=("code",)),
    Kind("leitweg_ids", "Leitweg-IDs", LeitwegId, (
        Column("leitweg_id", checked(n.parse_leitweg_id), "leitweg_id", required=True),
        Column("unit", CODE, "unit_id", ref="units", required=True),
        Column("cost_centre", CODE, "cost_centre_id", ref="cost_centres"),
        Column("description", text(256), "description"),
        Column("central", BOOL, "central", default=False),
    ), key=("leitweg_id",), order_by=("leitweg_id",), check=_cost_centre_in_unit),
    Kind("suppliers", "Lieferanten", Supplier, (
        Column("creditor_number", CODE, "creditor_number", required=True),
        Column("name", text(512), "name", required=True),
        Column("vat_id", checked(n.parse_vat_id), "vat_id"),
        Column("tax_number", text(64), "tax_number"),
        Column("iban", checked(n.parse_iban), "iban"),
        Column("bic", checked(n.parse_bic), "bic"),
        Column("email", checked(n.parse_email), "email"),
        Column("default_cost_centre", CODE, "default_cost_centre_id", ref="cost_centres"),
        _active(),
    ), key=("creditor_number",), order_by=("creditor_number",)),
    Kind("orders", "Bestellungen", PurchaseOrder, (
        Column("number", text(128), "number", required=True),
        Column("supplier", CODE, "supplier_id", ref="suppliers"),
        Column("unit", CODE, "unit_id", ref="units", required=True),
        Column("cost_centre", CODE, "cost_centre_id", ref="cost_centres", required=True),
        Column("account", CODE, "account", ref="accounts"),
        Column("amount", AMOUNT, "amount"),
        Column("ordered_on", DATE, "ordered_on"),
        Column("open", BOOL, "open", default=True),
    ), key=("number",), order_by=("number",), check=_cost_centre_in_unit),
    Kind("contracts", "Verträge", Contract, (
        Column("number", text(128), "number", required=True),
        Column("supplier", CODE, "supplier_id", ref="suppliers"),
        Column("unit", CODE, "unit_id", ref="units", required=True),
        Column("cost_centre", CODE, "cost_centre_id", ref="cost_centres", required=True),
        Column("account", CODE, "account", ref="accounts"),
        Column("valid_from", DATE, "valid_from"),
        Column("valid_until", DATE, "valid_until"),
    ), key=("number",), order_by=("number",), check=_check_contract),
    Kind("users", "Benutzer", User, (
        Column("username", USERNAME, "username", required=True),
        Column("display_name", text(256), "display_name", required=True),
        Column("email", checked(n.parse_email), "email"),
        Column("roles", ROLES, "roles", default=[]),
        Column("units", KEYS, ref="units", many=True, default=[]),
        Column("approval_limit", AMOUNT, "approval_limit"),
        _active(),
    ), key=("username",), order_by=("username",), check=_check_user, set_many=_set_user_units,
        get_many=_user_units),
    Kind("substitutions", "Vertretungen", Substitution, (
        Column("absent", USERNAME, "absent_user_id", ref="users", required=True),
        Column("substitute", USERNAME, "substitute_user_id", ref="users", required=True),
        Column("unit", CODE, "unit_id", ref="units", in_header=True),
        Column("starts_on", DATE, "starts_on", required=True),
        Column("ends_on", DATE, "ends_on", required=True),
    ), key=("absent", "substitute", "unit", "starts_on"), order_by=("starts_on", "id"), check=_check_substitution,
        on_create=_created_by),
    Kind("supplier_links", "Verbindungen Benutzer–Lieferant", UserSupplierLink, (
        Column("username", USERNAME, "user_id", ref="users", required=True),
        Column("creditor_number", CODE, "supplier_id", ref="suppliers", required=True),
        Column("note", text(2000), "note"),
    ), key=("username", "creditor_number"), order_by=("user_id", "supplier_id")),
)

KIND_MAP: dict[str, Kind] = {kind.name: kind for kind in KINDS}


def get_kind(name: str) -> Kind:
    try:
        return KIND_MAP[name]
    except KeyError:
        raise ValueError(f"unknown master data kind {name!r}; kinds: {', '.join(KIND_MAP)}") from None
