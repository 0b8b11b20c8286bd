"""UBL 2.1 Invoice and CreditNote → model (paths: shared/spec/en16931-fields.md, UBL columns)."""

from __future__ import annotations

import re

from lxml import etree

from ..validation.kinds import UBL_CBC_NS, DocumentKind
from .model import (
    Address, AllowanceCharge, Attachment, BinaryObject, Buyer, Classification, Contact, CreditTransfer, Delivery,
    DirectDebit, Identifier, Invoice, Item, ItemAttribute, Line, LineVat, Note, Payee, PaymentCard, PaymentInstructions, Period,
    PrecedingInvoice, Price, Seller, TaxRepresentative, ThirdPartyPayment, Totals, VatBreakdown,
)
from .xmlsource import XmlSource

NS = {
    "cbc": UBL_CBC_NS,
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}
SUP = "cac:AccountingSupplierParty/cac:Party"
CUS = "cac:AccountingCustomerParty/cac:Party"
_NOTE_SUBJECT = re.compile(r"^#([A-Z]{3})#", re.ASCII)  # XRechnung convention for BT-21 in UBL


def _is(code_path: str, value: str) -> str:
    return f"normalize-space({code_path}) = '{value}'"


def read_ubl(root: etree._Element, kind: DocumentKind) -> tuple[Invoice, XmlSource]:
    src = XmlSource(root, NS)
    credit_note = kind is DocumentKind.UBL_CREDITNOTE
    inv = Invoice(syntax=kind.value)
    inv.currency = src.text(root, "cbc:DocumentCurrencyCode")
    src.currency = inv.currency
    inv.number = src.text(root, "cbc:ID")
    inv.issue_date = src.iso_date(root, "cbc:IssueDate", "BT-2")
    inv.type_code = src.text(root, "cbc:CreditNoteTypeCode" if credit_note else "cbc:InvoiceTypeCode")
    inv.tax_currency = src.text(root, "cbc:TaxCurrencyCode")
    inv.tax_point_date = src.iso_date(root, "cbc:TaxPointDate", "BT-7")
    inv.tax_point_date_code = src.text(root, "cac:InvoicePeriod/cbc:DescriptionCode")
    inv.due_date = src.iso_date(root, "cbc:DueDate | cac:PaymentMeans/cbc:PaymentDueDate", "BT-9")
    src.take_repeats(src.all(root, "cbc:DueDate | cac:PaymentMeans/cbc:PaymentDueDate"))
    inv.buyer_reference = src.text(root, "cbc:BuyerReference")
    if credit_note:
        project = src.one(root, f"cac:AdditionalDocumentReference[{_is('cbc:DocumentTypeCode', '50')}]")
        inv.project_reference = src.text(project, "cbc:ID")
        src.text(project, "cbc:DocumentTypeCode")
    else:
        inv.project_reference = src.text(root, "cac:ProjectReference/cbc:ID")
    inv.contract_reference = src.text(root, "cac:ContractDocumentReference/cbc:ID")
    inv.purchase_order_reference = src.text(root, "cac:OrderReference/cbc:ID")
    inv.sales_order_reference = src.text(root, "cac:OrderReference/cbc:SalesOrderID")
    inv.receiving_advice_reference = src.text(root, "cac:ReceiptDocumentReference/cbc:ID")
    inv.despatch_advice_reference = src.text(root, "cac:DespatchDocumentReference/cbc:ID")
    inv.tender_reference = src.text(root, "cac:OriginatorDocumentReference/cbc:ID")
    invoiced_object = src.one(root, f"cac:AdditionalDocumentReference[{_is('cbc:DocumentTypeCode', '130')}]")
    inv.invoiced_object_id = src.identifier(invoiced_object, "cbc:ID")
    src.text(invoiced_object, "cbc:DocumentTypeCode")
    inv.buyer_accounting_reference = src.text(root, "cbc:AccountingCost")
    inv.payment_terms = src.text(root, "cac:PaymentTerms/cbc:Note", raw=True)
    inv.notes = [_note(src.take(n, raw=True)) for n in src.group(root, "cbc:Note", "BG-1")]
    inv.business_process = src.text(root, "cbc:ProfileID")
    inv.specification_id = src.text(root, "cbc:CustomizationID")
    inv.preceding_invoices = [
        PrecedingInvoice(src.text(ref, "cbc:ID"), src.iso_date(ref, "cbc:IssueDate", "BT-26"))
        for ref in src.group(root, "cac:BillingReference/cac:InvoiceDocumentReference", "BG-3")
    ]
    inv.seller = _seller(src, src.one(root, SUP))
    inv.buyer = _buyer(src, src.one(root, CUS))
    inv.payee = _payee(src, src.one(root, "cac:PayeeParty"))
    inv.tax_representative = _tax_representative(src, src.one(root, "cac:TaxRepresentativeParty"))
    inv.delivery = _delivery(src, root)
    inv.payment_instructions = _payment(src, root)
    charges = [_allowance_charge(src, ac, document=True) for ac in src.group(root, "cac:AllowanceCharge", "BG-20")]
    inv.allowances = [ac for ac in charges if not ac.is_charge]
    inv.charges = [ac for ac in charges if ac.is_charge]
    inv.totals = _totals(src, root, inv)
    inv.vat_breakdown = [_vat(src, sub) for sub in src.group(root, "cac:TaxTotal/cac:TaxSubtotal", "BG-23")]
    skip = [_is("cbc:DocumentTypeCode", "130")] + ([_is("cbc:DocumentTypeCode", "50")] if credit_note else [])
    attachments = src.group(root, f"cac:AdditionalDocumentReference[not({' or '.join(skip)})]", "BG-24")
    inv.attachments = [_attachment(src, ref) for ref in attachments]
    line_tag = "cac:CreditNoteLine" if credit_note else "cac:InvoiceLine"
    inv.lines = [_line(src, line, credit_note) for line in src.group(root, line_tag, "BG-25")]
    inv.third_party_payments = [
        ThirdPartyPayment(src.text(p, "cbc:ID"), src.amount(p, "cbc:PaidAmount", "BT-DEX-002"),
                          src.text(p, "cbc:InstructionID"))
        for p in src.group(root, "cac:PrepaidPayment", "BG-DEX-09")
    ]
    return inv, src


