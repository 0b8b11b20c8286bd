"""ZUGFeRD 1.0 (rsm:CrossIndustryDocument, 2014) → model, best effort.

ZUGFeRD 1.0 is **not** an EN 16931 invoice (zugferd-facturx.md §7): no KoSIT scenario accepts it
and its content rules differ. It is read so that a person handling it sees the header, the
parties, the totals, the VAT breakdown, payment data and the lines; everything else is left to
the PDF, which is the legally relevant invoice. read.py adds a ``ZUGFERD1-NOT-EN16931`` problem.
The element names are the CII ones of the older schema versions (ram :12, udt :15), so the CII
readers for parties, VAT, totals, prices and items are reused.
"""

from __future__ import annotations

from lxml import etree

from ..validation.kinds import ZF1_RAM_NS, ZF1_RSM_NS, DocumentKind
from .cii_groups import (
    read_allowance_charge, read_buyer, read_delivery, read_item, read_payee, read_payment, read_payment_terms_blocks,
    read_period, read_price, read_seller, read_totals, read_vat,
)
from .model import Invoice, Line, LineVat, Note, PrecedingInvoice
from .xmlsource import XmlSource

NS = {
    "rsm": ZF1_RSM_NS,
    "ram": ZF1_RAM_NS,
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15",
}
TX = "rsm:SpecifiedSupplyChainTradeTransaction"


def read_zugferd1(root: etree._Element) -> tuple[Invoice, XmlSource]:
    src = XmlSource(root, NS)
    doc = src.one(root, "rsm:HeaderExchangedDocument")
    agreement = src.one(root, f"{TX}/ram:ApplicableSupplyChainTradeAgreement")
    delivery = src.one(root, f"{TX}/ram:ApplicableSupplyChainTradeDelivery")
    settlement = src.one(root, f"{TX}/ram:ApplicableSupplyChainTradeSettlement")
    inv = Invoice(syntax=DocumentKind.ZUGFERD1.value)
    inv.currency = src.text(settlement, "ram:InvoiceCurrencyCode")
    src.currency = inv.currency
    inv.specification_id = src.text(
        root, "rsm:SpecifiedExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
    inv.number = src.text(doc, "ram:ID")
    inv.type_code = src.text(doc, "ram:TypeCode")
    inv.issue_date = src.cii_date(doc, "ram:IssueDateTime/udt:DateTimeString", "BT-2")
    inv.notes = [Note(src.text(n, "ram:SubjectCode"), src.text(n, "ram:Content"))
                 for n in src.group(doc, "ram:IncludedNote", "BG-1")]
    inv.buyer_reference = src.text(agreement, "ram:BuyerReference")
    inv.purchase_order_reference = src.text(agreement, "ram:BuyerOrderReferencedDocument/ram:ID")
    inv.contract_reference = src.text(agreement, "ram:ContractReferencedDocument/ram:ID")
    inv.seller = read_seller(src, src.one(agreement, "ram:SellerTradeParty"))
    inv.buyer = read_buyer(src, src.one(agreement, "ram:BuyerTradeParty"))
    inv.delivery = read_delivery(src, delivery, settlement)
    inv.despatch_advice_reference = src.text(delivery, "ram:DeliveryNoteReferencedDocument/ram:ID")
    inv.payee = read_payee(src, src.one(settlement, "ram:PayeeTradeParty"))
    inv.payment_instructions = read_payment(src, settlement)
    inv.payment_terms = src.text(settlement, "ram:SpecifiedTradePaymentTerms/ram:Description", raw=True)
    inv.due_date = src.cii_date(settlement, "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString",
                                "BT-9")
    inv.payment_terms_blocks = read_payment_terms_blocks(src, settlement)
    inv.preceding_invoices = [PrecedingInvoice(src.text(ref, "ram:ID"))
                              for ref in src.group(settlement, "ram:InvoiceReferencedDocument", "BG-3")]
    charges = [read_allowance_charge(src, ac, document=True)
               for ac in src.all(settlement, "ram:SpecifiedTradeAllowanceCharge")]
    inv.allowances = [ac for ac in charges if not ac.is_charge]
    inv.charges = [ac for ac in charges if ac.is_charge]
    inv.vat_breakdown = [read_vat(src, tax) for tax in src.group(settlement, "ram:ApplicableTradeTax", "BG-23")]
    inv.totals = read_totals(src, src.one(settlement, "ram:SpecifiedTradeSettlementMonetarySummation"), inv)
    inv.lines = [_line(src, li) for li in src.group(root, f"{TX}/ram:IncludedSupplyChainTradeLineItem", "BG-25")]
    return inv, src


def _line(src: XmlSource, li) -> Line:
    settlement = src.one(li, "ram:SpecifiedSupplyChainTradeSettlement")
    tax = src.one(settlement, "ram:ApplicableTradeTax")
    src.text(tax, "ram:TypeCode")
    return Line(
        id=src.text(li, "ram:AssociatedDocumentLineDocument/ram:LineID"),
        note=src.text(li, "ram:AssociatedDocumentLineDocument/ram:IncludedNote/ram:Content"),
        quantity=src.quantity(li, "ram:SpecifiedSupplyChainTradeDelivery/ram:BilledQuantity", "BT-129"),
        net_amount=src.amount(settlement, "ram:SpecifiedTradeSettlementMonetarySummation/ram:LineTotalAmount",
                              "BT-131"),
        period=read_period(src, src.one(settlement, "ram:BillingSpecifiedPeriod"), "BG-26"),
        price=read_price(src, src.one(li, "ram:SpecifiedSupplyChainTradeAgreement")),
        vat=LineVat(src.text(tax, "ram:CategoryCode"),
                    src.decimal(tax, "ram:ApplicablePercent | ram:RateApplicablePercent", "BT-152"))
        if tax is not None else None,
        item=read_item(src, src.one(li, "ram:SpecifiedTradeProduct")),
    )
