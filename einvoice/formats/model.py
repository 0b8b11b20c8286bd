"""The EN 16931 semantic model of one invoice, as typed dataclasses (syntax-independent).

Design
------
- Money is `Amount` (a `decimal.Decimal` plus its currency), quantities are `Quantity` (value plus
  unit code), identifiers with a scheme are `Identifier`; dates are `datetime.date`; all other
  values are `str` exactly as sent (trimmed; BT-20 keeps its line breaks untouched).
- Every field that holds a business term carries its id in the dataclass field metadata:
  ``fields(Invoice)`` → ``metadata["bt"] == "BT-10"``. Shared parts (address, contact, period,
  allowance/charge) name the id per enclosing group: ``metadata["roles"] == {"BG-5": "BT-35",
  "BG-8": "BT-50", ...}``. `einvoice.formats.terms.walk_terms` resolves both and yields
  (id, value, path) for a UI; `einvoice.formats.labels.label` gives the German/English caption.
  Fields without an id are syntax details kept so that nothing a supplier sent is lost (e.g.
  the CII project name, the UBL card network) or derived values.
- Absent optional parts are ``None`` (single) or ``[]`` (repeating); nothing is invented.

Credit notes and the sign of money (read this before exporting amounts)
-----------------------------------------------------------------------
Amounts are stored **exactly as written in the document**. A credit note carries positive
amounts; its direction comes from the document type, not from the sign:

- `Invoice.is_credit_note` is true for a UBL ``CreditNote`` document and for any document whose
  type code (BT-3) is a credit-note code (`CREDIT_NOTE_TYPE_CODES`: the codes UBL only allows in
  a CreditNote, e.g. 381 in CII; 81 counts as a credit note too).
- `Invoice.sign` is ``-1`` for a credit note and ``+1`` otherwise.
- `Invoice.signed_amount_due` is BT-115 × `sign`, seen from the buyer's books: **positive = the
  buyer owes the seller (pay out), negative = the seller owes the buyer (offset or refund)**.
  A "negative invoice" (type 380 with negative BT-115) is therefore money owed to the buyer too,
  and a credit note with a negative BT-115 (unusual) is money the buyer owes.
- `Invoice.direction` names it: ``"buyer-pays"``, ``"seller-pays"`` or ``"nothing-due"``.

Exports must use `signed_amount_due` / `sign` and never negate amounts on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

# The type codes UBL only allows in a CreditNote document (xrechnung-rules.md §3, BR-CL-01),
# plus 81 which both UBL documents allow: the document is a credit note (money owed to the buyer).
CREDIT_NOTE_TYPE_CODES = frozenset(
    {"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "502", "503", "532"}
)


def term(bt: str | None = None, *, roles: dict[str, str] | None = None, unit: str | None = None,
         default: Any = None, factory: Any = None) -> Any:
    """A dataclass field that remembers its business-term id (or ids per enclosing group)."""
    metadata: dict[str, Any] = {}
    if bt:
        metadata["bt"] = bt
    if roles:
        metadata["roles"] = roles
    if unit:
        metadata["unit"] = unit  # the id of a Quantity's unit code (BT-130, BT-150)
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def many(bt: str | None = None, **kwargs: Any) -> Any:
    return term(bt, factory=list, **kwargs)


# ---------------------------------------------------------------------------
# Value types (leaves of the model)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.value} {self.currency}"


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    unit: str | None = None  # UN/ECE Rec 20/21 code; its id is the field's metadata["unit"]

    def __str__(self) -> str:
        return f"{self.value} {self.unit}" if self.unit else str(self.value)


@dataclass(frozen=True)
class Identifier:
    """An identifier and its scheme (the scheme's id is the field's id plus "-1", e.g. BT-29-1)."""

    value: str
    scheme: str | None = None

    def __str__(self) -> str:
        return f"{self.value} ({self.scheme})" if self.scheme else self.value


# ---------------------------------------------------------------------------
# Parts shared by several groups (ids per enclosing group)
# ---------------------------------------------------------------------------

_ADDRESS_GROUPS = ("BG-5", "BG-8", "BG-12", "BG-15")


def _address_roles(*ids: str) -> dict[str, str]:
    return dict(zip(_ADDRESS_GROUPS, ids))


@dataclass
class Address:
    line1: str | None = term(roles=_address_roles("BT-35", "BT-50", "BT-64", "BT-75"))
    line2: str | None = term(roles=_address_roles("BT-36", "BT-51", "BT-65", "BT-76"))
    line3: str | None = term(roles=_address_roles("BT-162", "BT-163", "BT-164", "BT-165"))
    city: str | None = term(roles=_address_roles("BT-37", "BT-52", "BT-66", "BT-77"))
    post_code: str | None = term(roles=_address_roles("BT-38", "BT-53", "BT-67", "BT-78"))
    country_subdivision: str | None = term(roles=_address_roles("BT-39", "BT-54", "BT-68", "BT-79"))
    country_code: str | None = term(roles=_address_roles("BT-40", "BT-55", "BT-69", "BT-80"))


@dataclass
class Contact:
    point: str | None = term(roles={"BG-6": "BT-41", "BG-9": "BT-56"})
    telephone: str | None = term(roles={"BG-6": "BT-42", "BG-9": "BT-57"})
    email: str | None = term(roles={"BG-6": "BT-43", "BG-9": "BT-58"})
    department: str | None = None  # CII DepartmentName when a PersonName is BT-41/BT-56 already


@dataclass
class Period:
    start: date | None = term(roles={"BG-14": "BT-73", "BG-26": "BT-134"})
    end: date | None = term(roles={"BG-14": "BT-74", "BG-26": "BT-135"})


def _ac_roles(*ids: str) -> dict[str, str]:
    return dict(zip(("BG-20", "BG-21", "BG-27", "BG-28"), ids))


@dataclass
class AllowanceCharge:
    """A document (BG-20/BG-21) or line (BG-27/BG-28) allowance or charge."""

    is_charge: bool = False
    amount: Amount | None = term(roles=_ac_roles("BT-92", "BT-99", "BT-136", "BT-141"))
    base_amount: Amount | None = term(roles=_ac_roles("BT-93", "BT-100", "BT-137", "BT-142"))
    percentage: Decimal | None = term(roles=_ac_roles("BT-94", "BT-101", "BT-138", "BT-143"))
    vat_category: str | None = term(roles={"BG-20": "BT-95", "BG-21": "BT-102"})
    vat_rate: Decimal | None = term(roles={"BG-20": "BT-96", "BG-21": "BT-103"})
    reason: str | None = term(roles=_ac_roles("BT-97", "BT-104", "BT-139", "BT-144"))
    reason_code: str | None = term(roles=_ac_roles("BT-98", "BT-105", "BT-140", "BT-145"))


# ---------------------------------------------------------------------------
# Header parts
# ---------------------------------------------------------------------------


@dataclass
class Note:
    subject_code: str | None = term("BT-21")
    text: str | None = term("BT-22")


@dataclass
class PrecedingInvoice:
    number: str | None = term("BT-25")
    issue_date: date | None = term("BT-26")


@dataclass
class Seller:
    name: str | None = term("BT-27")
    trading_name: str | None = term("BT-28")
    identifiers: list[Identifier] = many("BT-29")
    legal_registration_id: Identifier | None = term("BT-30")
    vat_id: str | None = term("BT-31")
    tax_registration_id: str | None = term("BT-32")
    additional_legal_information: str | None = term("BT-33")
    electronic_address: Identifier | None = term("BT-34")
    address: Address | None = term("BG-5")
    contact: Contact | None = term("BG-6")


@dataclass
class Buyer:
    name: str | None = term("BT-44")
    trading_name: str | None = term("BT-45")
    identifiers: list[Identifier] = many("BT-46")
    legal_registration_id: Identifier | None = term("BT-47")
    vat_id: str | None = term("BT-48")
    # no EN 16931 term: a buyer tax number sent anyway (UBL non-VAT PartyTaxScheme with its scheme,
    # CII SpecifiedTaxRegistration schemeID FC); kept so that it is not lost
    tax_registration_id: Identifier | None = None
    electronic_address: Identifier | None = term("BT-49")
    address: Address | None = term("BG-8")
    contact: Contact | None = term("BG-9")


@dataclass
class Payee:
    name: str | None = term("BT-59")
    identifiers: list[Identifier] = many("BT-60")
    legal_registration_id: Identifier | None = term("BT-61")


@dataclass
class TaxRepresentative:
    name: str | None = term("BT-62")
    vat_id: str | None = term("BT-63")
    address: Address | None = term("BG-12")


@dataclass
class Delivery:
    """BG-13 with the invoicing period BG-14 (EN 16931 puts BG-14 inside BG-13)."""

    party_name: str | None = term("BT-70")
    location_id: Identifier | None = term("BT-71")
    actual_delivery_date: date | None = term("BT-72")
    invoicing_period: Period | None = term("BG-14")
    address: Address | None = term("BG-15")


# ---------------------------------------------------------------------------
# Payment
# ---------------------------------------------------------------------------


@dataclass
class CreditTransfer:
    account_id: str | None = term("BT-84")
    account_name: str | None = term("BT-85")
    service_provider_id: str | None = term("BT-86")


@dataclass
class PaymentCard:
    primary_account_number: str | None = term("BT-87")
    holder_name: str | None = term("BT-88")
    network_id: str | None = None  # UBL cbc:NetworkID (mandatory in UBL, no EN term)


@dataclass
class DirectDebit:
    mandate_reference: str | None = term("BT-89")
    creditor_id: str | None = term("BT-90")
    debited_account_id: str | None = term("BT-91")


@dataclass
class PaymentInstructions:
    means_code: str | None = term("BT-81")
    means_text: str | None = term("BT-82")
    remittance_information: str | None = term("BT-83")
    credit_transfers: list[CreditTransfer] = many("BG-17")
    card: PaymentCard | None = term("BG-18")
    direct_debit: DirectDebit | None = term("BG-19")


@dataclass
class DiscountTerms:
    """CII ram:ApplicableTradePaymentDiscountTerms (outside EN 16931; ZUGFeRD EXTENDED)."""

    basis_date: date | None = None
    period: Quantity | None = None  # BasisPeriodMeasure with its unit (e.g. DAY)
    basis_amount: Amount | None = None
    percent: Decimal | None = None
    actual_amount: Amount | None = None


@dataclass
class PaymentTermsBlock:
    """One CII ram:SpecifiedTradePaymentTerms when the document has structured terms beyond
    BT-20/BT-9 (several blocks, discount or penalty terms). Block 0's description and due date
    are BT-20 and BT-9 as well."""

    description: str | None = None
    due_date: date | None = None
    partial_payment_amount: Amount | None = None
    discount: DiscountTerms | None = None
    penalty: DiscountTerms | None = None  # ram:ApplicableTradePaymentPenaltyTerms, same shape


# ---------------------------------------------------------------------------
# Totals, VAT, attachments
# ---------------------------------------------------------------------------


@dataclass
class Totals:
    line_net_total: Amount | None = term("BT-106")
    allowance_total: Amount | None = term("BT-107")
    charge_total: Amount | None = term("BT-108")
    tax_exclusive: Amount | None = term("BT-109")
    tax_total: Amount | None = term("BT-110")
    tax_total_accounting_currency: Amount | None = term("BT-111")
    tax_inclusive: Amount | None = term("BT-112")
    prepaid: Amount | None = term("BT-113")
    rounding: Amount | None = term("BT-114")
    amount_due: Amount | None = term("BT-115")


@dataclass
class VatBreakdown:
    taxable_amount: Amount | None = term("BT-116")
    tax_amount: Amount | None = term("BT-117")
    category: str | None = term("BT-118")
    rate: Decimal | None = term("BT-119")
    exemption_reason: str | None = term("BT-120")
    exemption_reason_code: str | None = term("BT-121")


@dataclass
class BinaryObject:
    data: bytes = term("BT-125", default=b"")
    mime_code: str | None = term("BT-125-1")
    filename: str | None = term("BT-125-2")


@dataclass
class Attachment:
    reference: str | None = term("BT-122")
    description: str | None = term("BT-123")
    external_uri: str | None = term("BT-124")
    content: BinaryObject | None = term("BT-125")
    type_code: str | None = None  # UBL cbc:DocumentTypeCode / CII ram:TypeCode (916)


@dataclass
class ThirdPartyPayment:
    """XRechnung extension BG-DEX-09 (UBL cac:PrepaidPayment)."""

    type: str | None = term("BT-DEX-001")
    amount: Amount | None = term("BT-DEX-002")
    description: str | None = term("BT-DEX-003")


# ---------------------------------------------------------------------------
# Lines
# ---------------------------------------------------------------------------


@dataclass
class Price:
    net_price: Amount | None = term("BT-146")
    discount: Amount | None = term("BT-147")
    gross_price: Amount | None = term("BT-148")
    base_quantity: Quantity | None = term("BT-149", unit="BT-150")


@dataclass
class LineVat:
    category: str | None = term("BT-151")
    rate: Decimal | None = term("BT-152")
    exemption_reason: str | None = None  # CII line-level ram:ExemptionReason (no EN term)


@dataclass
class Classification:
    code: str | None = term("BT-158")
    list_id: str | None = term("BT-158-1")
    list_version: str | None = term("BT-158-2")


@dataclass
class ItemAttribute:
    name: str | None = term("BT-160")
    value: str | None = term("BT-161")


@dataclass
class Item:
    name: str | None = term("BT-153")
    description: str | None = term("BT-154")
    seller_id: str | None = term("BT-155")
    buyer_id: str | None = term("BT-156")
    standard_id: Identifier | None = term("BT-157")
    classifications: list[Classification] = many("BT-158")
    origin_country: str | None = term("BT-159")
    attributes: list[ItemAttribute] = many("BG-32")


@dataclass
class Line:
    id: str | None = term("BT-126")
    note: str | None = term("BT-127")
    object_id: Identifier | None = term("BT-128")
    quantity: Quantity | None = term("BT-129", unit="BT-130")
    net_amount: Amount | None = term("BT-131")
    order_line_reference: str | None = term("BT-132")
    accounting_reference: str | None = term("BT-133")
    period: Period | None = term("BG-26")
    allowances: list[AllowanceCharge] = many("BG-27")
    charges: list[AllowanceCharge] = many("BG-28")
    price: Price | None = term("BG-29")
    vat: LineVat | None = term("BG-30")
    item: Item | None = term("BG-31")
    sub_lines: list[Line] = many("BG-DEX-01")  # XRechnung extension, UBL Invoice only


# ---------------------------------------------------------------------------
# The invoice
# ---------------------------------------------------------------------------


@dataclass
class Invoice:
    syntax: str = ""  # DocumentKind value: ubl-invoice, ubl-creditnote, cii, zugferd1
    number: str | None = term("BT-1")
    issue_date: date | None = term("BT-2")
    type_code: str | None = term("BT-3")
    currency: str | None = term("BT-5")
    tax_currency: str | None = term("BT-6")
    tax_point_date: date | None = term("BT-7")
    tax_point_date_code: str | None = term("BT-8")
    due_date: date | None = term("BT-9")
    buyer_reference: str | None = term("BT-10")
    project_reference: str | None = term("BT-11")
    project_name: str | None = None  # CII ram:SpecifiedProcuringProject/ram:Name (XSD-mandatory)
    contract_reference: str | None = term("BT-12")
    purchase_order_reference: str | None = term("BT-13")
    sales_order_reference: str | None = term("BT-14")
    receiving_advice_reference: str | None = term("BT-15")
    despatch_advice_reference: str | None = term("BT-16")
    tender_reference: str | None = term("BT-17")
    invoiced_object_id: Identifier | None = term("BT-18")
    buyer_accounting_reference: str | None = term("BT-19")
    payment_terms: str | None = term("BT-20")  # raw text: keeps line breaks (Skonto syntax)
    notes: list[Note] = many("BG-1")
    business_process: str | None = term("BT-23")
    specification_id: str | None = term("BT-24")
    preceding_invoices: list[PrecedingInvoice] = many("BG-3")
    seller: Seller | None = term("BG-4")
    buyer: Buyer | None = term("BG-7")
    payee: Payee | None = term("BG-10")
    tax_representative: TaxRepresentative | None = term("BG-11")
    delivery: Delivery | None = term("BG-13")
    payment_instructions: PaymentInstructions | None = term("BG-16")
    payment_terms_blocks: list[PaymentTermsBlock] = many()  # CII structured terms (not EN 16931)
    allowances: list[AllowanceCharge] = many("BG-20")
    charges: list[AllowanceCharge] = many("BG-21")
    totals: Totals | None = term("BG-22")
    vat_breakdown: list[VatBreakdown] = many("BG-23")
    attachments: list[Attachment] = many("BG-24")
    lines: list[Line] = many("BG-25")
    third_party_payments: list[ThirdPartyPayment] = many("BG-DEX-09")  # XRechnung extension

    @property
    def is_credit_note(self) -> bool:
        """A credit note: money owed to the buyer when BT-115 is positive (see module docstring)."""
        return self.syntax == "ubl-creditnote" or (self.type_code or "").strip() in CREDIT_NOTE_TYPE_CODES

    @property
    def sign(self) -> int:
        return -1 if self.is_credit_note else 1

    @property
    def amount_due(self) -> Amount | None:
        return self.totals.amount_due if self.totals else None

    @property
    def signed_amount_due(self) -> Amount | None:
        """BT-115 × sign: > 0 the buyer owes the seller, < 0 the seller owes the buyer."""
        due = self.amount_due
        return None if due is None else Amount(due.value * self.sign, due.currency)

    @property
    def direction(self) -> str | None:
        signed = self.signed_amount_due
        if signed is None:
            return None
        if signed.value > 0:
            return "buyer-pays"
        if signed.value < 0:
            return "seller-pays"
        return "nothing-due"