def _note(text: str | None) -> Note:
    text = (text or "").strip()
    match = _NOTE_SUBJECT.match(text)
    if match:
        return Note(match.group(1), text[match.end():].strip() or None)
    return Note(None, text or None)


def _address(src: XmlSource, node, bt: str) -> Address | None:
    if node is None:
        return None
    src.groups.setdefault(node, bt)
    return Address(
        line1=src.text(node, "cbc:StreetName"),
        line2=src.text(node, "cbc:AdditionalStreetName"),
        line3=src.text(node, "cac:AddressLine/cbc:Line"),
        city=src.text(node, "cbc:CityName"),
        post_code=src.text(node, "cbc:PostalZone"),
        country_subdivision=src.text(node, "cbc:CountrySubentity"),
        country_code=src.text(node, "cac:Country/cbc:IdentificationCode"),
    )


def _contact(src: XmlSource, node, bt: str) -> Contact | None:
    if node is None:
        return None
    src.groups.setdefault(node, bt)
    return Contact(src.text(node, "cbc:Name"), src.text(node, "cbc:Telephone"), src.text(node, "cbc:ElectronicMail"))


_VAT_SCHEME = _is("cac:TaxScheme/cbc:ID", "VAT")
_NOT_SEPA = f"not({_is('@schemeID', 'SEPA')})"


def _tax_scheme_id(src: XmlSource, party, vat: bool) -> str | None:
    condition = _VAT_SCHEME if vat else f"not({_VAT_SCHEME})"
    scheme = src.one(party, f"cac:PartyTaxScheme[{condition}]")
    src.text(scheme, "cac:TaxScheme/cbc:ID")
    return src.text(scheme, "cbc:CompanyID")


def _other_tax_scheme(src: XmlSource, party) -> Identifier | None:
    scheme = src.one(party, f"cac:PartyTaxScheme[not({_VAT_SCHEME})]")
    value = src.text(scheme, "cbc:CompanyID")
    return Identifier(value, src.text(scheme, "cac:TaxScheme/cbc:ID")) if value else None


def _seller(src: XmlSource, party) -> Seller | None:
    if party is None:
        return None
    src.groups.setdefault(party, "BG-4")
    return Seller(
        name=src.text(party, "cac:PartyLegalEntity/cbc:RegistrationName"),
        trading_name=src.text(party, "cac:PartyName/cbc:Name"),
        identifiers=[src.identifier_of(n) for n in src.all(party, f"cac:PartyIdentification/cbc:ID[{_NOT_SEPA}]")
                     if (n.text or "").strip()],
        legal_registration_id=src.identifier(party, "cac:PartyLegalEntity/cbc:CompanyID"),
        vat_id=_tax_scheme_id(src, party, vat=True),
        tax_registration_id=_tax_scheme_id(src, party, vat=False),
        additional_legal_information=src.text(party, "cac:PartyLegalEntity/cbc:CompanyLegalForm"),
        electronic_address=src.identifier(party, "cbc:EndpointID"),
        address=_address(src, src.one(party, "cac:PostalAddress"), "BG-5"),
        contact=_contact(src, src.one(party, "cac:Contact"), "BG-6"),
    )


