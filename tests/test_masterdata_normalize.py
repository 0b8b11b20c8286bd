"""Master data cells without a database: amounts, dates, booleans, IBAN/VAT/BIC/Leitweg-ID, roles,
and reading CSV as German offices write it (``;`` or ``,``, BOM, quoted line breaks, line numbers)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from einvoice.routing.masterdata import normalize as n
from einvoice.routing.masterdata.csv_io import CsvFormatError, encode, read_csv, write_csv


@pytest.mark.parametrize("cell,expected", [
    ("1234.56", "1234.56"), ("1234,56", "1234.56"), ("1.234,56", "1234.56"), ("1,234.56", "1234.56"),
    ("1.234.567,8", "1234567.80"), ("12", "12.00"), ("0,5", "0.50"), ("1 234,56", "1234.56"),
])
def test_amounts_in_english_and_german_notation(cell, expected):
    assert n.parse_amount(cell) == Decimal(expected)


@pytest.mark.parametrize("cell,message", [
    ("1.234", "mehrdeutig"), ("12,345", "mehrdeutig"), ("1.2345", "Nachkommastellen"), ("-5", "negativ"),
    ("12 EUR", "kein Betrag"), ("1.23.4", "kein Betrag"), ("1,234,5", "kein Betrag"), ("abc", "kein Betrag"),
])
def test_bad_or_ambiguous_amounts_are_refused(cell, message):
    with pytest.raises(ValueError, match=message):
        n.parse_amount(cell)


def test_amount_format_round_trips_with_decimal_comma():
    assert n.format_amount(Decimal("1234.5")) == "1234.50"
    assert n.format_amount(Decimal("1234.5"), decimal_comma=True) == "1234,50"
    assert n.parse_amount(n.format_amount(Decimal("99.99"), decimal_comma=True)) == Decimal("99.99")


@pytest.mark.parametrize("cell,expected", [("2026-11-02", date(2026, 11, 2)), ("02.11.2026", date(2026, 11, 2)),
                                           ("2.1.2026", date(2026, 1, 2))])
def test_iso_and_german_dates(cell, expected):
    assert n.parse_date(cell) == expected


@pytest.mark.parametrize("cell,message", [("31.02.2026", "gibt es nicht"), ("2026/11/02", "kein Datum"),
                                          ("02.11.26", "kein Datum"), ("morgen", "kein Datum")])
def test_bad_dates_are_refused(cell, message):
    with pytest.raises(ValueError, match=message):
        n.parse_date(cell)


@pytest.mark.parametrize("cell,expected", [("ja", True), ("Nein", False), ("TRUE", True), ("false", False),
                                           ("1", True), ("0", False)])
def test_booleans(cell, expected):
    assert n.parse_bool(cell) is expected


def test_unknown_boolean_is_refused():
    with pytest.raises(ValueError, match="ja/nein"):
        n.parse_bool("vielleicht")


def test_iban_is_normalised_and_checked():
    assert n.parse_iban("de91 4405 0199 0004 7118 15") == "DE91440501990004711815"
    with pytest.raises(ValueError, match="Prüfziffer"):
        n.parse_iban("DE91440501990004711816")
    with pytest.raises(ValueError, match="Länge"):
        n.parse_iban("DE9144050199000471181")
    with pytest.raises(ValueError, match="Länge"):
        n.parse_iban("XX91440501990004711815")


def test_vat_id_is_normalised_and_checked():
    assert n.parse_vat_id("de 123 456 788") == "DE123456788"
    with pytest.raises(ValueError, match="Prüfziffer"):
        n.parse_vat_id("DE123456789")
    with pytest.raises(ValueError, match="EU-Staats"):
        n.parse_vat_id("123456788")


def test_bic_and_leitweg_id():
    assert n.parse_bic("mustdem1xxx") == "MUSTDEM1XXX"
    with pytest.raises(ValueError, match="BIC"):
        n.parse_bic("MUST")
    assert n.parse_leitweg_id("05315-fb66-46") == "05315-FB66-46"
    with pytest.raises(ValueError, match="Prüfziffer 47 falsch, erwartet 46"):
        n.parse_leitweg_id("05315-FB66-47")


def test_roles_are_checked_and_put_in_canonical_order():
    assert n.parse_roles("admin | Approver|admin") == ["approver", "admin"]
    with pytest.raises(ValueError, match="unbekannte Rolle 'chef'.*erlaubt: approver"):
        n.parse_roles("approver|chef")


def test_text_limits_and_codes():
    assert n.text(10)("  a   b ") == "a b"
    with pytest.raises(ValueError, match="zu lang: 11 Zeichen, höchstens 10"):
        n.text(10)("x" * 11)
    with pytest.raises(ValueError, match="Leerzeichen"):
        n.text(10, no_spaces=True)("a b")
    with pytest.raises(ValueError, match="'\\|'"):
        n.text(10, forbid="|")("a|b")


# --- CSV -------------------------------------------------------------------------------------------

def test_semicolon_comma_and_bom_are_recognised():
    semicolon = read_csv("code;name\r\n20;Finanzen, Kämmerei\r\n")
    assert semicolon.delimiter == ";" and semicolon.rows == [(2, ["20", "Finanzen, Kämmerei"])]
    comma = read_csv('code,name\n20,"Finanzen; Kämmerei"\n')
    assert comma.delimiter == "," and comma.rows == [(2, ["20", "Finanzen; Kämmerei"])]
    bom = read_csv("\ufeffcode;name\n20;Grünflächen\n".encode("utf-8"))
    assert bom.header == ["code", "name"] and bom.rows[0][1][1] == "Grünflächen"


def test_line_numbers_are_those_of_the_file():
    table = read_csv('code;name\n\n20;"zwei\nZeilen"\n;\n66;Tiefbau\n')
    assert table.rows == [(3, ["20", "zwei\nZeilen"]), (6, ["66", "Tiefbau"])]


def test_not_utf8_names_the_line():
    with pytest.raises(CsvFormatError) as caught:
        read_csv("code;name\n20;Grünflächen\n".encode("cp1252"))
    assert caught.value.line == 2 and "UTF-8" in caught.value.message


def test_empty_file_is_an_error():
    with pytest.raises(CsvFormatError, match="leer"):
        read_csv(b"\n\n")


def test_written_csv_reads_back_the_same():
    text = write_csv(["code", "note"], [["1", 'mit "Anführung"; und\nZeile'], ["2", ""]])
    assert text.startswith("code;note\r\n")
    table = read_csv(encode(text, bom=True))
    assert [cells for _, cells in table.rows] == [["1", 'mit "Anführung"; und\nZeile'], ["2", ""]]
