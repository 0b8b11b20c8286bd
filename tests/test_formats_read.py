"""read_invoice: every accepted corpus document parses into the model; kinds, PDFs and refusals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from conftest import REPORT_LINES
from einvoice.formats.model import Amount, Invoice
from einvoice.formats.read import FormatError, ReadResult, read_invoice
from einvoice.samples.generate import BUYER_LEITWEG_ID, SELLER_IBAN, SELLER_VAT_ID, cii_invoice, facturx_pdf, ubl_invoice
from einvoice.validation.kinds import DocumentKind


def _accepted(expected: dict, prefix: str) -> list[str]:
    return sorted(rel for rel, e in expected.items() if rel.startswith(prefix) and e["valid"])


def test_every_xrechnung_sample_parses(corpus, expected):
    files = _accepted(expected, "xrechnung-samples/")
    assert len(files) == 86
    for rel in files:
        result = read_invoice((corpus / rel).read_bytes(), rel)
        invoice = result.invoice
        assert result.kind in (DocumentKind.UBL_INVOICE, DocumentKind.UBL_CREDITNOTE, DocumentKind.CII), rel
        assert result.specification.family == "xrechnung", rel
        assert invoice.number and invoice.issue_date and invoice.currency, rel
        assert invoice.seller and invoice.seller.name and invoice.buyer and invoice.buyer.name, rel
        assert invoice.totals and invoice.totals.amount_due is not None, rel
        assert invoice.lines and invoice.vat_breakdown, rel
        assert not [p for p in result.problems if p.code == "FORMAT-VALUE"], rel
    REPORT_LINES.append(f"formats: {len(files)}/86 XRechnung test-suite samples read into the model")


def test_every_accepted_zugferd_pdf_parses_and_keeps_the_pdf(corpus, expected):
    files = _accepted(expected, "zugferd/")
    assert len(files) == 10
    for rel in files:
        data = (corpus / rel).read_bytes()
        result = read_invoice(data, rel)
        assert result.pdf == data and result.embedded_file == expected[rel]["embedded_file"], rel
        assert result.kind.value == expected[rel]["embedded_syntax"], rel
        assert result.invoice.number and result.invoice.totals.amount_due is not None, rel
        if result.kind is DocumentKind.ZUGFERD1:
            assert not result.is_en16931
            assert "ZUGFERD1-NOT-EN16931" in {p.code for p in result.problems}
            assert result.invoice.seller.name and result.invoice.buyer.name and result.invoice.vat_breakdown
    REPORT_LINES.append(f"formats: {len(files)}/10 accepted ZUGFeRD/Factur-X PDFs read (4 of them ZUGFeRD 1.0, best effort)")


def test_every_document_the_oracle_accepts_parses(corpus, expected):
    files = _accepted(expected, "")
    for rel in files:
        result = read_invoice((corpus / rel).read_bytes(), rel)
        assert isinstance(result.invoice, Invoice) and result.invoice.number, rel
        assert result.invoice.totals.amount_due is not None, rel
        # Factur-X BASIC WL / MINIMUM carry no lines; every other profile does
        assert result.invoice.lines or result.specification.variant in ("BASIC WL", "MINIMUM"), rel
    REPORT_LINES.append(f"formats: {len(files)}/{len(files)} oracle-accepted corpus documents read")


def test_generated_ubl_invoice():
    result = read_invoice(ubl_invoice(lines=4), "gen.xml")
    inv = result.invoice
    assert result.kind is DocumentKind.UBL_INVOICE and result.pdf is None
    assert inv.number == "RE-2026-0001" and inv.issue_date == date(2026, 11, 2) and inv.type_code == "380"
    assert inv.buyer_reference == BUYER_LEITWEG_ID and inv.seller.vat_id == SELLER_VAT_ID
    assert inv.payment_instructions.credit_transfers[0].account_id == SELLER_IBAN
    assert len(inv.lines) == 4 and all(isinstance(line.net_amount, Amount) for line in inv.lines)
    assert sum(line.net_amount.value for line in inv.lines) == inv.totals.line_net_total.value
    assert inv.payment_terms.endswith("#SKONTO#TAGE=14#PROZENT=2.00#\n")  # BT-20 kept raw
    assert inv.totals.amount_due.currency == "EUR" and isinstance(inv.totals.amount_due.value, Decimal)


def test_generated_cii_and_ubl_give_the_same_model_values():
    ubl = read_invoice(ubl_invoice()).invoice
    cii = read_invoice(cii_invoice()).invoice
    for attribute in ("number", "issue_date", "type_code", "currency", "due_date", "buyer_reference",
                      "purchase_order_reference", "payment_terms"):
        assert getattr(ubl, attribute) == getattr(cii, attribute), attribute
    assert ubl.totals == cii.totals
    assert [(line.id, line.quantity, line.net_amount) for line in ubl.lines] == \
        [(line.id, line.quantity, line.net_amount) for line in cii.lines]
    assert ubl.vat_breakdown == cii.vat_breakdown
    assert ubl.seller.address == cii.seller.address and ubl.buyer.contact == cii.buyer.contact


def test_generated_facturx_pdf_keeps_the_original():
    pdf = facturx_pdf()
    result = read_invoice(pdf, "rechnung.pdf")
    assert isinstance(result, ReadResult)
    assert result.pdf == pdf and result.embedded_file == "factur-x.xml" and result.kind is DocumentKind.CII
    assert result.xml.lstrip().startswith(b"<?xml") and result.invoice.lines


def test_generated_credit_note():
    invoice = read_invoice(ubl_invoice(credit_note=True)).invoice
    assert invoice.syntax == "ubl-creditnote" and invoice.type_code == "381"
    assert invoice.preceding_invoices[0].number == "RE-2026-0001"
    assert invoice.lines and invoice.lines[0].quantity.value > 0


@pytest.mark.parametrize("data,code", [
    (b"", "EINVOICE-EMPTY"),
    (b"<Invoice", "EINVOICE-PARSE"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><x>&e;</x>', "EINVOICE-XML-UNSAFE"),
    (b"<order xmlns='urn:example'/>", "EINVOICE-NOT-INVOICE"),
    (b"%PDF-1.4\n%%EOF", "EINVOICE-PDF"),
])
def test_unreadable_input_raises_format_error_with_code(data, code):
    with pytest.raises(FormatError) as info:
        read_invoice(data)
    assert info.value.code == code


def test_unparseable_values_become_problems_not_guesses():
    xml = ubl_invoice().replace(b"<cbc:IssueDate>2026-11-02</cbc:IssueDate>", b"<cbc:IssueDate>2026-13-45</cbc:IssueDate>")
    xml = xml.replace(b'<cbc:PayableAmount currencyID="EUR">', b'<cbc:PayableAmount currencyID="EUR">1,')
    result = read_invoice(xml)
    assert result.invoice.issue_date is None and result.invoice.totals.amount_due is None
    assert {p.bt for p in result.problems if p.code == "FORMAT-VALUE"} == {"BT-2", "BT-115"}