def _buyer(src: XmlSource, party) -> Buyer | None:
    if party is None:
        return None
    src.groups.setdefault(party, "BG-7")
    return Buyer(
        name=src.text(party, "cac:PartyLegalEntity/cbc:RegistrationName"),
        trading_name=src.text(party, "cac:PartyName/cbc:Name"),
        identifiers=[src.identifier_of(n) for n in src.all(party, "cac:PartyIdentification/cbc:ID")
                     if (n.text or "").strip()],
        legal_registration_id=src.identifier(party, "cac:PartyLegalEntity/cbc:CompanyID"),
        vat_id=_tax_scheme_id(src, party, vat=True),
        tax_registration_id=_other_tax_scheme(src, party),
        electronic_address=src.identifier(party, "cbc:EndpointID"),
        address=_address(src, src.one(party, "cac:PostalAddress"), "BG-8"),
        contact=_contact(src, src.one(party, "cac:Contact"), "BG-9"),
    )


def _payee(src: XmlSource, party) -> Payee | None:
    if party is None:
        return None
    src.groups.setdefault(party, "BG-10")
    return Payee(
        name=src.text(party, "cac:PartyName/cbc:Name"),
        identifiers=[src.identifier_of(n) for n in src.all(party, f"cac:PartyIdentification/cbc:ID[{_NOT_SEPA}]")
                     if (n.text or "").strip()],
        legal_registration_id=src.identifier(party, "cac:PartyLegalEntity/cbc:CompanyID"),
    )


def _tax_representative(src: XmlSource, party) -> TaxRepresentative | None:
    if party is None:
        return None
    src.groups.setdefault(party, "BG-11")
    scheme = src.one(party, "cac:PartyTaxScheme")
    src.text(scheme, "cac:TaxScheme/cbc:ID")
    return TaxRepresentative(
        name=src.text(party, "cac:PartyName/cbc:Name"),
        vat_id=src.text(scheme, "cbc:CompanyID"),
        address=_address(src, src.one(party, "cac:PostalAddress"), "BG-12"),
    )


def _period(src: XmlSource, node, bt: str) -> Period | None:
    if node is None:
        return None
    src.groups.setdefault(node, bt)
    start_bt, end_bt = ("BT-73", "BT-74") if bt == "BG-14" else ("BT-134", "BT-135")
    return Period(src.iso_date(node, "cbc:StartDate", start_bt), src.iso_date(node, "cbc:EndDate", end_bt))


def _delivery(src: XmlSource, root) -> Delivery | None:
    node = src.one(root, "cac:Delivery")
    period = _period(src, src.one(root, "cac:InvoicePeriod"), "BG-14")
    if node is None and period is None:
        return None
    if node is not None:
        src.groups.setdefault(node, "BG-13")
    location = src.one(node, "cac:DeliveryLocation")
    return Delivery(
        party_name=src.text(node, "cac:DeliveryParty/cac:PartyName/cbc:Name"),
        location_id=src.identifier(location, "cbc:ID"),
        actual_delivery_date=src.iso_date(node, "cbc:ActualDeliveryDate", "BT-72"),
        invoicing_period=period,
        address=_address(src, src.one(location, "cac:Address"), "BG-15"),
    )


_SEPA = f"cac:PartyIdentification/cbc:ID[{_is('@schemeID', 'SEPA')}]"


