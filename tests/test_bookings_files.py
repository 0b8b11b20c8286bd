"""Booking records and their files without a database: distribution to the cent (largest remainder),
splits by their lines' VAT, credit-note signs, the generic CSV (headers, every field), decimal comma and
date formats, the example finance-system mapping (one row per VAT group, Windows-1252), mapping
errors, and the JSON round trip."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import datetime, timezone
from decimal import Decimal
from types import SimpleNamespace as NS

import pytest

from einvoice.formats.export import to_dict
from einvoice.formats.read import read_invoice
from einvoice.handoff.bookings import MappingError, Sources, allocate, build_records, load_mapping, parse_mapping
from einvoice.handoff.bookings.fields import RECORD_FIELDS
from einvoice.handoff.bookings.writers import write_csv, write_json
from einvoice.samples.generate import ubl_invoice

CENTRES = {1: NS(code="6710", name="Grünflächenunterhaltung", unit_id=7, default_account="5221",
                 budget_product="13.01.01"),
           2: NS(code="6720", name="Friedhöfe", unit_id=7, default_account="5211", budget_product="13.02.01")}
SUPPLIER = NS(creditor_number="70002", name="Grünpflege Lindner GmbH & Co. KG", iban="DE34200505501234567890",
              bic="GRUNDEH1XXX")


def model(**kwargs) -> dict:
    return to_dict(read_invoice(ubl_invoice(**{"lines": 5, "supplier": "gruenpflege", **kwargs})))


def records_of(m: dict, *, splits=None, payable=None, deadline=None, supplier=SUPPLIER, item_id=1) -> list[dict]:
    sign = m["direction"]["sign"]
    due = Decimal(m["terms"]["BT-115"]) * sign
    case = NS(payable_amount=due if payable is None else payable, payable_reason=None, payee_name="Grünpflege",
              payee_iban=m["terms"]["BT-84"][0], frozen_by="user:c.neumann",
              frozen_at=datetime(2026, 11, 4, 23, 30, tzinfo=timezone.utc))
    assignment = NS(unit_id=7, cost_centre_id=1, account="5221", budget_product="13.01.01", splits=splits)
    src = Sources(item_id=item_id, item_uid=f"uid{item_id}",
                  received_at=datetime(2026, 11, 2, 23, 30, tzinfo=timezone.utc),
                  model=m, case=case, assignment=assignment, supplier=supplier, deadline=deadline,
                  centres=CENTRES, units={7: "67"})
    return [{**r, "batch_id": 9} for r in build_records(src)]


def rows_of(data: bytes, mapping) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(mapping.encoding), newline=""), delimiter=mapping.delimiter))


def test_allocate_sums_exactly_by_largest_remainder():
    assert allocate(Decimal("100.00"), [1, 1, 1]) == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert allocate(Decimal("0.05"), [0, 0]) == [Decimal("0.03"), Decimal("0.02")]  # zero weights: equal
    assert allocate(Decimal("10.00"), [3, -1]) == [Decimal("15.00"), Decimal("-5.00")]  # a split of credit lines
    assert allocate(Decimal("1.00"), [Decimal("0.1"), Decimal("0.7"), Decimal("0.2")]) == [
        Decimal("0.10"), Decimal("0.70"), Decimal("0.20")]
    assert allocate(Decimal("0.10"), [1, 2, 2, 1]) == [Decimal("0.02"), Decimal("0.03"), Decimal("0.03"),
                                                       Decimal("0.02")]  # remainders .67 .33 .33 .67
    assert allocate(Decimal("0.01"), [1, 1]) == [Decimal("0.01"), Decimal("0.00")]  # a tie: the earlier part
    assert allocate(Decimal("-0.01"), [1, 1]) == [Decimal("0.00"), Decimal("-0.01")]  # floors go down
    rnd = random.Random(9)
    for _ in range(500):
        total = Decimal(rnd.randint(-10**7, 10**7)) / 100
        weights = [Decimal(rnd.randint(0, 10**6)) / 100 for _ in range(rnd.randint(1, 6))]
        parts = allocate(total, weights)
        assert sum(parts) == total and all(p == p.quantize(Decimal("0.01")) for p in parts)
        whole = sum(weights)
        if whole:  # every part within one cent of its exact share
            assert all(abs(p - total * w / whole) < Decimal("0.01") for p, w in zip(parts, weights))


def test_split_records_take_the_vat_of_their_lines_and_sum_to_the_invoice():
    m = model()
    lines = {line["id"]: line for line in m["invoice"]["lines"]}
    seven = [i for i, line in lines.items() if line["vat"]["rate"] == "7.00"]
    splits = [{"cost_centre_id": 1, "lines": seven, "amount": "1"},
              {"cost_centre_id": 2, "lines": [i for i in lines if i not in seven], "amount": "1"}]
    first, second = records_of(m, splits=splits)
    assert [g["rate"] for g in first["vat_breakdown"]] == ["7.00"]  # only its own rate; zero groups left out
    assert [g["rate"] for g in second["vat_breakdown"]] == ["19.00"]
    assert (first["cost_centre"], first["account"], first["budget_product"], first["unit"]) == (
        "6710", "5221", "13.01.01", "67")
    assert (second["cost_centre"], second["account"], second["cost_centre_name"]) == ("6720", "5211", "Friedhöfe")
    assert Decimal(first["net"]) == sum(Decimal(lines[i]["net_amount"]["value"]) for i in seven)
    for key, bt in (("net", "BT-109"), ("vat", "BT-110"), ("gross", "BT-112"), ("payable", "BT-115")):
        assert Decimal(first[key]) + Decimal(second[key]) == Decimal(m["terms"][bt])
    # splits set by hand without lines: divided by their amounts, still exact
    by_amount = records_of(m, splits=[{"cost_centre_id": 1, "amount": "1"}, {"cost_centre_id": 2, "amount": "2"}],
                           payable=Decimal("1000.01"))
    assert sum(Decimal(r["payable"]) for r in by_amount) == Decimal("1000.01")
    assert Decimal(by_amount[1]["net"]) == (Decimal(m["terms"]["BT-109"]) * 2 / 3).quantize(Decimal("0.01"))


def test_credit_note_is_negative_and_fields_come_from_routing():
    m = model(credit_note=True, lines=2)
    deadline = NS(due_date=None, legal_due_date=datetime(2026, 12, 2).date(), skonto_deadline=None,
                  skonto_amount=None, skonto_status="none", terms=[])
    (record,) = records_of(m, deadline=deadline)
    assert (record["sign"], record["document_type"], record["type_code"]) == (-1, "Gutschrift", "381")
    for key in ("net", "vat", "gross", "amount_due", "payable"):
        assert Decimal(record[key]) < 0
    assert Decimal(record["payable"]) == -Decimal(m["terms"]["BT-115"])
    assert all(Decimal(g["net"]) <= 0 for g in record["vat_breakdown"])
    assert record["creditor_number"] == "70002" and record["bic"] == "GRUNDEH1XXX"
    assert record["receipt_date"] == "2026-11-03"  # 23:30 UTC is the next day in Berlin
    assert record["ordered_on"] == "2026-11-05" and record["ordered_by"] == "user:c.neumann"
    assert record["payment_reference"] == m["terms"]["BT-83"] and record["leitweg_id"] == "05315-12345-85"
    assert record["legal_due_date"] == "2026-12-02" and record["skonto_amount"] is None
    unknown = records_of(m, supplier=None)[0]
    assert unknown["creditor_number"] is None and unknown["supplier_name"] == "Grünpflege Lindner GmbH & Co. KG"


def test_skonto_of_the_chosen_term_is_exported_and_split():
    m = model(lines=4)
    deadline = NS(due_date=datetime(2026, 12, 2).date(), legal_due_date=datetime(2026, 12, 2).date(),
                  skonto_deadline=datetime(2026, 11, 16).date(), skonto_amount=Decimal("10.01"),
                  skonto_status="captured", terms=[{"deadline": "2026-11-16", "discount": "10.01", "percent": "2.00"}])
    records = records_of(m, deadline=deadline, splits=[{"cost_centre_id": 1, "lines": ["1", "2"]},
                                                       {"cost_centre_id": 2, "lines": ["3", "4"]}])
    assert sum(Decimal(r["skonto_amount"]) for r in records) == Decimal("10.01")
    assert {(r["skonto_date"], r["skonto_percent"], r["skonto_status"]) for r in records} == {
        ("2026-11-16", "2.00", "captured")}
    assert all(sum(Decimal(g["skonto"]) for g in r["vat_breakdown"]) == Decimal(r["skonto_amount"]) for r in records)


def test_generic_csv_has_every_field_and_parses():
    mapping = load_mapping("generic")
    assert {c.field for c in mapping.columns} >= set(RECORD_FIELDS)  # the documented file lists every field
    records = records_of(model(), item_id=1) + records_of(model(credit_note=True, lines=1), item_id=2)
    records[0]["supplier_name"] = "=HYPERLINK(\"http://x\")"
    data = write_csv(records, mapping)
    assert data.endswith(b"\r\n") and not data.startswith(b"\xef\xbb\xbf")
    rows = rows_of(data, mapping)
    assert rows[0] == [c.header for c in mapping.columns] and len(rows) == 3
    table = [dict(zip(rows[0], row)) for row in rows[1:]]
    assert table[0]["Lieferant"].startswith("'=")  # formula guard
    assert table[1]["Belegart"] == "Gutschrift" and table[1]["Zahlbetrag"].startswith("-")
    assert table[0]["Rechnungsdatum"] == "2026-11-02" and table[0]["Stapel"] == "9"
    assert (table[0]["USt-Satz 1"], table[0]["USt-Satz 2"]) == ("19.00", "7.00")  # highest rate first
    assert sum(Decimal(t["Zahlbetrag"]) for t in table) == sum(Decimal(r["payable"]) for r in records)


def test_decimal_comma_date_format_and_column_options():
    mapping = parse_mapping("""
        delimiter = ","
        decimal_comma = true
        date_format = "DD.MM.YYYY"
        quoting = "all"
        line_end = "lf"
        header = false
        [[columns]]
        header = "Betrag"
        field = "payable"
        [[columns]]
        header = "Betrag ohne Vorzeichen"
        field = "payable"
        format = "unsigned"
        [[columns]]
        header = "Cent"
        field = "payable"
        format = "cents"
        [[columns]]
        header = "Datum"
        field = "invoice_date"
        [[columns]]
        header = "Monat"
        field = "invoice_date"
        date_format = "%Y%m"
        [[columns]]
        header = "Art"
        value = "KR"
        [[columns]]
        header = "Name"
        field = "supplier_name"
        max_length = 9
    """, "test")
    (record,) = records_of(model(credit_note=True, lines=1))
    data = write_csv([record], mapping)
    payable = Decimal(record["payable"])
    assert data.decode() == (f'"{str(payable).replace(".", ",")}","{str(-payable).replace(".", ",")}",'
                             f'"{int(payable * 100)}","02.11.2026","202611","KR","Grünpfleg"\n')


def test_example_finance_mapping_writes_one_row_per_vat_group():
    mapping = load_mapping("beispiel-fibu")
    assert (mapping.rows, mapping.encoding, mapping.decimal_comma) == ("vat", "cp1252", True)
    records = records_of(model(), item_id=1) + records_of(model(credit_note=True, lines=3), item_id=2)
    records[0]["supplier_name"] = "Łódź Grün"  # Ł and ź are not in Windows-1252: replaced, not fatal
    data = write_csv(records, mapping)
    rows = rows_of(data, mapping)
    assert rows[0][:4] == ["Satzart", "Belegnr", "Belegdatum", "Kreditor"]
    table = [dict(zip(rows[0], row)) for row in rows[1:]]
    assert len(table) == sum(len(r["vat_breakdown"]) for r in records) == 4
    assert {t["Satzart"] for t in table} == {"KR"} and table[0]["Name"] == "?ód? Grün"
    assert table[0]["Belegdatum"] == "02.11.2026" and table[0]["Steuersatz"] == "19,00"
    total = sum(Decimal(t["Betrag"].replace(",", ".")) for t in table)
    assert total == sum(Decimal(r["payable"]) for r in records)  # the control total, row by row
    assert b'"\xc4' not in data and "ü".encode("cp1252") in data  # Windows-1252, not UTF-8


def test_overflowing_vat_slots_and_unencodable_text_are_refused():
    one_slot = parse_mapping('[[columns]]\nheader = "Satz"\nfield = "vat1_rate"\n', "one")
    with pytest.raises(MappingError, match="2 Steuersätze"):
        write_csv(records_of(model()), one_slot)
    latin = parse_mapping('encoding = "latin-1"\n[[columns]]\nheader = "Name"\nfield = "supplier_name"\n', "latin")
    record = {**records_of(model())[0], "supplier_name": "Łódź"}
    with pytest.raises(MappingError, match="latin-1"):
        write_csv([record], latin)


@pytest.mark.parametrize("text, message", [
    ('[[columns]]\nheader = "X"\nfield = "nope"\n', "unbekanntes Feld"),
    ('[[columns]]\nheader = "X"\nfield = "vat_net"\n', 'rows = "vat"'),
    ('rows = "vat"\n[[columns]]\nheader = "X"\nfield = "vat1_net"\n', 'rows = "record"'),
    ('[[columns]]\nheader = "X"\nfield = "invoice_date"\nformat = "cents"\n', "passt nicht"),
    ('[[columns]]\nheader = "X"\nfield = "net"\nvalue = "1"\n', "genau eines"),
    ('delimiter = ";;"\n[[columns]]\nheader = "X"\nfield = "net"\n', "delimiter"),
    ('encoding = "klingonisch"\n[[columns]]\nheader = "X"\nfield = "net"\n', "Zeichenkodierung"),
    ('colums = []\n', "unbekannte Angabe"),
    ('title = "leer"\n', "mindestens eine"),
    ('rows = "line"\n[[columns]]\nheader = "X"\nfield = "net"\n', "rows muss"),
    ('[[columns]]\nheader = "X"\nfield = "net"\nmax_length = 0\n', "max_length"),
    ('[[columns\n', "TOML"),
])
def test_mapping_errors_name_the_problem(text, message):
    with pytest.raises(MappingError, match=message):
        parse_mapping(text, "kaputt")


def test_unknown_or_unsafe_mapping_names():
    with pytest.raises(MappingError, match="nicht gefunden.*generic"):
        load_mapping("gibtsnicht")
    with pytest.raises(MappingError, match="Ungültiger Name"):
        load_mapping("../../etc/passwd")


def test_json_round_trip():
    records = records_of(model(), item_id=1) + records_of(model(credit_note=True), item_id=2)
    header = {"batch_id": 9, "control_total": "1.00", "totals": {"vat": []}}
    document = json.loads(write_json(records, header))
    assert document["records"] == records and document["batch_id"] == 9 and document["format"] == "einvoice-buchungen"
    assert json.loads(write_json([], header))["records"] == []
