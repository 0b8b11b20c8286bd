"""Master data CSV import/export on SQLite and PostgreSQL: every kind of the example folder, the
round trip export → import (no change), updates, line-numbered errors, nothing written on error,
``;``/``,``/BOM and German formats, references by natural key, and the example data's agreement
with the project's sample invoices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from einvoice.routing.masterdata import KINDS, export_csv, export_folder, import_csv, import_folder
from einvoice.samples import generate as samples
from einvoice.store.masterdata_models import (Account, Contract, CostCentre, LeitwegId, OrgUnit, PurchaseOrder,
                                              Substitution, Supplier, User, UserSupplierLink, UserUnit)

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL

EXAMPLE = Path(__file__).resolve().parent.parent / "rules" / "routing" / "example-masterdata"
ACTOR = "user:admin"
MODELS = (OrgUnit, Account, CostCentre, LeitwegId, Supplier, PurchaseOrder, Contract, User, UserUnit, Substitution,
          UserSupplierLink)


def load_example(db):
    with db.transaction() as session:
        return import_folder(session, EXAMPLE, actor=ACTOR)


def imported(db, kind, text):
    with db.transaction() as session:
        return import_csv(session, kind, text, actor=ACTOR)


def counts(db) -> dict[str, int]:
    with db.read() as session:
        return {m.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(m)) for m in MODELS}


def one(db, model, **where):
    with db.read() as session:
        return session.scalars(sa.select(model).filter_by(**where)).one()


def problems(result) -> list[tuple[int | None, str | None]]:
    return [(error.line, error.column) for error in result.errors]


def snapshot(db) -> dict[str, str]:
    with db.read() as session:
        return {kind.name: export_csv(session, kind.name) for kind in KINDS}


# --- the example folder ------------------------------------------------------------------------------

def test_example_folder_imports_every_kind(db):
    result = load_example(db)
    assert result.ok, [str(e) for r in result.results for e in r.errors]
    created = {r.kind: r.created for r in result.results}
    for kind in KINDS:  # one row per data line of each file
        lines = (EXAMPLE / f"{kind.name}.csv").read_text(encoding="utf-8").strip().splitlines()
        assert created[kind.name] == len(lines) - 1 > 0, kind.name
    assert all(r.written and r.updated == r.unchanged == 0 for r in result.results)
    assert result.ignored == []

    with db.read() as session:
        tiefbau = session.scalars(sa.select(OrgUnit).filter_by(code="66")).one()
        assert session.get(User, tiefbau.lead_user_id).username == "b.krause"  # set after users.csv
        schmidt = session.scalars(sa.select(User).filter_by(username="r.schmidt")).one()
        assert schmidt.roles == ["rechnungseingang"]
        assert session.scalar(sa.select(sa.func.count()).select_from(UserUnit).filter_by(user_id=schmidt.id)) == 5
        friedhof = session.get(LeitwegId, "05315-FRIEDHOF-38")
        assert session.get(CostCentre, friedhof.cost_centre_id).code == "6720"
        order = session.scalars(sa.select(PurchaseOrder).filter_by(number="BEST-2026-0815")).one()
        assert order.amount == Decimal("1200.00") and order.ordered_on == date(2026, 9, 15) and order.open
        assert session.scalars(sa.select(PurchaseOrder).filter_by(number="BEST-2026-0412")).one().open is False
        assert session.scalars(sa.select(Contract).filter_by(number="V-2023-005")).one().valid_until is None
        substitution = session.scalars(sa.select(Substitution)).one()
        assert substitution.created_by == ACTOR and substitution.ends_on == date(2026, 11, 13)
        assert session.scalars(sa.select(User).filter_by(username="g.alt")).one().active is False


def test_example_data_matches_the_sample_invoices(db):
    load_example(db)
    with db.read() as session:
        assert session.get(LeitwegId, samples.BUYER_LEITWEG_ID) is not None  # BT-10 of Stadt Musterstadt
        for supplier in samples.SUPPLIERS.values():  # BT-31 and BT-84 of every sample seller
            row = session.scalars(sa.select(Supplier).filter_by(vat_id=supplier.party.vat_id)).one()
            assert (row.name, row.iban, row.bic) == (supplier.party.name, supplier.iban, supplier.bic)
        order = session.scalars(sa.select(PurchaseOrder).filter_by(number=samples.ORDER_NUMBER)).one()
        assert session.get(Supplier, order.supplier_id).vat_id == samples.SELLER_VAT_ID
        assert session.get(CostCentre, order.cost_centre_id).code == "6610"


@pytest.mark.parametrize("decimal_comma", [False, True])
def test_round_trip_export_then_import_changes_nothing(db, tmp_path, decimal_comma):
    load_example(db)
    before = snapshot(db)
    with db.read() as session:
        files = export_folder(session, tmp_path / "out", decimal_comma=decimal_comma)
    assert [f.name for f in files] == [f"{kind.name}.csv" for kind in KINDS]
    assert files[0].read_bytes().startswith(b"\xef\xbb\xbf")  # BOM for Excel
    with db.transaction() as session:
        result = import_folder(session, tmp_path / "out", actor=ACTOR)
    assert result.ok
    assert all(r.created == r.updated == 0 and r.unchanged > 0 for r in result.results)
    assert snapshot(db) == before


# --- updates -------------------------------------------------------------------------------------------

def test_changed_rows_are_updated_and_missing_columns_left_alone(db):
    load_example(db)
    result = imported(db, "suppliers", "creditor_number;name\n70001;Musterbau GmbH & Co. KG\n70002;"
                                       "Grünpflege Lindner GmbH & Co. KG\n70099;Neuer Lieferant\n")
    assert (result.created, result.updated, result.unchanged, result.errors) == (1, 1, 1, [])
    musterbau = one(db, Supplier, creditor_number="70001")
    assert musterbau.name == "Musterbau GmbH & Co. KG" and musterbau.iban == "DE91440501990004711815"
    assert one(db, Supplier, creditor_number="70099").active is True

    result = imported(db, "suppliers", "creditor_number;name;iban;active\n70001;Musterbau GmbH & Co. KG;;nein\n")
    assert (result.updated, result.errors) == (1, [])
    musterbau = one(db, Supplier, creditor_number="70001")
    assert musterbau.iban is None and musterbau.active is False  # an empty cell clears


def test_user_units_and_roles_are_replaced(db):
    load_example(db)
    result = imported(db, "users", "username;display_name;roles;units\n"
                                   "m.mueller;Markus Müller (Tiefbau, Sachbearbeitung);approver|kaemmerei;67|20\n")
    assert (result.updated, result.errors) == (1, [])
    with db.read() as session:
        user = session.scalars(sa.select(User).filter_by(username="m.mueller")).one()
        units = session.scalars(sa.select(OrgUnit.code).join(UserUnit, UserUnit.unit_id == OrgUnit.id)
                                .where(UserUnit.user_id == user.id).order_by(OrgUnit.code)).all()
    assert user.roles == ["approver", "kaemmerei"] and units == ["20", "67"]
    assert user.approval_limit == Decimal("5000.00")  # not in the file: kept


# --- errors ----------------------------------------------------------------------------------------------

def test_row_errors_name_line_column_and_value_and_nothing_is_written(db):
    load_example(db)
    before = snapshot(db)
    text = ("creditor_number;name;iban;vat_id;default_cost_centre\n"
            "80001;Gut GmbH;DE89370400440532013000;;6610\n"
            "80002;Tippfehler AG;DE89370400440532013001;;\n"  # IBAN check digits
            "\n"
            "80003;Unbekannt KG;;DE123456789;9999\n"  # VAT check digit, unknown cost centre
            "80001;Doppelt GmbH;;;\n"  # same key as line 2
            "80004;;;;\n"  # name empty
            "80005;zu;viele;Felder;;;\n")
    result = imported(db, "suppliers", text)
    assert problems(result) == [(3, "iban"), (5, "vat_id"), (5, "default_cost_centre"), (6, "creditor_number"),
                                (7, "name"), (8, None)]
    messages = [error.message for error in result.errors]
    assert "Prüfziffer" in messages[0] and result.errors[0].value == "DE89370400440532013001"
    assert "unbekannte Kostenstelle '9999'" in messages[2]
    assert "doppelt: schon in Zeile 2" in messages[3]
    assert "Pflichtfeld" in messages[4] and "7 Felder" in messages[5]
    assert not result.written and (result.created, result.updated) == (0, 0)
    assert snapshot(db) == before  # nothing written, not even the good line 2


def test_header_errors_unknown_and_missing_columns(db):
    result = imported(db, "cost_centres", "code;Name;unit;farbe\n1;x;20;rot\n")
    assert problems(result) == [(1, "farbe")]
    assert "unbekannte Spalte 'farbe'" in result.errors[0].message
    result = imported(db, "cost_centres", "code;budget_product\n1;x\n")
    assert problems(result) == [(1, None)] and "Pflichtspalte(n) fehlen: name, unit" in result.errors[0].message


def test_unknown_references_roles_amounts_and_dates(db):
    load_example(db)
    result = imported(db, "cost_centres", "code;name;unit\n7777;Neu;77\n7778;Neu;fb66\n")
    assert problems(result) == [(2, "unit"), (3, "unit")]
    assert "unbekannte Organisationseinheit '77'" in result.errors[0].message
    result = imported(db, "users", "username;display_name;roles\nx.y;X Y;approver|chef\n")
    assert problems(result) == [(2, "roles")] and "unbekannte Rolle 'chef'" in result.errors[0].message
    result = imported(db, "orders", "number;unit;cost_centre;amount;ordered_on\n"
                                    "B-1;66;6610;12 EUR;2026-09-01\nB-2;66;6610;100;31.09.2026\n")
    assert problems(result) == [(2, "amount"), (3, "ordered_on")]


def test_cross_column_rules(db):
    load_example(db)
    result = imported(db, "orders", "number;unit;cost_centre\nB-1;67;6610\n")
    assert problems(result) == [(2, "cost_centre")]
    assert "gehört zur Einheit 66, nicht zu 67" in result.errors[0].message
    result = imported(db, "contracts", "number;unit;cost_centre;valid_from;valid_until\nV-1;66;6610;2026-12-01;"
                                       "01.11.2026\n")
    assert problems(result) == [(2, "valid_until")]
    result = imported(db, "substitutions", "absent;substitute;unit;starts_on;ends_on\n"
                                           "m.mueller;m.mueller;66;2026-01-01;2026-01-02\n"
                                           "m.mueller;e.schneider;67;2026-01-01;2026-01-02\n")
    assert problems(result) == [(2, "substitute"), (3, "unit")]
    result = imported(db, "users", "username;display_name;roles\no.yilmaz;Okan;kasse|approver\n")
    assert problems(result) == [(2, "roles")] and "Kasse" in result.errors[0].message


def test_a_folder_is_imported_all_or_nothing(db, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("units", "accounts", "cost_centres", "users"):
        (folder / f"{name}.csv").write_bytes((EXAMPLE / f"{name}.csv").read_bytes())
    (folder / "users.csv").write_text("username;display_name;roles\nb.krause;Bernd;chef\n", encoding="utf-8")
    (folder / "notizen.csv").write_text("x\n", encoding="utf-8")
    with db.transaction() as session:
        result = import_folder(session, folder, actor=ACTOR)
    assert not result.ok and result.ignored == ["notizen.csv"]
    by_kind = {r.kind: r for r in result.results}
    assert problems(by_kind["users"]) == [(2, "roles")]
    # the leads are not (validly) in users.csv: errors on their lines of units.csv
    assert problems(by_kind["units"]) == [(line, "lead_username") for line in range(2, 7)]
    assert by_kind["cost_centres"].ok and not by_kind["cost_centres"].written
    assert counts(db) == {model.__tablename__: 0 for model in MODELS}


def test_units_alone_need_existing_leads(db):
    result = imported(db, "units", "code;name;lead_username\n66;Tiefbau;b.krause\n")
    assert problems(result) == [(2, "lead_username")]
    assert "zuerst importieren" in result.errors[0].message


# --- formats ---------------------------------------------------------------------------------------------

def test_comma_delimiter_bom_and_german_formats(db):
    load_example(db)
    text = ('number,supplier,unit,cost_centre,account,amount,ordered_on,open\r\n'
            'B-7,70001,66,6610,5221,"1.234,56",15.09.2026,Nein\r\n'
            'B-8,70001,66,6610,,99.5,2026-09-16,JA\r\n')
    result = imported(db, "orders", ("\ufeff" + text).encode("utf-8"))
    assert (result.created, result.errors) == (2, [])
    first, second = one(db, PurchaseOrder, number="B-7"), one(db, PurchaseOrder, number="B-8")
    assert (first.amount, first.ordered_on, first.open) == (Decimal("1234.56"), date(2026, 9, 15), False)
    assert (second.amount, second.account, second.open) == (Decimal("99.50"), None, True)
    with db.read() as session:
        exported = export_csv(session, "orders", decimal_comma=True)
    assert "B-7;70001;66;6610;5221;1234,56;2026-09-15;nein\r\n" in exported
    assert imported(db, "orders", exported).unchanged == 6


def test_not_utf8_is_one_clear_error(db):
    result = imported(db, "accounts", "code;name\n5999;Geschäftsaufwand\n".encode("cp1252"))
    assert problems(result) == [(2, None)] and "CSV UTF-8" in result.errors[0].message