def _payment(src: XmlSource, root) -> PaymentInstructions | None:
    means = src.group(root, "cac:PaymentMeans", "BG-16")
    # BT-90: the seller's (or payee's) identifier with scheme SEPA
    creditor_ids = src.all(root, f"{SUP}/{_SEPA} | cac:PayeeParty/{_SEPA}")
    creditor = src.identifier_of(creditor_ids[0]) if creditor_ids else None
    creditor_id = creditor.value if creditor else None
    src.take_repeats(creditor_ids)
    if not means and creditor_id is None:
        return None
    # one BG-16 in EN 16931; UBL repeats cac:PaymentMeans per account with equal codes (UBL-SR-47)
    codes = src.all(root, "cac:PaymentMeans/cbc:PaymentMeansCode")
    remittances = src.all(root, "cac:PaymentMeans/cbc:PaymentID")
    payment = PaymentInstructions(
        means_code=src.take(codes[0]) if codes else None,
        means_text=src.attribute(codes[0], "name") if codes else None,
        remittance_information=src.take(remittances[0]) if remittances else None,
    )
    src.take_repeats(codes)
    src.take_repeats(remittances)
    for pm in means:
        for account in src.group(pm, "cac:PayeeFinancialAccount", "BG-17"):
            payment.credit_transfers.append(CreditTransfer(
                src.text(account, "cbc:ID"), src.text(account, "cbc:Name"),
                src.text(account, "cac:FinancialInstitutionBranch/cbc:ID")))
        card = src.one(pm, "cac:CardAccount")
        if card is not None and payment.card is None:
            src.groups.setdefault(card, "BG-18")
            payment.card = PaymentCard(src.text(card, "cbc:PrimaryAccountNumberID"), src.text(card, "cbc:HolderName"),
                                       src.text(card, "cbc:NetworkID"))
        mandate = src.one(pm, "cac:PaymentMandate")
        if mandate is not None and payment.direct_debit is None:
            src.groups.setdefault(mandate, "BG-19")
            payment.direct_debit = DirectDebit(src.text(mandate, "cbc:ID"), creditor_id,
                                               src.text(mandate, "cac:PayerFinancialAccount/cbc:ID"))
    if payment.direct_debit is None and creditor_id is not None:
        payment.direct_debit = DirectDebit(creditor_id=creditor_id)
    return payment


def _allowance_charge(src: XmlSource, node, document: bool) -> AllowanceCharge:
    indicator = src.text(node, "cbc:ChargeIndicator")
    is_charge = (indicator or "").lower() in ("true", "1")  # xs:boolean
    ac = AllowanceCharge(
        is_charge=is_charge,
        amount=src.amount(node, "cbc:Amount"),
        base_amount=src.amount(node, "cbc:BaseAmount"),
        percentage=src.decimal(node, "cbc:MultiplierFactorNumeric"),
        reason=src.text(node, "cbc:AllowanceChargeReason"),
        reason_code=src.text(node, "cbc:AllowanceChargeReasonCode"),
    )
    if indicator is not None and indicator.lower() not in ("true", "false", "1", "0"):
        src.problem("FORMAT-VALUE", f"ChargeIndicator {indicator!r} ist weder true noch false / is neither true nor "
                    "false: read as allowance", node)
    src.groups[node] = ("BG-21" if is_charge else "BG-20") if document else ("BG-28" if is_charge else "BG-27")
    if document:
        category = src.one(node, "cac:TaxCategory")
        ac.vat_category = src.text(category, "cbc:ID")
        ac.vat_rate = src.decimal(category, "cbc:Percent")
        src.text(category, "cac:TaxScheme/cbc:ID")
    return ac


def _totals(src: XmlSource, root, inv: Invoice) -> Totals | None:
    node = src.one(root, "cac:LegalMonetaryTotal")
    if node is None and not src.all(root, "cac:TaxTotal"):
        return None
    totals = Totals(
        line_net_total=src.amount(node, "cbc:LineExtensionAmount", "BT-106"),
        allowance_total=src.amount(node, "cbc:AllowanceTotalAmount", "BT-107"),
        charge_total=src.amount(node, "cbc:ChargeTotalAmount", "BT-108"),
        tax_exclusive=src.amount(node, "cbc:TaxExclusiveAmount", "BT-109"),
        tax_inclusive=src.amount(node, "cbc:TaxInclusiveAmount", "BT-112"),
        prepaid=src.amount(node, "cbc:PrepaidAmount", "BT-113"),
        rounding=src.amount(node, "cbc:PayableRoundingAmount", "BT-114"),
        amount_due=src.amount(node, "cbc:PayableAmount", "BT-115"),
    )
    for tax in src.all(root, "cac:TaxTotal/cbc:TaxAmount"):
        currency = (tax.get("currencyID") or "").strip()
        if totals.tax_total is None and currency == (inv.currency or ""):
            totals.tax_total = src.amount_of(tax, "BT-110")
        elif totals.tax_total_accounting_currency is None and inv.tax_currency and currency == inv.tax_currency:
            totals.tax_total_accounting_currency = src.amount_of(tax, "BT-111")
    return totals


def _vat(src: XmlSource, sub) -> VatBreakdown:
    category = src.one(sub, "cac:TaxCategory")
    src.text(category, "cac:TaxScheme/cbc:ID")
    return VatBreakdown(
        taxable_amount=src.amount(sub, "cbc:TaxableAmount", "BT-116"),
        tax_amount=src.amount(sub, "cbc:TaxAmount", "BT-117"),
        category=src.text(category, "cbc:ID"),
        rate=src.decimal(category, "cbc:Percent", "BT-119"),
        exemption_reason=src.text(category, "cbc:TaxExemptionReason"),
        exemption_reason_code=src.text(category, "cbc:TaxExemptionReasonCode"),
    )


