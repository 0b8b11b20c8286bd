"""The model: BT ids on fields, labels, flat terms, credit-note sign semantics."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

from einvoice.formats.labels import LABELS, label
from einvoice.formats.model import (
    Address, AllowanceCharge, Amount, Contact, Invoice, Line, Period, Seller, Totals, VatBreakdown,
)
from einvoice.formats.read import read_invoice
from einvoice.formats.terms import flat_terms, walk_terms
from einvoice.samples.generate import cii_invoice, ubl_invoice


def _bt(cls, name):
    return next(f for f in fields(cls) if f.name == name).metadata


def test_fields_carry_their_business_term_ids():
    assert _bt(Invoice, "buyer_reference")["bt"] == "BT-10"
    assert _bt(Invoice, "payment_terms")["bt"] == "BT-20"
    assert _bt(Seller, "vat_id")["bt"] == "BT-31"
    assert _bt(Totals, "amount_due")["bt"] == "BT-115"
    assert _bt(Line, "quantity") == {"bt": "BT-129", "unit": "BT-130"}
    assert _bt(Address, "city")["roles"] == {"BG-5": "BT-37", "BG-8": "BT-52", "BG-12": "BT-66", "BG-15": "BT-77"}
    assert _bt(Contact, "email")["roles"]["BG-9"] == "BT-58"
    assert _bt(Period, "start")["roles"] == {"BG-14": "BT-73", "BG-26": "BT-134"}
    assert _bt(AllowanceCharge, "amount")["roles"]["BG-28"] == "BT-141"


def test_every_id_in_the_model_has_a_label():
    invoice = read_invoice(ubl_invoice()).invoice
    ids = {t.bt for t in walk_terms(invoice)}
    assert ids and all(i in LABELS for i in ids)
    assert label("BT-10") == "Käuferreferenz (Leitweg-ID)" and label("BT-10", "en") == "Buyer reference (Leitweg-ID)"
    assert label("BT-999") == "BT-999"


def test_roles_resolve_per_group():
    invoice = read_invoice(cii_invoice()).invoice
    by_path = {t.path: t.bt for t in walk_terms(invoice)}
    assert by_path["seller.address.city"] == "BT-37" and by_path["buyer.address.city"] == "BT-52"
    assert by_path["buyer.contact.email"] == "BT-58" and by_path["lines[0].quantity"] == "BT-129"
    assert by_path["lines[0].quantity.unit"] == "BT-130"


def test_flat_terms_scalars_lists_and_formats():
    invoice = read_invoice(ubl_invoice(lines=3)).invoice
    terms = flat_terms(invoice)
    assert terms["BT-1"] == "RE-2026-0001" and terms["BT-2"] == "2026-11-02"
    assert terms["BT-115"] == str(invoice.totals.amount_due.value)
    assert terms["BT-126"] == ["1", "2", "3"] and len(terms["BT-131"]) == 3 and len(terms["BT-130"]) == 3
    assert isinstance(terms["BT-116"], list) and terms["BT-20"].endswith("\n")


def test_sub_lines_do_not_mix_with_invoice_lines(corpus, expected):
    rel = "xrechnung-samples/business-cases/extension/04.01a-INVOICE_ubl.xml"
    invoice = read_invoice((corpus / rel).read_bytes(), rel).invoice
    terms = flat_terms(invoice)
    assert len(terms["BT-126"]) == len(invoice.lines)
    assert any(line.sub_lines for line in invoice.lines) and "BG-DEX-01:BT-126" in terms


def test_invoice_sign_semantics():
    invoice = read_invoice(ubl_invoice()).invoice
    assert not invoice.is_credit_note and invoice.sign == 1 and invoice.direction == "buyer-pays"
    assert invoice.signed_amount_due == invoice.totals.amount_due
    credit = read_invoice(ubl_invoice(credit_note=True)).invoice
    assert credit.is_credit_note and credit.sign == -1 and credit.direction == "seller-pays"
    assert credit.totals.amount_due.value > 0  # amounts stay as written
    assert credit.signed_amount_due.value == -credit.totals.amount_due.value


def test_cii_type_381_is_a_credit_note_and_negative_invoices_owe_the_buyer():
    cii = read_invoice(cii_invoice().replace(b"<ram:TypeCode>380</ram:TypeCode>", b"<ram:TypeCode>381</ram:TypeCode>", 1))
    assert cii.invoice.is_credit_note and cii.invoice.direction == "seller-pays"
    negative = Invoice(type_code="380", totals=Totals(amount_due=Amount(Decimal("-10.00"), "EUR")))
    assert not negative.is_credit_note and negative.direction == "seller-pays"
    zero = Invoice(type_code="381", totals=Totals(amount_due=Amount(Decimal("0.00"), "EUR")))
    assert zero.direction == "nothing-due"
    assert Invoice().direction is None


def test_vat_breakdown_values_are_decimals_with_currency():
    vat = read_invoice(ubl_invoice()).invoice.vat_breakdown[0]
    assert isinstance(vat, VatBreakdown) and vat.rate == Decimal("19.00") and vat.tax_amount.currency == "EUR"
