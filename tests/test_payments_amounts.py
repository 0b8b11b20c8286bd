"""Payment file without the database: the amount on an execution date (Skonto up to and including its
deadline, staggered terms, partial acceptance), the SEPA character set, remittance, the debtor settings,
and the pain.001.001.09 document against the XSD shipped in sepaxml."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest
from lxml import etree

from deadlines_data import invoice_model
from einvoice.handoff.payments.amounts import amount_on, applicable_term
from einvoice.handoff.payments.charset import is_sepa_text, sepa_text
from einvoice.handoff.payments.errors import DebtorNotConfigured
from einvoice.handoff.payments.sepa import (
    NS, Debtor, Transfer, build_pain001, check_totals, debtor_from, iban_problem, remittance, totals, xsd_errors,
)
from einvoice.routing.deadlines.compute import compute

E2 = "#SKONTO#TAGE=7#PROZENT=3.00#\n#SKONTO#TAGE=14#PROZENT=2.00#\n#SKONTO#TAGE=30#PROZENT=0.00#\n"
E3 = "Porto ist nicht skontierfähig.\n#SKONTO#TAGE=10#PROZENT=3.00#BASISBETRAG=10710.00#\n"
DEBTOR = Debtor("Stadt Musterstadt", "DE02120300000000202051", "BYLADEM1001")
IBAN = "DE91440501990004711815"


def terms_of(issue: date, amount: str, bt20: str):
    """Skonto terms as the deadline tracking stores them (real BT-20 parser and `compute`)."""
    return compute(invoice_model(issue, amount, bt20), issue).terms


# --- amounts ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("executed, pay, skonto, percent", [
    (date(2025, 12, 29), "4155.48", "128.52", "3.00"),  # the 3 % deadline day itself still counts
    (date(2025, 12, 30), "4198.32", "85.68", "2.00"),  # one day later: the 2 % term
    (date(2026, 1, 5), "4198.32", "85.68", "2.00"),  # the 2 % deadline day
    (date(2026, 1, 6), "4284.00", "0.00", None),  # after the last Skonto deadline: the full amount
    (date(2026, 1, 22), "4284.00", "0.00", None),  # after the net period too: still the full amount
])
def test_staggered_terms_worked_example_e2(executed, pay, skonto, percent):
    terms = terms_of(date(2025, 12, 22), "4284.00", E2)
    result = amount_on(D("4284.00"), D("4284.00"), terms, executed)
    assert (result.amount, result.skonto) == (D(pay), D(skonto))
    assert (str(result.term.percent) if result.term else None) == percent
    assert result.amount + result.skonto == D("4284.00")


def test_single_term_deadline_day_counts_one_day_later_full_amount():
    terms = terms_of(date(2025, 3, 10), "1190.00", "#SKONTO#TAGE=14#PROZENT=2.00#\n")  # E1: deadline 24.03.2025
    on_time = amount_on(D("1190.00"), D("1190.00"), terms, date(2025, 3, 24))
    late = amount_on(D("1190.00"), D("1190.00"), terms, date(2025, 3, 25))
    assert (on_time.amount, on_time.skonto) == (D("1166.20"), D("23.80"))
    assert "Skonto 2.00 % bis 24.03.2025" in on_time.explanation
    assert (late.amount, late.skonto, late.term) == (D("1190.00"), D("0.00"), None)
    assert "Skontofrist abgelaufen (zuletzt 24.03.2025)" in late.explanation


def test_partial_acceptance_applies_the_percent_to_the_reduced_amount():
    terms = terms_of(date(2025, 3, 10), "1190.00", "#SKONTO#TAGE=14#PROZENT=2.00#\n")
    result = amount_on(D("1000.00"), D("1190.00"), terms, date(2025, 3, 20))
    assert (result.amount, result.skonto, result.reduced) == (D("980.00"), D("20.00"), True)
    assert "gekürzten Zahlbetrag 1.000,00 EUR statt 1.190,00 EUR" in result.explanation


def test_basisbetrag_is_reduced_in_proportion_after_partial_acceptance():
    terms = terms_of(date(2026, 2, 20), "11900.00", E3)  # E3: 3 % of 10 710.00 = 321.30
    assert amount_on(D("11900.00"), D("11900.00"), terms, date(2026, 3, 2)).skonto == D("321.30")
    half = amount_on(D("5950.00"), D("11900.00"), terms, date(2026, 3, 2))  # base 5 355.00 → 160.65
    assert (half.skonto, half.amount) == (D("160.65"), D("5789.35"))


def test_no_terms_manual_skonto_and_implausible_terms_deduct_nothing():
    assert amount_on(D("500.00"), D("500.00"), [], date(2026, 1, 1)).amount == D("500.00")
    free_text = terms_of(date(2026, 1, 1), "500.00", "2 % Skonto bei Zahlung binnen 14 Tagen\n")
    assert applicable_term(free_text, date(2026, 1, 2)) is None
    silly = terms_of(date(2026, 1, 1), "100.00", "#SKONTO#TAGE=14#PROZENT=100.00#\n")
    result = amount_on(D("100.00"), D("100.00"), silly, date(2026, 1, 2))
    assert (result.amount, result.skonto) == (D("100.00"), D("0.00")) and "unplausibel" in result.explanation


# --- character set and remittance --------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("Müller & Söhne Straßenbau GmbH", "Mueller + Soehne Strassenbau GmbH"),
    ("ÄRZTEHAUS Öko-Überbau", "AeRZTEHAUS Oeko-Ueberbau"),
    ("Café Señor Łódź", "Cafe Senor Lodz"),
    ("Ma\u0308rz „Spezial“ – #1_a@b", "Maerz 'Spezial' - 1-a b"),  # decomposed ä, quotes, dash, disallowed signs
    ("  viele     Leerzeichen ", "viele Leerzeichen"),
])
def test_sepa_text_transliterates_into_the_epc_character_set(raw, expected):
    assert sepa_text(raw, 70) == expected
    assert is_sepa_text(expected)


def test_names_are_cut_to_70_after_transliteration():
    name = sepa_text("Ä" * 50, 70)
    assert len(name) == 70 and name.startswith("AeAe")


def test_remittance_is_the_invoice_number_plus_skonto_within_140():
    assert remittance("RE-2026/0001", D("0.00")) == "RE-2026/0001"
    assert remittance("RE-2026/0001", D("1234.50")) == "RE-2026/0001 Skonto 1.234,50 EUR"
    long = remittance("X" * 200, D("23.80"))
    assert len(long) == 140 and long.endswith(" Skonto 23,80 EUR")


# --- debtor and IBANs -------------------------------------------------------------------------------

@dataclass
class FakeSettings:
    debtor_name: str | None = "Stadt Münster-Süd"
    debtor_iban: str | None = "DE02 1203 0000 0000 2020 51"
    debtor_bic: str | None = "byladem1001"


def test_debtor_from_settings_normalises_and_refuses_when_missing_or_invalid():
    debtor = debtor_from(FakeSettings())
    assert debtor == Debtor("Stadt Muenster-Sued", "DE02120300000000202051", "BYLADEM1001")
    with pytest.raises(DebtorNotConfigured, match="EINVOICE_DEBTOR_IBAN, EINVOICE_DEBTOR_BIC"):
        debtor_from(FakeSettings(debtor_iban=None, debtor_bic=" "))
    with pytest.raises(DebtorNotConfigured, match="ungültig"):
        debtor_from(FakeSettings(debtor_iban="DE02120300000000202052"))  # check digits wrong
    with pytest.raises(DebtorNotConfigured, match="BIC"):
        debtor_from(FakeSettings(debtor_bic="NOTABIC"))


def test_iban_problem():
    assert iban_problem("de91 4405 0199 0004 7118 15") is None
    assert "ungültig" in iban_problem("DE91440501990004711816")
    assert iban_problem(None) == "IBAN fehlt"


# --- the document ------------------------------------------------------------------------------------

def _transfers():
    return [Transfer("EI-1-ABC123", "Mueller + Soehne", IBAN, None, D("1166.20"), "RE-1 Skonto 23,80 EUR"),
            Transfer("EI-2-ABC123", "Musterbau GmbH", "DE02120300000000202051", "COBADEFFXXX", D("0.01"), "RE-2"),
            Transfer("EI-3-ABC123", "Dritter", IBAN, None, D("99999.99"), "RE-3")]


def test_document_validates_against_the_xsd_and_carries_the_run_data():
    xml = build_pain001(DEBTOR, _transfers(), message_id="EINV-20261110-090000-ABC123",
                        execution_date=date(2026, 11, 16), created_at=datetime(2026, 11, 10, 8, tzinfo=timezone.utc))
    assert xsd_errors(xml) == []
    from sepaxml.validation import try_valid_xml  # a second, independent validator (xmlschema)

    try_valid_xml(xml, "pain.001.001.09")
    root = etree.fromstring(xml)
    ns = {"p": NS}
    assert root.findtext(".//p:GrpHdr/p:MsgId", namespaces=ns) == "EINV-20261110-090000-ABC123"
    assert root.findtext(".//p:GrpHdr/p:CreDtTm", namespaces=ns) == "2026-11-10T09:00:00+01:00"
    assert root.findtext(".//p:PmtInf/p:PmtInfId", namespaces=ns) == "EINV-20261110-090000-ABC123-1"
    assert root.findtext(".//p:PmtInf/p:ReqdExctnDt/p:Dt", namespaces=ns) == "2026-11-16"
    assert root.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=ns) == DEBTOR.iban
    assert root.findtext(".//p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=ns) == "BYLADEM1001"
    assert totals(xml) == {"group": (3, D("101166.20")), "payment_infos": [(3, D("101166.20"))],
                           "transactions": (3, D("101166.20"))}
    txs = root.findall(".//p:CdtTrfTxInf", ns)
    assert [t.findtext("p:PmtId/p:EndToEndId", namespaces=ns) for t in txs] == ["EI-1-ABC123", "EI-2-ABC123",
                                                                                 "EI-3-ABC123"]
    assert [t.findtext("p:RmtInf/p:Ustrd", namespaces=ns) for t in txs] == ["RE-1 Skonto 23,80 EUR", "RE-2", "RE-3"]
    assert txs[1].findtext("p:CdtrAgt/p:FinInstnId/p:BICFI", namespaces=ns) == "COBADEFFXXX"
    assert txs[0].find("p:CdtrAgt", ns) is None  # IBAN-only without a known BIC
    assert txs[0].find("p:Amt/p:InstdAmt", ns).get("Ccy") == "EUR"


def test_the_xsd_check_and_the_sum_check_bite():
    xml = build_pain001(DEBTOR, _transfers()[:1], message_id="M-1", execution_date=date(2026, 11, 16),
                        created_at=datetime(2026, 11, 10, 8, tzinfo=timezone.utc))
    broken = xml.replace(b"<ChrgBr>SLEV</ChrgBr>", b"<ChrgBr>NOPE</ChrgBr>")
    assert xsd_errors(broken) and "ChrgBr" in xsd_errors(broken)[0]
    check_totals(xml, 1, D("1166.20"))
    with pytest.raises(RuntimeError, match="do not match"):
        check_totals(xml.replace(b"<CtrlSum>1166.20</CtrlSum>", b"<CtrlSum>1166.21</CtrlSum>", 1), 1, D("1166.20"))


def test_an_invalid_iban_never_reaches_the_document():
    bad = Transfer("EI-1-X", "Name", "DE91440501990004711816", None, D("1.00"), "RE-1")
    with pytest.raises(ValueError, match="ungültig"):
        build_pain001(DEBTOR, [bad], message_id="M-2", execution_date=date(2026, 11, 16),
                      created_at=datetime(2026, 11, 10, tzinfo=timezone.utc))


def test_debtor_settings_come_from_the_environment(monkeypatch):
    from einvoice.config import load_settings

    monkeypatch.setenv("EINVOICE_DEBTOR_NAME", " Stadt Musterstadt ")
    monkeypatch.setenv("EINVOICE_DEBTOR_IBAN", "DE02120300000000202051")
    monkeypatch.setenv("EINVOICE_DEBTOR_BIC", "BYLADEM1001")
    settings = load_settings()
    assert (settings.debtor_name, settings.debtor_iban, settings.debtor_bic) == (
        "Stadt Musterstadt", "DE02120300000000202051", "BYLADEM1001")
    monkeypatch.setenv("EINVOICE_DEBTOR_BIC", "  ")
    assert load_settings().debtor_bic is None