def _attachment(src: XmlSource, ref) -> Attachment:
    attachment = src.one(ref, "cac:Attachment")
    binary = src.one(attachment, "cbc:EmbeddedDocumentBinaryObject")
    content = None
    if binary is not None:
        content = BinaryObject(src.binary_of(binary), src.attribute(binary, "mimeCode"),
                               src.attribute(binary, "filename"))
    return Attachment(
        reference=src.text(ref, "cbc:ID"),
        description=src.text(ref, "cbc:DocumentDescription"),
        external_uri=src.text(attachment, "cac:ExternalReference/cbc:URI"),
        content=content,
        type_code=src.text(ref, "cbc:DocumentTypeCode"),
    )


def _line(src: XmlSource, node, credit_note: bool) -> Line:
    quantity_tag = "cbc:CreditedQuantity" if credit_note else "cbc:InvoicedQuantity"
    item = src.one(node, "cac:Item")
    # BT-128: the line document reference typed 130 (Peppol R101), else one without a type (CEN binding)
    object_ref = src.first(node, f"cac:DocumentReference[{_is('cbc:DocumentTypeCode', '130')}]",
                           "cac:DocumentReference[not(cbc:DocumentTypeCode)]")
    src.text(object_ref, "cbc:DocumentTypeCode")
    charges = [_allowance_charge(src, ac, document=False) for ac in src.all(node, "cac:AllowanceCharge")]
    line = Line(
        id=src.text(node, "cbc:ID"),
        note=src.text(node, "cbc:Note"),
        object_id=src.identifier(object_ref, "cbc:ID"),
        quantity=src.quantity(node, quantity_tag, "BT-129"),
        net_amount=src.amount(node, "cbc:LineExtensionAmount", "BT-131"),
        order_line_reference=src.text(node, "cac:OrderLineReference/cbc:LineID"),
        accounting_reference=src.text(node, "cbc:AccountingCost"),
        period=_period(src, src.one(node, "cac:InvoicePeriod"), "BG-26"),
        allowances=[ac for ac in charges if not ac.is_charge],
        charges=[ac for ac in charges if ac.is_charge],
        price=_price(src, src.one(node, "cac:Price")),
        item=_item(src, item),
    )
    tax = src.one(item, "cac:ClassifiedTaxCategory")
    if tax is not None:
        src.groups.setdefault(tax, "BG-30")
        src.text(tax, "cac:TaxScheme/cbc:ID")
        line.vat = LineVat(src.text(tax, "cbc:ID"), src.decimal(tax, "cbc:Percent", "BT-152"))
    if not credit_note:
        line.sub_lines = [_line(src, sub, False) for sub in src.group(node, "cac:SubInvoiceLine", "BG-DEX-01")]
    return line


def _price(src: XmlSource, node) -> Price | None:
    if node is None:
        return None
    src.groups.setdefault(node, "BG-29")
    discount = src.one(node, f"cac:AllowanceCharge[{_is('cbc:ChargeIndicator', 'false')}]")
    src.text(discount, "cbc:ChargeIndicator")
    return Price(
        net_price=src.amount(node, "cbc:PriceAmount", "BT-146"),
        discount=src.amount(discount, "cbc:Amount", "BT-147"),
        gross_price=src.amount(discount, "cbc:BaseAmount", "BT-148"),
        base_quantity=src.quantity(node, "cbc:BaseQuantity", "BT-149"),
    )


def _item(src: XmlSource, node) -> Item | None:
    if node is None:
        return None
    src.groups.setdefault(node, "BG-31")
    classifications = []
    for code in src.all(node, "cac:CommodityClassification/cbc:ItemClassificationCode"):
        classifications.append(Classification(src.take(code), src.attribute(code, "listID"),
                                              src.attribute(code, "listVersionID")))
    return Item(
        name=src.text(node, "cbc:Name"),
        description=src.text(node, "cbc:Description"),
        seller_id=src.text(node, "cac:SellersItemIdentification/cbc:ID"),
        buyer_id=src.text(node, "cac:BuyersItemIdentification/cbc:ID"),
        standard_id=src.identifier(node, "cac:StandardItemIdentification/cbc:ID"),
        classifications=classifications,
        origin_country=src.text(node, "cac:OriginCountry/cbc:IdentificationCode"),
        attributes=[ItemAttribute(src.text(p, "cbc:Name"), src.text(p, "cbc:Value"))
                    for p in src.group(node, "cac:AdditionalItemProperty", "BG-32")],
    )
