"""Round trip: key model values equal direct lxml XPath reads of the source (paths: en16931-fields.md).

The XPath expressions here are written independently of the readers, straight from the spec tables.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from lxml import etree

from conftest import REPORT_LINES
from einvoice.formats.read import read_invoice
from einvoice.samples.generate import cii_invoice, facturx_pdf, ubl_invoice
from einvoice.validation.kinds import DocumentKind

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}

SUP = "cac:AccountingSupplierParty/cac:Party"
CUS = "cac:AccountingCustomerParty/cac:Party"
LMT = "cac:LegalMonetaryTotal"
UBL = {
    "BT-1": "cbc:ID", "BT-2": "cbc:IssueDate", "BT-3": "cbc:InvoiceTypeCode | cbc:CreditNoteTypeCode",
    "BT-5": "cbc:DocumentCurrencyCode", "BT-9": "cbc:DueDate | cac:PaymentMeans/cbc:PaymentDueDate",
    "BT-10": "cbc:BuyerReference", "BT-13": "cac:OrderReference/cbc:ID", "BT-19": "cbc:AccountingCost",
    "BT-20": "cac:PaymentTerms/cbc:Note", "BT-27": f"{SUP}/cac:PartyLegalEntity/cbc:RegistrationName",
    "BT-31": f"{SUP}/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID = 'VAT']/cbc:CompanyID",
    "BT-44": f"{CUS}/cac:PartyLegalEntity/cbc:RegistrationName",
    "BT-106": f"{LMT}/cbc:LineExtensionAmount", "BT-109": f"{LMT}/cbc:TaxExclusiveAmount",
    "BT-110": "cac:TaxTotal/cbc:TaxAmount[@currencyID = /*/cbc:DocumentCurrencyCode]",
    "BT-112": f"{LMT}/cbc:TaxInclusiveAmount", "BT-115": f"{LMT}/cbc:PayableAmount",
}
UBL_BT84 = "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID"
UBL_LINES = ("cac:InvoiceLine | cac:CreditNoteLine",
             {"BT-126": "cbc:ID", "BT-129": "cbc:InvoicedQuantity | cbc:CreditedQuantity",
              "BT-131": "cbc:LineExtensionAmount", "BT-133": "cbc:AccountingCost"})
UBL_VAT = ("cac:TaxTotal/cac:TaxSubtotal",
           {"BT-116": "cbc:TaxableAmount", "BT-117": "cbc:TaxAmount", "BT-118": "cac:TaxCategory/cbc:ID",
            "BT-119": "cac:TaxCategory/cbc:Percent"})

DOC = "rsm:ExchangedDocument"
HTA = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
HTS = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
SUM = f"{HTS}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
CII = {
    "BT-1": f"{DOC}/ram:ID", "BT-2": f"{DOC}/ram:IssueDateTime/udt:DateTimeString", "BT-3": f"{DOC}/ram:TypeCode",
    "BT-5": f"{HTS}/ram:InvoiceCurrencyCode",
    "BT-9": f"{HTS}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString",
    "BT-10": f"{HTA}/ram:BuyerReference", "BT-13": f"{HTA}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID",
    "BT-19": f"{HTS}/ram:ReceivableSpecifiedTradeAccountingAccount/ram:ID",
    "BT-20": f"{HTS}/ram:SpecifiedTradePaymentTerms/ram:Description",
    "BT-27": f"{HTA}/ram:SellerTradeParty/ram:Name",
    "BT-31": f"{HTA}/ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID[@schemeID = 'VA']",
    "BT-44": f"{HTA}/ram:BuyerTradeParty/ram:Name",
    "BT-106": f"{SUM}/ram:LineTotalAmount", "BT-109": f"{SUM}/ram:TaxBasisTotalAmount",
    "BT-110": f"{SUM}/ram:TaxTotalAmount[@currencyID = /rsm:CrossIndustryInvoice/{HTS}/ram:InvoiceCurrencyCode]",
    "BT-112": f"{SUM}/ram:GrandTotalAmount", "BT-115": f"{SUM}/ram:DuePayableAmount",
}
CII_BT84 = (f"{HTS}/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount"
            "/*[self::ram:IBANID or self::ram:ProprietaryID][1]")
CII_LINES = ("rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem",
             {"BT-126": "ram:AssociatedDocumentLineDocument/ram:LineID",
              "BT-129": "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity",
              "BT-131": "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation"
                        "/ram:LineTotalAmount",
              "BT-133": "ram:SpecifiedLineTradeSettlement/ram:ReceivableSpecifiedTradeAccountingAccount/ram:ID"})
CII_VAT = (f"{HTS}/ram:ApplicableTradeTax",
           {"BT-116": "ram:BasisAmount", "BT-117": "ram:CalculatedAmount", "BT-118": "ram:CategoryCode",
            "BT-119": "ram:RateApplicablePercent"})

NUMERIC = {"BT-106", "BT-109", "BT-110", "BT-112", "BT-115", "BT-116", "BT-117", "BT-119", "BT-129", "BT-131"}
DATES = {"BT-2", "BT-9"}


def _value(node, path: str, bt: str, cii: bool):
    found = node.xpath(path, namespaces=NS)
    if not found:
        return None
    raw = found[0].text or ""
    if bt == "BT-20":
        return raw if raw.strip() else None
    text = raw.strip()
    if not text:
        return None
    if bt in NUMERIC:
        return Decimal(text)
    if bt in DATES:
        return datetime.strptime(text, "%Y%m%d").date() if cii else date.fromisoformat(text)
    return text


def from_xpath(root, cii: bool) -> dict:
    header, bt84, lines, vat = (CII, CII_BT84, CII_LINES, CII_VAT) if cii else (UBL, UBL_BT84, UBL_LINES, UBL_VAT)
    values = {bt: _value(root, path, bt, cii) for bt, path in header.items()}
    values["BT-84"] = [(n.text or "").strip() for n in root.xpath(bt84, namespaces=NS)]
    for key, (group, paths) in (("lines", lines), ("vat", vat)):
        values[key] = [{bt: _value(node, path, bt, cii) for bt, path in paths.items()}
                       for node in root.xpath(group, namespaces=NS)]
    return values


def _v(x):
    return None if x is None else x.value


def from_model(invoice) -> dict:
    totals = invoice.totals
    payment = invoice.payment_instructions
    return {
        "BT-1": invoice.number, "BT-2": invoice.issue_date, "BT-3": invoice.type_code, "BT-5": invoice.currency,
        "BT-9": invoice.due_date, "BT-10": invoice.buyer_reference, "BT-13": invoice.purchase_order_reference,
        "BT-19": invoice.buyer_accounting_reference, "BT-20": invoice.payment_terms,
        "BT-27": invoice.seller.name, "BT-31": invoice.seller.vat_id, "BT-44": invoice.buyer.name,
        "BT-106": _v(totals.line_net_total), "BT-109": _v(totals.tax_exclusive), "BT-110": _v(totals.tax_total),
        "BT-112": _v(totals.tax_inclusive), "BT-115": _v(totals.amount_due),
        "BT-84": [t.account_id for t in payment.credit_transfers] if payment else [],
        "lines": [{"BT-126": line.id, "BT-129": _v(line.quantity), "BT-131": _v(line.net_amount),
                   "BT-133": line.accounting_reference} for line in invoice.lines],
        "vat": [{"BT-116": _v(v.taxable_amount), "BT-117": _v(v.tax_amount), "BT-118": v.category,
                 "BT-119": v.rate} for v in invoice.vat_breakdown],
    }


def _check(data: bytes, name: str) -> dict:
    result = read_invoice(data, name)
    root = etree.fromstring(result.xml)
    expected = from_xpath(root, cii=result.kind is DocumentKind.CII)
    actual = from_model(result.invoice)
    assert actual == expected, name
    return actual


def test_round_trip_on_the_corpus(corpus, expected):
    files = sorted(rel for rel, e in expected.items() if e["valid"] and (
        rel.startswith(("xrechnung-samples/", "en16931-examples/"))
        or (rel.startswith("zugferd/") and e.get("embedded_syntax") == "cii")))
    for rel in files:
        _check((corpus / rel).read_bytes(), rel)
    REPORT_LINES.append(f"formats: round trip of key BTs against XPath reads: {len(files)} documents equal")


@pytest.mark.parametrize("make", [lambda: ubl_invoice(lines=5), lambda: ubl_invoice(credit_note=True),
                                  lambda: cii_invoice(lines=2), facturx_pdf])
def test_round_trip_on_generated_documents(make):
    values = _check(make(), "generated")
    assert values["lines"] and values["vat"] and values["BT-84"] and values["BT-115"] > 0
