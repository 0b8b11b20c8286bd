"""CII building blocks shared by CII D16B (cii.py) and ZUGFeRD 1.0 (zugferd1.py).

Both name these elements alike (parties, addresses, payment, allowances, totals, VAT breakdown,
prices, items); only the namespaces differ, and those come with the `XmlSource`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .model import (
    Address, AllowanceCharge, Buyer, Classification, Contact, CreditTransfer, Delivery, DirectDebit, DiscountTerms,
    Identifier, Invoice, Item, ItemAttribute, Payee, PaymentCard, PaymentInstructions, PaymentTermsBlock, Period,
    Price, Seller, Totals, VatBreakdown,
)
from .xmlsource import XmlSource

# ZUGFeRD 1.0 names the rate ram:ApplicablePercent; reading both keeps one reader for both.
RATE = "ram:RateApplicablePercent | ram:ApplicablePercent"


# -- parties --------------------------------------------------------------------------------------


def read_address(src: XmlSource, node, bt: str) -> Address | None:
    if node is None:
        return None
    src.groups.setdefault(node, bt)
    return Address(
        line1=src.text(node, "ram:LineOne"),
        line2=src.text(node, "ram:LineTwo"),
        line3=src.text(node, "ram:LineThree"),
        city=src.text(node, "ram:CityName"),
        post_code=src.text(node, "ram:PostcodeCode"),
        country_subdivision=src.text(node, "ram:CountrySubDivisionName"),
        country_code=src.text(node, "ram:CountryID"),
    )


def read_contact(src: XmlSource, node, bt: str) -> Contact | None:
    if node is None:
        return None
    src.groups.setdefault(node, bt)
    person = src.text(node, "ram:PersonName")
    department = src.text(node, "ram:DepartmentName")
    return Contact(
        point=person or department,
        telephone=src.text(node, "ram:TelephoneUniversalCommunication/ram:CompleteNumber"),
        email=src.text(node, "ram:EmailURIUniversalCommunication/ram:URIID"),
        department=department if person else None,
    )


def _identifiers(src: XmlSource, party) -> list[Identifier]:
    nodes = src.all(party, "ram:ID | ram:GlobalID")
    return [i for i in (src.identifier_of(n) for n in nodes) if i is not None]


def tax_registration(src: XmlSource, party, scheme: str) -> str | None:
    node = src.one(party, f"ram:SpecifiedTaxRegistration/ram:ID[normalize-space(@schemeID) = '{scheme}']")
    src.attribute(node, "schemeID")
    return src.take(node)


def _buyer_tax_number(src: XmlSource, party) -> Identifier | None:
    value = tax_registration(src, party, "FC")
    return Identifier(value, "FC") if value else None


def read_seller(src: XmlSource, party) -> Seller | None:
    if party is None:
        return None
    src.groups.setdefault(party, "BG-4")
    organisation = src.one(party, "ram:SpecifiedLegalOrganization")
    return Seller(
        name=src.text(party, "ram:Name"),
        trading_name=src.text(organisation, "ram:TradingBusinessName"),
        identifiers=_identifiers(src, party),
        legal_registration_id=src.identifier(organisation, "ram:ID"),
        vat_id=tax_registration(src, party, "VA"),
        tax_registration_id=tax_registration(src, party, "FC"),
        additional_legal_information=src.text(party, "ram:Description"),
        electronic_address=src.identifier(party, "ram:URIUniversalCommunication/ram:URIID"),
        address=read_address(src, src.one(party, "ram:PostalTradeAddress"), "BG-5"),
        contact=read_contact(src, src.one(party, "ram:DefinedTradeContact"), "BG-6"),
    )


def read_buyer(src: XmlSource, party) -> Buyer | None:
    if party is None:
        return None
    src.groups.setdefault(party, "BG-7")
    organisation = src.one(party, "ram:SpecifiedLegalOrganization")
    return Buyer(
        name=src.text(party, "ram:Name"),
        trading_name=src.text(organisation, "ram:TradingBusinessName"),
        identifiers=_identifiers(src, party),
        legal_registration_id=src.identifier(organisation, "ram:ID"),
        vat_id=tax_registration(src, party, "VA"),
        tax_registration_id=_buyer_tax_number(src, party),
        electronic_address=src.identifier(party, "ram:URIUniversalCommunication/ram:URIID"),
        address=read_address(src, src.one(party, "ram:PostalTradeAddress"), "BG-8"),
        contact=read_contact(src, src.one(party, "ram:DefinedTradeContact"), "BG-9"),
    )


def read_payee(src: XmlSource, party) -> Payee | None:
    if party is None:
        return None
    src.groups.setdefault(party, "BG-10")
    return Payee(
        name=src.text(party, "ram:Name"),
        identifiers=_identifiers(src, party),
        legal_registration_id=src.identifier(party, "ram:SpecifiedLegalOrganization/ram:ID"),
    )


def read_period(src: XmlSource, node, bt: str) -> Period | None:
    if node is None:
        return None
    src.groups.setdefault(node, bt)
    start_bt, end_bt = ("BT-73", "BT-74") if bt == "BG-14" else ("BT-134", "BT-135")
    return Period(src.cii_date(node, "ram:StartDateTime/udt:DateTimeString", start_bt),
                  src.cii_date(node, "ram:EndDateTime/udt:DateTimeString", end_bt))


def read_delivery(src: XmlSource, htd, hts) -> Delivery | None:
    ship_to = src.one(htd, "ram:ShipToTradeParty")
    event_date = src.cii_date(htd, "ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime/udt:DateTimeString",
                              "BT-72")
    period = read_period(src, src.one(hts, "ram:BillingSpecifiedPeriod"), "BG-14")
    if ship_to is None and event_date is None and period is None:
        return None
    if ship_to is not None:
        src.groups.setdefault(ship_to, "BG-13")
    return Delivery(
        party_name=src.text(ship_to, "ram:Name"),
        location_id=src.identifier(ship_to, "ram:ID | ram:GlobalID"),
        actual_delivery_date=event_date,
        invoicing_period=period,
        address=read_address(src, src.one(ship_to, "ram:PostalTradeAddress"), "BG-15"),
    )


# -- payment -----------------------------------------------------------------------------------


def read_payment(src: XmlSource, hts) -> PaymentInstructions | None:
    means = src.group(hts, "ram:SpecifiedTradeSettlementPaymentMeans", "BG-16")
    remittance = src.text(hts, "ram:PaymentReference")
    mandate = src.text(hts, "ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID")
    creditor_id = src.text(hts, "ram:CreditorReferenceID")
    if not means and remittance is None and mandate is None and creditor_id is None:
        return None
    codes = src.all(hts, "ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode")
    texts = src.all(hts, "ram:SpecifiedTradeSettlementPaymentMeans/ram:Information")
    payment = PaymentInstructions(
        means_code=src.take(codes[0]) if codes else None,
        means_text=src.take(texts[0]) if texts else None,
        remittance_information=remittance,
    )
    src.take_repeats(codes)  # one BG-16 in EN 16931; the syntax repeats it per account (equal codes, CII-SR-467)
    src.take_repeats(texts)
    debited_account = None
    for pm in means:
        bic = src.text(pm, "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID")
        for account in src.group(pm, "ram:PayeePartyCreditorFinancialAccount", "BG-17"):
            payment.credit_transfers.append(CreditTransfer(
                src.text(account, "ram:IBANID") or src.text(account, "ram:ProprietaryID"),
                src.text(account, "ram:AccountName"), bic))
        card = src.one(pm, "ram:ApplicableTradeSettlementFinancialCard")
        if card is not None and payment.card is None:
            src.groups.setdefault(card, "BG-18")
            payment.card = PaymentCard(src.text(card, "ram:ID"), src.text(card, "ram:CardholderName"))
        debited_account = debited_account or src.text(pm, "ram:PayerPartyDebtorFinancialAccount/ram:IBANID")
    if mandate or creditor_id or debited_account:
        payment.direct_debit = DirectDebit(mandate, creditor_id, debited_account)
    return payment


def _discount(src: XmlSource, node, bt: str) -> DiscountTerms | None:
    if node is None:
        return None
    period = src.quantity(node, "ram:BasisPeriodMeasure", bt)
    return DiscountTerms(
        basis_date=src.cii_date(node, "ram:BasisDateTime/udt:DateTimeString", bt),
        period=period,
        basis_amount=src.amount(node, "ram:BasisAmount", bt),
        percent=src.decimal(node, "ram:CalculationPercent", bt),
        actual_amount=src.amount(node, "ram:ActualDiscountAmount | ram:ActualPenaltyAmount", bt),
    )


def read_payment_terms_blocks(src: XmlSource, hts) -> list[PaymentTermsBlock]:
    """All ram:SpecifiedTradePaymentTerms when there is more than BT-20/BT-9/BT-89 to keep."""
    blocks = src.all(hts, "ram:SpecifiedTradePaymentTerms")
    extras = "ram:ApplicableTradePaymentDiscountTerms | ram:ApplicableTradePaymentPenaltyTerms | ram:PartialPaymentAmount"
    if len(blocks) < 2 and not any(src.all(b, extras) for b in blocks):
        return []
    result = []
    for block in blocks:
        result.append(PaymentTermsBlock(
            description=src.text(block, "ram:Description", raw=True),
            due_date=src.cii_date(block, "ram:DueDateDateTime/udt:DateTimeString", "BT-9"),
            partial_payment_amount=src.amount(block, "ram:PartialPaymentAmount"),
            discount=_discount(src, src.one(block, "ram:ApplicableTradePaymentDiscountTerms"), "Skonto"),
            penalty=_discount(src, src.one(block, "ram:ApplicableTradePaymentPenaltyTerms"), "Verzug"),
        ))
    return result


# -- allowances, totals, VAT -------------------------------------------------------------------


def read_allowance_charge(src: XmlSource, node, document: bool) -> AllowanceCharge:
    indicator = src.text(node, "ram:ChargeIndicator/udt:Indicator")
    is_charge = (indicator or "").lower() in ("true", "1")  # xs:boolean
    src.groups[node] = ("BG-21" if is_charge else "BG-20") if document else ("BG-28" if is_charge else "BG-27")
    ac = AllowanceCharge(
        is_charge=is_charge,
        amount=src.amount(node, "ram:ActualAmount"),
        base_amount=src.amount(node, "ram:BasisAmount"),
        percentage=src.decimal(node, "ram:CalculationPercent"),
        reason=src.text(node, "ram:Reason"),
        reason_code=src.text(node, "ram:ReasonCode"),
    )
    if indicator is not None and indicator.lower() not in ("true", "false", "1", "0"):
        src.problem("FORMAT-VALUE", f"ChargeIndicator {indicator!r} ist weder true noch false / is neither true nor "
                    "false: read as allowance", node)
    category = src.one(node, "ram:CategoryTradeTax")
    if document or category is not None:
        src.text(category, "ram:TypeCode")
        ac.vat_category = src.text(category, "ram:CategoryCode")
        ac.vat_rate = src.decimal(category, RATE)
    return ac


def read_totals(src: XmlSource, node, inv: Invoice) -> Totals | None:
    if node is None:
        return None
    totals = Totals(
        line_net_total=src.amount(node, "ram:LineTotalAmount", "BT-106"),
        allowance_total=src.amount(node, "ram:AllowanceTotalAmount", "BT-107"),
        charge_total=src.amount(node, "ram:ChargeTotalAmount", "BT-108"),
        tax_exclusive=src.amount(node, "ram:TaxBasisTotalAmount", "BT-109"),
        tax_inclusive=src.amount(node, "ram:GrandTotalAmount", "BT-112"),
        prepaid=src.amount(node, "ram:TotalPrepaidAmount", "BT-113"),
        rounding=src.amount(node, "ram:RoundingAmount", "BT-114"),
        amount_due=src.amount(node, "ram:DuePayableAmount", "BT-115"),
    )
    for tax in src.all(node, "ram:TaxTotalAmount"):
        currency = (tax.get("currencyID") or "").strip()
        if totals.tax_total is None and currency in ("", inv.currency or ""):
            totals.tax_total = src.amount_of(tax, "BT-110")
        elif totals.tax_total_accounting_currency is None and inv.tax_currency and currency == inv.tax_currency:
            totals.tax_total_accounting_currency = src.amount_of(tax, "BT-111")
    return totals


def read_vat(src: XmlSource, tax) -> VatBreakdown:
    src.text(tax, "ram:TypeCode")
    return VatBreakdown(
        taxable_amount=src.amount(tax, "ram:BasisAmount", "BT-116"),
        tax_amount=src.amount(tax, "ram:CalculatedAmount", "BT-117"),
        category=src.text(tax, "ram:CategoryCode"),
        rate=src.decimal(tax, RATE, "BT-119"),
        exemption_reason=src.text(tax, "ram:ExemptionReason"),
        exemption_reason_code=src.text(tax, "ram:ExemptionReasonCode"),
    )


def read_price(src: XmlSource, agreement) -> Price | None:
    net = src.one(agreement, "ram:NetPriceProductTradePrice")
    gross = src.one(agreement, "ram:GrossPriceProductTradePrice")
    if net is None and gross is None:
        return None
    src.groups.setdefault(agreement, "BG-29")
    discount = src.one(gross, "ram:AppliedTradeAllowanceCharge")
    src.text(discount, "ram:ChargeIndicator/udt:Indicator")
    base = src.quantity(net, "ram:BasisQuantity", "BT-149")
    gross_base = src.one(gross, "ram:BasisQuantity")
    if base is None:
        base = src.quantity(gross, "ram:BasisQuantity", "BT-149")
    elif gross_base is not None and base.value == _decimal_or_none(gross_base.text) \
            and base.unit == gross_base.get("unitCode"):
        src.take(gross_base)  # BR-TMP-3: the same base quantity in gross and net price
        src.attribute(gross_base, "unitCode")
    return Price(
        net_price=src.amount(net, "ram:ChargeAmount", "BT-146"),
        discount=src.amount(discount, "ram:ActualAmount", "BT-147"),
        gross_price=src.amount(gross, "ram:ChargeAmount", "BT-148"),
        base_quantity=base,
    )


def _decimal_or_none(text: str | None) -> Decimal | None:
    try:
        return Decimal((text or "").strip())
    except InvalidOperation:
        return None


def read_item(src: XmlSource, product) -> Item | None:
    if product is None:
        return None
    src.groups.setdefault(product, "BG-31")
    classifications = []
    for code in src.all(product, "ram:DesignatedProductClassification/ram:ClassCode"):
        classifications.append(Classification(src.take(code), src.attribute(code, "listID"),
                                              src.attribute(code, "listVersionID")))
    return Item(
        name=src.text(product, "ram:Name"),
        description=src.text(product, "ram:Description"),
        seller_id=src.text(product, "ram:SellerAssignedID"),
        buyer_id=src.text(product, "ram:BuyerAssignedID"),
        standard_id=src.identifier(product, "ram:GlobalID"),
        classifications=classifications,
        origin_country=src.text(product, "ram:OriginTradeCountry/ram:ID"),
        attributes=[ItemAttribute(src.text(c, "ram:Description"), src.text(c, "ram:Value"))
                    for c in src.group(product, "ram:ApplicableProductCharacteristic", "BG-32")],
    )
