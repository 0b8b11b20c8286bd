"""UN/CEFACT CII D16B (CrossIndustryInvoice: XRechnung CII, ZUGFeRD 2.x / Factur-X) → model.

Paths: shared/spec/en16931-fields.md, CII columns. The readers of parties, payment, totals, VAT,
prices and items live in cii_groups.py (shared with zugferd1.py).
"""

from __future__ import annotations

from lxml import etree

from ..validation.kinds import CII_RAM_NS, CII_RSM_NS, DocumentKind
from .cii_groups import (
    RATE, read_address, read_allowance_charge, read_buyer, read_delivery, read_item, read_payee, read_payment,
    read_payment_terms_blocks, read_period, read_price, read_seller, read_totals, read_vat, tax_registration,
)
from .model import Attachment, BinaryObject, Identifier, Invoice, Line, LineVat, Note, PrecedingInvoice, TaxRepresentative
from .xmlsource import XmlSource

NS = {
    "rsm": CII_RSM_NS,
    "ram": CII_RAM_NS,
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
TX = "rsm:SupplyChainTradeTransaction"


def _type_is(value: str) -> str:
    return f"normalize-space(ram:TypeCode) = '{value}'"


def read_cii(root: etree._Element) -> tuple[Invoice, XmlSource]:
    src = XmlSource(root, NS)
    context = src.one(root, "rsm:ExchangedDocumentContext")
    doc = src.one(root, "rsm:ExchangedDocument")
    hta = src.one(root, f"{TX}/ram:ApplicableHeaderTradeAgreement")
    htd = src.one(root, f"{TX}/ram:ApplicableHeaderTradeDelivery")
    hts = src.one(root, f"{TX}/ram:ApplicableHeaderTradeSettlement")
    inv = Invoice(syntax=DocumentKind.CII.value)
    inv.currency = src.text(hts, "ram:InvoiceCurrencyCode")
    src.currency = inv.currency
    inv.number = src.text(doc, "ram:ID")
    inv.type_code = src.text(doc, "ram:TypeCode")
    inv.issue_date = src.cii_date(doc, "ram:IssueDateTime/udt:DateTimeString", "BT-2")
    inv.notes = [Note(src.text(n, "ram:SubjectCode"), src.text(n, "ram:Content"))
                 for n in src.group(doc, "ram:IncludedNote", "BG-1")]
    inv.business_process = src.text(context, "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID")
    inv.specification_id = src.text(context, "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
    inv.tax_currency = src.text(hts, "ram:TaxCurrencyCode")
    inv.tax_point_date = src.cii_date(hts, "ram:ApplicableTradeTax/ram:TaxPointDate/udt:DateString", "BT-7")
    src.take_repeats(src.all(hts, "ram:ApplicableTradeTax/ram:TaxPointDate/udt:DateString"))  # per VAT breakdown
    inv.tax_point_date_code = src.text(hts, "ram:ApplicableTradeTax/ram:DueDateTypeCode")
    src.take_repeats(src.all(hts, "ram:ApplicableTradeTax/ram:DueDateTypeCode"))
    inv.due_date = src.cii_date(hts, "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString", "BT-9")
    inv.buyer_reference = src.text(hta, "ram:BuyerReference")
    project = src.one(hta, "ram:SpecifiedProcuringProject")
    inv.project_reference = src.text(project, "ram:ID")
    inv.project_name = src.text(project, "ram:Name")
    inv.contract_reference = src.text(hta, "ram:ContractReferencedDocument/ram:IssuerAssignedID")
    inv.purchase_order_reference = src.text(hta, "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID")
    inv.sales_order_reference = src.text(hta, "ram:SellerOrderReferencedDocument/ram:IssuerAssignedID")
    inv.receiving_advice_reference = src.text(htd, "ram:ReceivingAdviceReferencedDocument/ram:IssuerAssignedID")
    inv.despatch_advice_reference = src.text(htd, "ram:DespatchAdviceReferencedDocument/ram:IssuerAssignedID")
    tender = src.one(hta, f"ram:AdditionalReferencedDocument[{_type_is('50')}]")
    inv.tender_reference = src.text(tender, "ram:IssuerAssignedID")
    src.text(tender, "ram:TypeCode")
    invoiced_object = src.one(hta, f"ram:AdditionalReferencedDocument[{_type_is('130')}]")
    inv.invoiced_object_id = _object_id(src, invoiced_object)
    inv.buyer_accounting_reference = src.text(hts, "ram:ReceivableSpecifiedTradeAccountingAccount/ram:ID")
    inv.payment_terms = src.text(hts, "ram:SpecifiedTradePaymentTerms/ram:Description", raw=True)
    inv.preceding_invoices = [
        PrecedingInvoice(src.text(ref, "ram:IssuerAssignedID"),
                         src.cii_date(ref, "ram:FormattedIssueDateTime/qdt:DateTimeString", "BT-26"))
        for ref in src.group(hts, "ram:InvoiceReferencedDocument", "BG-3")
    ]
    inv.seller = read_seller(src, src.one(hta, "ram:SellerTradeParty"))
    inv.buyer = read_buyer(src, src.one(hta, "ram:BuyerTradeParty"))
    inv.payee = read_payee(src, src.one(hts, "ram:PayeeTradeParty"))
    inv.tax_representative = _tax_representative(src, src.one(hta, "ram:SellerTaxRepresentativeTradeParty"))
    inv.delivery = read_delivery(src, htd, hts)
    inv.payment_instructions = read_payment(src, hts)
    inv.payment_terms_blocks = read_payment_terms_blocks(src, hts)
    charges = [read_allowance_charge(src, ac, document=True)
               for ac in src.group(hts, "ram:SpecifiedTradeAllowanceCharge", "BG-20")]
    inv.allowances = [ac for ac in charges if not ac.is_charge]
    inv.charges = [ac for ac in charges if ac.is_charge]
    inv.totals = read_totals(src, src.one(hts, "ram:SpecifiedTradeSettlementHeaderMonetarySummation"), inv)
    inv.vat_breakdown = [read_vat(src, tax) for tax in src.group(hts, "ram:ApplicableTradeTax", "BG-23")]
    inv.attachments = [_attachment(src, ref)
                       for ref in src.group(hta, f"ram:AdditionalReferencedDocument[{_type_is('916')}]", "BG-24")]
    inv.lines = [_line(src, li) for li in src.group(root, f"{TX}/ram:IncludedSupplyChainTradeLineItem", "BG-25")]
    return inv, src


def _object_id(src: XmlSource, ref) -> Identifier | None:
    if ref is None:
        return None
    src.text(ref, "ram:TypeCode")
    value = src.text(ref, "ram:IssuerAssignedID")
    scheme = src.text(ref, "ram:ReferenceTypeCode")
    return Identifier(value, scheme) if value else None


def _tax_representative(src: XmlSource, party) -> TaxRepresentative | None:
    if party is None:
        return None
    src.groups.setdefault(party, "BG-11")
    return TaxRepresentative(
        name=src.text(party, "ram:Name"),
        vat_id=tax_registration(src, party, "VA"),
        address=read_address(src, src.one(party, "ram:PostalTradeAddress"), "BG-12"),
    )


def _attachment(src: XmlSource, ref) -> Attachment:
    binary = src.one(ref, "ram:AttachmentBinaryObject")
    content = None
    if binary is not None:
        content = BinaryObject(src.binary_of(binary), src.attribute(binary, "mimeCode"),
                               src.attribute(binary, "filename"))
    return Attachment(
        reference=src.text(ref, "ram:IssuerAssignedID"),
        description=src.text(ref, "ram:Name"),
        external_uri=src.text(ref, "ram:URIID"),
        content=content,
        type_code=src.text(ref, "ram:TypeCode"),
    )


# -- lines -------------------------------------------------------------------------------------


def _line(src: XmlSource, li) -> Line:
    document = src.one(li, "ram:AssociatedDocumentLineDocument")
    agreement = src.one(li, "ram:SpecifiedLineTradeAgreement")
    settlement = src.one(li, "ram:SpecifiedLineTradeSettlement")
    charges = [read_allowance_charge(src, ac, document=False)
               for ac in src.all(settlement, "ram:SpecifiedTradeAllowanceCharge")]
    tax = src.one(settlement, "ram:ApplicableTradeTax")
    vat = None
    if tax is not None:
        src.groups.setdefault(tax, "BG-30")
        src.text(tax, "ram:TypeCode")
        vat = LineVat(src.text(tax, "ram:CategoryCode"), src.decimal(tax, RATE, "BT-152"),
                      src.text(tax, "ram:ExemptionReason"))
    return Line(
        id=src.text(document, "ram:LineID"),
        note=src.text(document, "ram:IncludedNote/ram:Content"),
        object_id=_object_id(src, src.first(settlement, f"ram:AdditionalReferencedDocument[{_type_is('130')}]",
                                            "ram:AdditionalReferencedDocument[not(ram:TypeCode)]")),
        quantity=src.quantity(li, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", "BT-129"),
        net_amount=src.amount(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
                              "BT-131"),
        order_line_reference=src.text(agreement, "ram:BuyerOrderReferencedDocument/ram:LineID"),
        accounting_reference=src.text(settlement, "ram:ReceivableSpecifiedTradeAccountingAccount/ram:ID"),
        period=read_period(src, src.one(settlement, "ram:BillingSpecifiedPeriod"), "BG-26"),
        allowances=[ac for ac in charges if not ac.is_charge],
        charges=[ac for ac in charges if ac.is_charge],
        price=read_price(src, agreement),
        vat=vat,
        item=read_item(src, src.one(li, "ram:SpecifiedTradeProduct")),
    )


