"""EINVOICE-* warnings: values that are present (so the official rules pass) but cannot be right."""

from __future__ import annotations

from datetime import date

from lxml import etree

from einvoice.samples.generate import BUYER_LEITWEG_ID, SELLER_IBAN, SELLER_VAT_ID, cii_invoice, ubl_invoice
from einvoice.validation.findings import Severity
from einvoice.validation.plausibility.checks import check_iban, check_leitweg, check_vat_id


def _ids(result) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in result.findings:
        if f.rule_id.startswith("EINVOICE-"):
            found.setdefault(f.rule_id, []).append(f.message)
    return found


def test_own_samples_are_plausible(engine):
    for data in (ubl_invoice(), cii_invoice(), ubl_invoice(credit_note=True)):
        result = engine.validate(data, "ok.xml", receipt_date=date(2026, 11, 25))
        assert _ids(result) == {}


def test_leitweg_id():
    assert check_leitweg("04011000-1234512345-06") is None
    assert check_leitweg("991-33333TEST-33") is None
    assert check_leitweg("991-33333test-33") is None  # case-insensitive on intake
    assert "Prüfziffer" in check_leitweg("04011000-1234512345-07").message
    assert "keine Leitweg-ID" in check_leitweg("Abteilung 4").message
    assert check_leitweg("991--19") is not None  # empty fine part is refused (stdnum would allow it)
    assert check_leitweg(None) is None  # presence is BR-DE-15's business


def test_iban_and_vat_id():
    assert check_iban("DE89 3704 0044 0532 0130 00") is None
    assert check_iban("DE89370400440532013001").rule_id == "EINVOICE-IBAN"
    assert check_vat_id("DE136695976") is None
    finding = check_vat_id("DE123456789")
    assert finding.rule_id == "EINVOICE-VAT-ID" and finding.severity is Severity.WARNING


def test_typos_in_a_valid_invoice_give_warnings_but_keep_the_verdict(engine):
    data = (ubl_invoice()
            .replace(BUYER_LEITWEG_ID.encode(), BUYER_LEITWEG_ID[:-1].encode() + b"0")
            .replace(SELLER_IBAN.encode(), SELLER_IBAN[:-1].encode() + b"9")
            .replace(SELLER_VAT_ID.encode(), b"DE123456789"))
    result = engine.validate(data, "typos.xml", receipt_date=date(2026, 11, 25))
    assert set(_ids(result)) >= {"EINVOICE-LEITWEG-ID", "EINVOICE-IBAN", "EINVOICE-VAT-ID"}
    assert all(f.severity is Severity.WARNING for f in result.findings if f.rule_id.startswith("EINVOICE-"))


def test_dates_and_skonto(engine):
    tree = etree.fromstring(cii_invoice())
    ns = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
          "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
          "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"}
    tree.find("rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", ns).text = "20270105"
    tree.find(".//ram:SpecifiedTradePaymentTerms/ram:Description", ns).text = "#SKONTO#TAGE=60#PROZENT=20.00#\n"
    data = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    found = _ids(engine.validate(data, "dates.xml", receipt_date=date(2026, 11, 25)))
    assert "EINVOICE-ISSUE-DATE" in found
    assert any("unplausibel" in m for m in found["EINVOICE-SKONTO"])


def test_zero_percent_skonto_line_is_a_net_payment_period(engine):
    data = cii_invoice().replace(b"#SKONTO#TAGE=14#PROZENT=2.00#", b"#SKONTO#TAGE=30#PROZENT=0.00#")
    assert b"PROZENT=0.00" in data
    found = _ids(engine.validate(data, "net.xml", receipt_date=date(2026, 11, 25)))
    assert "EINVOICE-SKONTO" not in found
