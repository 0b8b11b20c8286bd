"""A readable view of one invoice: ONE self-contained HTML page (inline CSS, no script, no external resource).

``render_html(result, validation=None, today=None)`` returns the page as a string, for the web UI and
for archive packages alike (`einvoice show FILE --format html`). It shows the header (number, dates,
type, Leitweg-ID with its check), seller / buyer / payee / tax representative / delivery, the lines,
document allowances and charges, totals, the VAT breakdown, a payment box (IBAN, BIC, due date and the
Skonto terms with deadline and amount), the attachments as downloads (``data:`` URIs carrying the
file name), the hybrid PDF / invoice XML as downloads, the findings of a validation (optional) and the
arithmetic check ("rechnerisch richtig", `arithmetic.py`).

Labels are German (`labels.py`); every value carries its business-term id and English name in a
``title`` attribute (hover) and ``data-bt``. Accessibility: ``lang="de"``, landmarks, table captions and
``scope`` on every header cell, status shown as text and symbol (never colour alone), colours with a
contrast ratio of at least 4.5:1. Credit notes carry a banner "Gutschrift — Betrag zugunsten des
Käufers". The template is ``templates/invoice.html.j2`` (Jinja2, autoescaped).

No PDF output here: see the reply to the lead / README (a PDF needs a rendering engine with system
libraries; the page has print CSS, so a browser's "Als PDF drucken" gives a clean PDF).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from .arithmetic import CATEGORY_NAMES, ArithmeticResult, Check, check_result
from .labels import label
from .leitweg import LeitwegId
from .model import Address, AllowanceCharge, Amount, Contact, Identifier, Invoice, Line, Quantity
from .read import ReadResult
from .skonto import PaymentTerms

# Attachments and originals larger than this are listed but not embedded (the page stays loadable).
EMBED_LIMIT = 15 * 1024 * 1024

TYPE_CODES = {
    "71": "Anforderung einer Zahlung", "80": "Belastungsanzeige (Waren/Dienstleistungen)",
    "81": "Gutschriftsanzeige (Waren/Dienstleistungen)", "82": "Rechnung für Zählerablesung",
    "83": "Gutschriftsanzeige (Finanzkorrektur)", "84": "Belastungsanzeige (Finanzkorrektur)",
    "261": "Selbst erstellte Gutschrift", "262": "Konsolidierte Gutschrift", "296": "Gutschrift für Preisänderung",
    "308": "Delcredere-Gutschrift", "325": "Proformarechnung", "326": "Teilrechnung",
    "380": "Rechnung", "381": "Gutschrift", "383": "Belastungsanzeige", "384": "Rechnungskorrektur",
    "386": "Vorauszahlungsrechnung", "389": "Gutschrift (Selbstfakturierung)", "393": "Factoring-Rechnung",
    "394": "Leasingrechnung", "396": "Factoring-Gutschrift", "420": "Optik-Gutschrift",
    "458": "Gutschrift für Inkasso", "471": "Selbstfakturierte Rechnung", "502": "Selbst erstellte Gutschrift",
    "503": "Gutschrift für Abrechnung", "527": "Selbst erstellte Belastungsanzeige",
    "532": "Gutschrift des Spediteurs", "751": "Rechnungsinformation für Buchungszwecke",
    "875": "Teilrechnung (Bau)", "876": "Teilschlussrechnung (Bau)", "877": "Schlussrechnung (Bau)",
}

PAYMENT_MEANS = {
    "1": "nicht definiert", "10": "Barzahlung", "20": "Scheck", "30": "Überweisung", "31": "Auslandsüberweisung",
    "42": "Zahlung auf Bankkonto", "48": "Kartenzahlung", "49": "Lastschrift", "54": "Kreditkarte",
    "55": "Debitkarte", "57": "Dauerauftrag", "58": "SEPA-Überweisung", "59": "SEPA-Lastschrift",
    "68": "Online-Zahlung", "97": "Verrechnung", "ZZZ": "gegenseitig vereinbart",
}

UNITS = {
    "H87": "Stück", "C62": "Einheit", "XPP": "Packstück", "EA": "Stück", "HUR": "Std.", "MIN": "Min.",
    "DAY": "Tag(e)", "WEE": "Woche(n)", "MON": "Monat(e)", "ANN": "Jahr(e)", "MTQ": "m³", "MTK": "m²",
    "MTR": "m", "KMT": "km", "KGM": "kg", "TNE": "t", "LTR": "l", "SET": "Satz", "PR": "Paar", "LS": "pauschal",
    "KWH": "kWh", "P1": "%",
}

_MIME = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$")
_DOWNLOAD_MIMES = {"application/pdf", "image/png", "image/jpeg", "text/csv", "text/plain", "application/xml",
                   "text/xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                   "application/vnd.oasis.opendocument.spreadsheet"}


# ---------------------------------------------------------------------------
# formatting (German)
# ---------------------------------------------------------------------------


def number(value: Decimal | None, places: int | None = 2) -> str:
    """German number: 1.234,56 (``places`` None: as many decimals as the value needs)."""
    if value is None:
        return ""
    if places is None:
        exponent = value.normalize().as_tuple().exponent
        places = max(0, -exponent) if isinstance(exponent, int) else 0
    text = f"{value:,.{places}f}"
    return text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".").replace("-", "−")


def money(amount: Amount | Decimal | None, currency: str | None = None) -> str:
    if amount is None:
        return ""
    if isinstance(amount, Amount):
        value, currency = amount.value, amount.currency or currency
    else:
        value = amount
    symbol = "€" if (currency or "EUR") == "EUR" else (currency or "")
    places = max(2, -value.as_tuple().exponent) if isinstance(value.as_tuple().exponent, int) else 2
    return f"{number(value, places)}\u00a0{symbol}"


def percent(value: Decimal | None) -> str:
    return "" if value is None else f"{number(value, None)}\u00a0%"


def day(value: date | None) -> str:
    return "" if value is None else f"{value:%d.%m.%Y}"


def quantity(value: Quantity | None) -> str:
    if value is None:
        return ""
    unit = UNITS.get(value.unit or "", value.unit or "")
    return f"{number(value.value, None)}\u00a0{unit}".strip()


def iban(text: str | None) -> str:
    if not text:
        return ""
    compact = re.sub(r"\s+", "", text)
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def _iban_valid(text: str | None) -> bool | None:
    if not text:
        return None
    from stdnum import iban as stdnum_iban

    return stdnum_iban.is_valid(text)


def title(bt: str) -> str:
    """The hover text of a value: id, German and English name."""
    german, english = label(bt), label(bt, "en")
    return f"{bt}: {german} / {english}" if german != bt else bt


# ---------------------------------------------------------------------------
# the view model (plain values for the template)
# ---------------------------------------------------------------------------


@dataclass
class Field:
    bt: str
    label: str
    value: str
    note: str = ""  # e.g. "gültig" after a Leitweg-ID
    status: str = ""  # ok, bad, info

    @property
    def title(self) -> str:
        return title(self.bt)


# shorter captions inside a party card (the card's heading already says whose they are)
SHORT_LABELS = {
    "BT-27": "Name", "BT-28": "Handelsname", "BT-29": "Kennung", "BT-30": "Registernummer", "BT-31": "USt-IdNr.",
    "BT-32": "Steuernummer", "BT-33": "Rechtliche Angaben", "BT-34": "E-Rechnungsadresse", "BT-41": "Ansprechpartner",
    "BT-42": "Telefon", "BT-43": "E-Mail", "BT-44": "Name", "BT-45": "Handelsname", "BT-46": "Kennung",
    "BT-47": "Registernummer", "BT-48": "USt-IdNr.", "BT-49": "E-Rechnungsadresse", "BT-56": "Ansprechpartner",
    "BT-57": "Telefon", "BT-58": "E-Mail", "BT-59": "Name", "BT-60": "Kennung", "BT-61": "Registernummer",
    "BT-62": "Name", "BT-63": "USt-IdNr.", "BT-70": "Empfänger", "BT-71": "Lieferort",
}


def _field(bt: str, value: Any, text: str | None = None, label_text: str | None = None, **kwargs) -> Field | None:
    if value is None or value == "" or value == []:
        return None
    if text is None:
        if isinstance(value, Amount):
            text = money(value)
        elif isinstance(value, date):
            text = day(value)
        elif isinstance(value, Identifier):
            text = value.value + (f" ({value.scheme})" if value.scheme else "")
        elif isinstance(value, Quantity):
            text = quantity(value)
        elif isinstance(value, Decimal):
            text = number(value, None)
        else:
            text = str(value)
    return Field(bt, label_text or SHORT_LABELS.get(bt) or label(bt), text, **kwargs)


def _fields(*items: Field | None) -> list[Field]:
    return [f for f in items if f is not None]


@dataclass
class PartyBlock:
    heading: str
    bg: str
    fields: list[Field] = field(default_factory=list)
    address: list[str] = field(default_factory=list)
    address_bt: str = ""


def _address_lines(address: Address | None) -> list[str]:
    if address is None:
        return []
    lines = [x for x in (address.line1, address.line2, address.line3) if x]
    city = " ".join(x for x in (address.post_code, address.city) if x)
    if city:
        lines.append(city)
    tail = ", ".join(x for x in (address.country_subdivision, address.country_code) if x)
    if tail:
        lines.append(tail)
    return lines


def _contact_fields(contact: Contact | None, ids: tuple[str, str, str]) -> list[Field]:
    if contact is None:
        return []
    point = contact.point
    if contact.department and contact.department != point:
        point = f"{point}, {contact.department}" if point else contact.department
    return _fields(_field(ids[0], point), _field(ids[1], contact.telephone), _field(ids[2], contact.email))


def _parties(invoice: Invoice) -> list[PartyBlock]:
    blocks = []
    seller = invoice.seller
    if seller is not None:
        block = PartyBlock("Verkäufer (Rechnungssteller)", "BG-4", address_bt="BG-5",
                           address=_address_lines(seller.address))
        block.fields = _fields(
            _field("BT-27", seller.name), _field("BT-28", seller.trading_name),
            _field("BT-31", seller.vat_id), _field("BT-32", seller.tax_registration_id),
            _field("BT-30", seller.legal_registration_id),
            *[_field("BT-29", ident) for ident in seller.identifiers],
            _field("BT-34", seller.electronic_address),
            *_contact_fields(seller.contact, ("BT-41", "BT-42", "BT-43")),
            _field("BT-33", seller.additional_legal_information))
        blocks.append(block)
    buyer = invoice.buyer
    if buyer is not None:
        block = PartyBlock("Käufer (Rechnungsempfänger)", "BG-7", address_bt="BG-8",
                           address=_address_lines(buyer.address))
        block.fields = _fields(
            _field("BT-44", buyer.name), _field("BT-45", buyer.trading_name), _field("BT-48", buyer.vat_id),
            _field("BT-47", buyer.legal_registration_id),
            *[_field("BT-46", ident) for ident in buyer.identifiers],
            _field("BT-49", buyer.electronic_address),
            *_contact_fields(buyer.contact, ("BT-56", "BT-57", "BT-58")))
        blocks.append(block)
    payee = invoice.payee
    if payee is not None:
        block = PartyBlock("Zahlungsempfänger (abweichend vom Verkäufer)", "BG-10")
        block.fields = _fields(_field("BT-59", payee.name), *[_field("BT-60", i) for i in payee.identifiers],
                               _field("BT-61", payee.legal_registration_id))
        blocks.append(block)
    rep = invoice.tax_representative
    if rep is not None:
        block = PartyBlock("Steuervertreter des Verkäufers", "BG-11", address_bt="BG-12",
                           address=_address_lines(rep.address))
        block.fields = _fields(_field("BT-62", rep.name), _field("BT-63", rep.vat_id))
        blocks.append(block)
    delivery = invoice.delivery
    if delivery is not None and (delivery.party_name or delivery.location_id or delivery.address):
        block = PartyBlock("Lieferung an", "BG-13", address_bt="BG-15", address=_address_lines(delivery.address))
        block.fields = _fields(_field("BT-70", delivery.party_name), _field("BT-71", delivery.location_id))
        blocks.append(block)
    return blocks


@dataclass
class LeitwegView:
    value: str
    valid: bool
    text: str


def _leitweg(invoice: Invoice) -> LeitwegView | None:
    if not invoice.buyer_reference:
        return None
    lid = LeitwegId.parse(invoice.buyer_reference)
    if lid.is_valid:
        where = f", {lid.state_name}" if lid.state_name else ""
        text = f"gültige Leitweg-ID (Prüfziffer stimmt{where})"
    else:
        text = f"ungültige Leitweg-ID: {lid.reason}"
    return LeitwegView(invoice.buyer_reference, lid.is_valid, text)


def _header(invoice: Invoice, result: ReadResult) -> list[Field]:
    type_name = TYPE_CODES.get((invoice.type_code or "").strip(), "")
    delivery = invoice.delivery
    period = delivery.invoicing_period if delivery else None
    period_text = None
    if period is not None and (period.start or period.end):
        period_text = f"{day(period.start)} – {day(period.end)}"
    spec = result.specification.label if result.specification else None
    return _fields(
        _field("BT-1", invoice.number),
        _field("BT-2", invoice.issue_date),
        _field("BT-3", invoice.type_code, f"{invoice.type_code} {type_name}".strip()),
        _field("BT-9", invoice.due_date),
        _field("BT-72", delivery.actual_delivery_date if delivery else None),
        _field("BG-14", period_text),
        _field("BT-7", invoice.tax_point_date),
        _field("BT-5", invoice.currency),
        _field("BT-6", invoice.tax_currency),
        _field("BT-13", invoice.purchase_order_reference),
        _field("BT-14", invoice.sales_order_reference),
        _field("BT-12", invoice.contract_reference),
        _field("BT-11", invoice.project_reference),
        _field("BT-17", invoice.tender_reference),
        _field("BT-19", invoice.buyer_accounting_reference),
        _field("BT-15", invoice.receiving_advice_reference),
        _field("BT-16", invoice.despatch_advice_reference),
        _field("BT-18", invoice.invoiced_object_id),
        *[_field("BT-25", f"{p.number or '?'}" + (f" vom {day(p.issue_date)}" if p.issue_date else ""))
          for p in invoice.preceding_invoices],
        _field("BT-24", invoice.specification_id, spec, note=invoice.specification_id if spec else ""),
        _field("BT-23", invoice.business_process),
    )


@dataclass
class LineView:
    id: str
    name: str
    description: str
    seller_id: str
    quantity: str
    price: str
    price_note: str
    vat: str
    adjustments: list[str]
    net: str
    note: str
    period: str
    references: list[Field]
    check: Check | None
    sub: bool = False


def _adjustment_text(ac: AllowanceCharge) -> str:
    kind = "Zuschlag" if ac.is_charge else "Nachlass"
    reason = ac.reason or ac.reason_code or ""
    pct = f" {percent(ac.percentage)} von {money(ac.base_amount)}" if ac.percentage is not None and ac.base_amount else ""
    sign = "+" if ac.is_charge else "−"
    return f"{kind} {reason}{pct}: {sign}{money(ac.amount)}".replace("  ", " ")


def _lines(lines: list[Line], checks: dict[str, Check], sub: bool = False) -> list[LineView]:
    views = []
    for index, line in enumerate(lines, start=1):
        item = line.item
        price = line.price
        price_note = ""
        if price is not None:
            if price.base_quantity is not None and price.base_quantity.value not in (Decimal(1), Decimal(0)):
                price_note = f"je {quantity(price.base_quantity)}"
            if price.gross_price is not None:
                extra = f"Brutto {money(price.gross_price)}"
                if price.discount is not None:
                    extra += f" − Rabatt {money(price.discount)}"
                price_note = f"{price_note}; {extra}" if price_note else extra
        vat = ""
        if line.vat is not None:
            vat = " ".join(x for x in (line.vat.category or "", percent(line.vat.rate)) if x)
        period = ""
        if line.period is not None and (line.period.start or line.period.end):
            period = f"{day(line.period.start)} – {day(line.period.end)}"
        refs = _fields(_field("BT-132", line.order_line_reference), _field("BT-133", line.accounting_reference),
                       _field("BT-128", line.object_id), _field("BT-156", item.buyer_id if item else None),
                       _field("BT-157", item.standard_id if item else None))
        views.append(LineView(
            id=line.id or str(index), name=(item.name if item else "") or "", description=(item.description if item else "") or "",
            seller_id=(item.seller_id if item else "") or "", quantity=quantity(line.quantity),
            price=money(price.net_price) if price and price.net_price else "", price_note=price_note, vat=vat,
            adjustments=[_adjustment_text(ac) for ac in line.allowances + line.charges],
            net=money(line.net_amount), note=line.note or "", period=period, references=refs,
            check=checks.get(f"Position {line.id or index}") if not sub else None, sub=sub))
        if line.sub_lines:
            views.extend(_lines(line.sub_lines, checks, sub=True))
    return views


@dataclass
class TotalRow:
    bt: str
    label: str
    value: str
    sign: str = ""
    strong: bool = False
    check: Check | None = None

    @property
    def title(self) -> str:
        return title(self.bt)


_TOTAL_RULE = {"BT-106": "BR-CO-10", "BT-107": "BR-CO-11", "BT-108": "BR-CO-12", "BT-109": "BR-CO-13",
               "BT-110": "BR-CO-14", "BT-112": "BR-CO-15", "BT-115": "BR-CO-16"}


def _totals(invoice: Invoice, arithmetic: ArithmeticResult) -> list[TotalRow]:
    totals = invoice.totals
    if totals is None:
        return []
    by_rule: dict[str, Check] = {}
    for check in arithmetic.checks:
        if check.rule in _TOTAL_RULE.values() or check.rule == "BR-DEX-09":
            current = by_rule.get(check.rule)
            if current is None or (current.ok and not check.ok):
                by_rule[check.rule] = check
    if "BR-DEX-09" in by_rule:
        by_rule["BR-CO-16"] = by_rule["BR-DEX-09"]
    rows = []
    spec = [("BT-106", totals.line_net_total, "", False), ("BT-107", totals.allowance_total, "−", False),
            ("BT-108", totals.charge_total, "+", False), ("BT-109", totals.tax_exclusive, "", True),
            ("BT-110", totals.tax_total, "+", False), ("BT-111", totals.tax_total_accounting_currency, "", False),
            ("BT-112", totals.tax_inclusive, "", True), ("BT-113", totals.prepaid, "−", False),
            ("BT-114", totals.rounding, "±", False)]
    for bt, amount, sign, strong in spec:
        if amount is None:
            continue
        rows.append(TotalRow(bt, label(bt), money(amount), sign, strong, by_rule.get(_TOTAL_RULE.get(bt, ""))))
    for payment in invoice.third_party_payments:
        if payment.amount is not None:
            rows.append(TotalRow("BT-DEX-002", f"Zahlung durch Dritte{': ' + payment.type if payment.type else ''}",
                                 money(payment.amount), "+"))
    due_label = "Gutschriftsbetrag (zugunsten des Käufers)" if invoice.is_credit_note else label("BT-115")
    rows.append(TotalRow("BT-115", due_label, money(totals.amount_due), "=", True, by_rule.get("BR-CO-16")))
    return rows


@dataclass
class VatRow:
    category: str
    category_name: str
    rate: str
    basis: str
    tax: str
    exemption: str
    checks: list[Check]


def _vat(invoice: Invoice, arithmetic: ArithmeticResult) -> list[VatRow]:
    rows = []
    for vat in invoice.vat_breakdown:
        category = (vat.category or "").strip()
        rate_text = f" {vat.rate.normalize():f} %" if vat.rate is not None else ""
        where = f"USt-Kategorie {category or '?'}{rate_text}"
        exemption = " ".join(x for x in (vat.exemption_reason_code or "", vat.exemption_reason or "") if x)
        rows.append(VatRow(category, CATEGORY_NAMES.get(category, ""), percent(vat.rate), money(vat.taxable_amount),
                           money(vat.tax_amount), exemption,
                           [c for c in arithmetic.checks if c.location == where]))
    return rows


@dataclass
class SkontoView:
    percent: str
    days: str
    deadline: str
    base: str
    discount: str
    pay: str
    status: str
    net_period: bool


@dataclass
class PaymentView:
    means: str
    means_bt: str
    accounts: list[dict]
    reference: str
    due_date: str
    net_due: str
    amount_due: str
    payable: bool
    credit_note: bool
    direction: str
    skonto: list[SkontoView]
    terms_text: str
    card: list[Field]
    direct_debit: list[Field]
    problems: list[str]


def _skonto_status(deadline: date | None, today: date | None) -> str:
    if deadline is None or today is None:
        return ""
    days_left = (deadline - today).days
    if days_left < 0:
        return "Frist abgelaufen"
    if days_left == 0:
        return "letzter Tag heute"
    return f"noch {days_left} Tag{'e' if days_left != 1 else ''}"


def _payment(invoice: Invoice, terms: PaymentTerms, today: date | None) -> PaymentView:
    pay = invoice.payment_instructions
    means = ""
    accounts = []
    card, debit = [], []
    reference = ""
    if pay is not None:
        code = (pay.means_code or "").strip()
        name = PAYMENT_MEANS.get(code, "")
        means = f"{code} {name}".strip()
        if pay.means_text and pay.means_text != name:
            means = f"{means} – {pay.means_text}" if means else pay.means_text
        reference = pay.remittance_information or ""
        for transfer in pay.credit_transfers:
            valid = _iban_valid(transfer.account_id)
            accounts.append({"iban": iban(transfer.account_id), "raw": transfer.account_id or "",
                             "valid": valid, "name": transfer.account_name or "", "bic": transfer.service_provider_id or ""})
        if pay.card is not None:
            card = _fields(_field("BT-87", pay.card.primary_account_number), _field("BT-88", pay.card.holder_name))
        if pay.direct_debit is not None:
            debit = _fields(_field("BT-89", pay.direct_debit.mandate_reference),
                            _field("BT-90", pay.direct_debit.creditor_id),
                            _field("BT-91", pay.direct_debit.debited_account_id))
    skonto = []
    for term in terms.skonto_terms:
        skonto.append(SkontoView(
            percent=percent(term.percent), days=f"{term.days} Tage" if term.days is not None else "",
            deadline=day(term.deadline), base=money(term.base) if term.base else "",
            discount=money(term.discount_amount) if term.discount_amount else "",
            pay=money(term.amount_to_pay) if term.amount_to_pay else "",
            status=_skonto_status(term.deadline, today) if terms.payable else "", net_period=term.is_net_period))
    signed = invoice.signed_amount_due
    direction = {"buyer-pays": "Zahlung an den Verkäufer", "seller-pays": "Betrag zugunsten des Käufers",
                 "nothing-due": "kein Betrag offen"}.get(invoice.direction or "", "")
    return PaymentView(
        means=means, means_bt="BT-81", accounts=accounts, reference=reference,
        due_date=day(terms.due_date), net_due=day(terms.net_due_date) if terms.net_due_source != "BT-9" else "",
        amount_due=money(signed.value.copy_abs() if signed else None, signed.currency if signed else None) if signed else "",
        payable=terms.payable, credit_note=invoice.is_credit_note, direction=direction, skonto=skonto,
        terms_text=invoice.payment_terms or "", card=card, direct_debit=debit,
        problems=[p.message for p in terms.problems if p.severity in ("error", "warning")])


@dataclass
class Download:
    label: str
    filename: str
    mime: str
    size: str
    href: str | None  # None: too large to embed
    reference: str = ""
    description: str = ""
    external: str = ""


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} Bytes"
    if n < 1024 * 1024:
        return f"{number(Decimal(n) / 1024, 1)} KB"
    return f"{number(Decimal(n) / (1024 * 1024), 1)} MB"


def _data_uri(data: bytes, mime: str | None) -> str:
    kind = (mime or "").strip().lower()
    if not _MIME.match(kind) or kind not in _DOWNLOAD_MIMES:
        kind = "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _safe_filename(name: str | None, fallback: str) -> str:
    text = re.sub(r"[\\/:*?\"<>|\x00-\x1f]+", "_", (name or "").strip()).strip(". ")
    return text[:150] or fallback


def _downloads(invoice: Invoice, result: ReadResult, limit: int) -> tuple[list[Download], list[Download]]:
    attachments = []
    for number_, attachment in enumerate(invoice.attachments, start=1):
        content = attachment.content
        if content is not None and content.data:
            name = _safe_filename(content.filename, f"anhang-{number_}")
            href = _data_uri(content.data, content.mime_code) if len(content.data) <= limit else None
            attachments.append(Download(name, name, content.mime_code or "", _size(len(content.data)), href,
                                        attachment.reference or "", attachment.description or "",
                                        attachment.external_uri or ""))
        else:
            attachments.append(Download(attachment.reference or f"Unterlage {number_}", "", "", "", None,
                                        attachment.reference or "", attachment.description or "",
                                        attachment.external_uri or ""))
    originals = []
    base = re.sub(r"\.[A-Za-z0-9]+$", "", (result.file_name or "rechnung").replace("\\", "/").rsplit("/", 1)[-1])
    base = _safe_filename(base, "rechnung")
    if result.pdf is not None:
        originals.append(Download("Original-PDF (hybride Rechnung)", f"{base}.pdf", "application/pdf",
                                  _size(len(result.pdf)),
                                  _data_uri(result.pdf, "application/pdf") if len(result.pdf) <= limit else None))
    xml_name = result.embedded_file or f"{base}.xml"
    originals.append(Download("Rechnungsdaten (XML, rechtlich maßgeblich)" if result.pdf is None else
                              f"eingebettete Rechnungsdaten ({result.embedded_file})", _safe_filename(xml_name, "rechnung.xml"),
                              "application/xml", _size(len(result.xml)),
                              _data_uri(result.xml, "application/xml") if len(result.xml) <= limit else None))
    return attachments, originals


@dataclass
class FindingView:
    level: str
    level_text: str
    rule: str
    message: str
    location: str
    source: str


_LEVEL_TEXT = {"error": "Fehler", "warning": "Warnung", "information": "Hinweis"}


def _findings(validation: Any) -> tuple[list[FindingView], dict | None]:
    if validation is None:
        return [], None
    findings = getattr(validation, "findings", validation)
    views = []
    for f in findings:
        level = getattr(getattr(f, "severity", None), "value", None) or getattr(f, "severity", None) or "error"
        views.append(FindingView(level, _LEVEL_TEXT.get(level, level), getattr(f, "rule_id", "") or getattr(f, "code", ""),
                                 getattr(f, "message", ""), getattr(f, "location", "") or "",
                                 getattr(f, "source", "") or ""))
    order = {"error": 0, "warning": 1, "information": 2}
    views.sort(key=lambda v: order.get(v.level, 3))
    summary = None
    if hasattr(validation, "valid"):
        summary = {"valid": bool(validation.valid), "triage": getattr(validation, "triage", ""),
                   "scenario": getattr(validation, "scenario", "") or "",
                   "errors": sum(v.level == "error" for v in views),
                   "warnings": sum(v.level == "warning" for v in views)}
    return views, summary


_TERM_ID = re.compile(r"(B[TG]-[0-9A-Z-]*[0-9]+)")


def _formula(text: str):
    """A formula with its BT ids kept unbroken (escaped; returns markup)."""
    from markupsafe import Markup, escape

    return Markup(_TERM_ID.sub(r'<span class="nw">\1</span>', str(escape(text))))


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("einvoice.formats", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["title"] = title
    env.globals["label"] = label
    env.filters["de"] = lambda v: number(v) if v is not None else "fehlt"
    env.filters["signed"] = lambda v: "" if v is None else ("+" if v > 0 else "") + number(v)
    env.filters["formula"] = _formula
    return env


def render_html(result: ReadResult, validation: Any = None, *, today: date | None = None,
                arithmetic: ArithmeticResult | None = None, embed_limit: int = EMBED_LIMIT) -> str:
    """The invoice of ``result`` as one self-contained HTML page (a string).

    ``validation``: a `ValidationResult` (verdict and findings) or any iterable of findings (objects with
    ``rule_id``/``severity``/``message``), optional. ``today``: shows how many days each Skonto term has left
    (omitted: no countdown, the page depends only on the invoice). ``arithmetic``: a precomputed check
    (default: `check_result(result)`). Attachments and originals up to ``embed_limit`` bytes are embedded.
    """
    invoice = result.invoice
    arithmetic = arithmetic if arithmetic is not None else check_result(result)
    terms = result.payment_terms()
    line_checks = {c.location: c for c in arithmetic.checks if c.rule == "PEPPOL-EN16931-R120" and c.location}
    attachments, originals = _downloads(invoice, result, embed_limit)
    findings, verdict = _findings(validation)
    problems = [p for p in result.problems]
    arith_failed = [c for c in arithmetic.checks if not c.ok]
    context = {
        "invoice": invoice,
        "kind_label": result.kind.label,
        "file_name": result.file_name,
        "embedded_file": result.embedded_file,
        "doc_title": ("Gutschrift" if invoice.is_credit_note else TYPE_CODES.get((invoice.type_code or "").strip(), "Rechnung")),
        "is_credit_note": invoice.is_credit_note,
        "header": _header(invoice, result),
        "leitweg": _leitweg(invoice),
        "notes": [n for n in invoice.notes if n.text],
        "parties": _parties(invoice),
        "lines": _lines(invoice.lines, line_checks),
        "allowances": [{"kind": "Zuschlag" if ac.is_charge else "Nachlass", "charge": ac.is_charge,
                        "reason": ac.reason or "", "code": ac.reason_code or "", "base": money(ac.base_amount),
                        "percent": percent(ac.percentage),
                        "vat": " ".join(x for x in ((ac.vat_category or ""), percent(ac.vat_rate)) if x),
                        "amount": money(ac.amount)} for ac in invoice.allowances + invoice.charges],
        "totals": _totals(invoice, arithmetic),
        "vat": _vat(invoice, arithmetic),
        "payment": _payment(invoice, terms, today),
        "attachments": attachments,
        "originals": originals,
        "findings": findings,
        "verdict": verdict,
        "arithmetic": arithmetic,
        "arith_failed": arith_failed,
        "arith_rounding": [c for c in arithmetic.checks if c.ok and c.difference],
        "problems": problems,
        "currency": invoice.currency or "",
        "today": day(today) if today else "",
    }
    return _environment().get_template("invoice.html.j2").render(**context)


def render_file(data: bytes, file_name: str = "", *, validate: bool = False, today: date | None = None) -> str:
    """Read ``data`` (XML or hybrid PDF) and render it; ``validate`` runs the validation engine as well."""
    from .read import read_invoice

    result = read_invoice(data, file_name)
    validation = None
    if validate:
        from ..validation import ValidationEngine

        validation = ValidationEngine().validate(data, file_name)
    return render_html(result, validation, today=today)

