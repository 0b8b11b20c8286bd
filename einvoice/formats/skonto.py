"""Skonto (early-payment discount) terms: XRechnung BT-20 keyword lines and CII discount terms.

Syntax (BR-DE-18, xrechnung-rules.md §7, checked exactly as the official expression does):
one term per line ``#SKONTO#TAGE=<days>#PROZENT=<n.nn>#[BASISBETRAG=<-n.nn>#]``; every line of the
first BT-20 text whose normalised form starts with ``#`` must be such a term (``#VERZUG#`` lines
are no longer allowed since XRechnung 3.0); and after the last ``#…#`` span a line break must follow.
Violations become `Problem`s (``SKONTO-SYNTAX``, ``SKONTO-VERZUG``, ``SKONTO-NEWLINE``, rule
``BR-DE-18``); a malformed line never becomes a term (no guessing).

Computation (skonto-and-payment-terms.md §4): deadline = reference date (default BT-2 issue date) +
TAGE calendar days; base = BASISBETRAG if given, else BT-115 amount due (prepaid amounts and rounding
already applied); discount = base × PROZENT / 100 rounded half-up to cents; amount to pay = BT-115 −
discount. CII ``ram:ApplicableTradePaymentDiscountTerms`` (ZUGFeRD EXTENDED) are read as well; when
both exist the BT-20 terms win and a disagreement is flagged. The net due date is BT-9, else the
deadline of a ``PROZENT=0.00`` term, else the earliest due date of a CII terms block without discount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ..validation.identifiers import classify
from .model import Amount, Invoice
from .problems import Problem

# xrechnung-rules.md §7.1, applied to a whitespace-normalised line (ASCII digits only)
SKONTO_LINE = re.compile(r"#SKONTO#TAGE=(\d+)#PROZENT=(\d+\.\d{2})(?:#BASISBETRAG=(-?\d+\.\d{2}))?#", re.ASCII)
# XPath replace($text, '^(.|\n)*#[^\n]*#', ''): XPath's '.' matches neither \n nor \r
_UP_TO_LAST_SPAN = re.compile(r"^[^\r]*#[^\n]*#")
_NEWLINE_AFTER = re.compile(r"^[ \t\r]*\n")
_XML_WHITESPACE = re.compile(r"[ \t\r\n]+")
CENT = Decimal("0.01")


def normalise(text: str) -> str:
    """XPath normalize-space(): only space, tab, CR and LF count (a no-break space does not)."""
    return _XML_WHITESPACE.sub(" ", text).strip(" ")


@dataclass(frozen=True)
class SkontoLine:
    """One syntactically valid ``#SKONTO#`` line of BT-20."""

    days: int
    percent: Decimal
    base_amount: Decimal | None
    line_no: int


@dataclass
class Bt20Terms:
    """BT-20 split into Skonto lines, free text and BR-DE-18 findings."""

    lines: list[SkontoLine] = field(default_factory=list)
    free_text: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def br_de_18_ok(self) -> bool:
        return not any(p.rule == "BR-DE-18" for p in self.problems)


def parse_bt20(text: str | None, severity: str = "error") -> Bt20Terms:
    """Parse a BT-20 text exactly as BR-DE-18 reads it (xrechnung-rules.md §7.2)."""
    result = Bt20Terms()
    if not text:
        return result
    has_hash_line = False
    for number, piece in enumerate(re.split(r"\r?\n", text), start=1):
        line = normalise(piece)
        if not line.startswith("#"):
            if line:
                result.free_text.append(line)
            continue
        has_hash_line = True
        match = SKONTO_LINE.fullmatch(line)
        if match:
            base = match.group(3)
            result.lines.append(SkontoLine(int(match.group(1)), Decimal(match.group(2)),
                                           Decimal(base) if base is not None else None, number))
        elif line.startswith("#VERZUG#"):
            result.problems.append(Problem(
                "SKONTO-VERZUG", f"Zeile {number}: #VERZUG#-Angaben sind seit XRechnung 3.0 nicht mehr erlaubt "
                f"({line!r}) / default-interest lines are no longer allowed", severity, "BT-20", "BR-DE-18"))
        else:
            result.problems.append(Problem(
                "SKONTO-SYNTAX", f"Zeile {number} beginnt mit '#', ist aber keine gültige Skonto-Angabe "
                f"#SKONTO#TAGE=n#PROZENT=n.nn#[BASISBETRAG=n.nn#] ({line!r}) / line is not a valid Skonto term",
                severity, "BT-20", "BR-DE-18"))
    if has_hash_line:
        rest = _UP_TO_LAST_SPAN.sub("", text, count=1)
        if not _NEWLINE_AFTER.match(rest):
            result.problems.append(Problem(
                "SKONTO-NEWLINE", "Nach der letzten Skonto-Angabe fehlt der Zeilenumbruch (oder danach folgt "
                "Text mit '#…#') / the last '#…#' span must be followed by a line break", severity, "BT-20",
                "BR-DE-18"))
    return result


@dataclass
class SkontoTerm:
    """One discount term with its computed deadline and amounts (amounts in the invoice currency)."""

    percent: Decimal
    days: int | None = None
    deadline: date | None = None
    base_amount: Amount | None = None  # BASISBETRAG / CII BasisAmount as stated, None = BT-115
    base: Amount | None = None  # the base actually used
    discount_amount: Amount | None = None
    amount_to_pay: Amount | None = None
    stated_discount: Amount | None = None  # CII ActualDiscountAmount
    source: str = "xrechnung-bt20"  # or "cii-discount-terms"
    line_no: int | None = None

    @property
    def is_net_period(self) -> bool:
        """``PROZENT=0.00``: states the net payment period, not a discount."""
        return self.percent == 0


@dataclass
class PaymentTerms:
    text: str | None = None  # BT-20 unmodified
    due_date: date | None = None  # BT-9
    net_due_date: date | None = None
    net_due_source: str | None = None  # "BT-9", "skonto-0.00", "cii-terms"
    skonto_terms: list[SkontoTerm] = field(default_factory=list)  # sorted by deadline
    free_text: list[str] = field(default_factory=list)
    source: str = "none"  # "xrechnung-bt20", "cii-discount-terms" or "none"
    payable: bool = True  # False for credit notes / BT-115 <= 0: nothing to schedule
    problems: list[Problem] = field(default_factory=list)

    @property
    def br_de_18_ok(self) -> bool:
        return not any(p.rule == "BR-DE-18" for p in self.problems)

    def applicable(self, payment_date: date) -> SkontoTerm | None:
        """The term with the highest percent whose deadline is on or after ``payment_date``."""
        open_terms = [t for t in self.skonto_terms if t.deadline and t.deadline >= payment_date and t.percent > 0]
        return max(open_terms, key=lambda t: t.percent, default=None)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _plus_days(start: date | None, days: int) -> date | None:
    """``start`` + ``days``, or None when the day lies beyond the calendar (TAGE=99999999999)."""
    if start is None:
        return None
    try:
        return start + timedelta(days=days)
    except OverflowError:
        return None


def _compute(term: SkontoTerm, due: Amount | None, currency: str) -> None:
    base = term.base_amount or due
    term.base = base
    if base is None:
        return
    try:  # a 40-digit PROZENT or BASISBETRAG passes BR-DE-18 but cannot be rounded to cents
        term.discount_amount = Amount(_money(base.value * term.percent / 100), currency)
    except InvalidOperation:
        return  # no amounts: _check reports the term as implausible
    if due is not None:
        term.amount_to_pay = Amount(due.value - term.discount_amount.value, currency)


def _cii_terms(invoice: Invoice, reference: date | None, due: Amount | None, currency: str,
               problems: list[Problem]) -> list[SkontoTerm]:
    terms = []
    for block in invoice.payment_terms_blocks:
        discount = block.discount
        if discount is None or discount.percent is None:
            continue
        days = None
        if discount.period is not None:
            if (discount.period.unit or "DAY").upper() == "DAY" and discount.period.value == discount.period.value.to_integral_value():
                days = int(discount.period.value)
            else:
                problems.append(Problem("SKONTO-UNIT", f"Skontofrist {discount.period} wird nicht umgerechnet, nur "
                                        f"Tage (DAY) / only a period in days is read", "warning", "BT-20"))
        deadline = block.due_date
        if deadline is None and days is not None:
            deadline = _plus_days(discount.basis_date or reference, days)
        term = SkontoTerm(discount.percent, days, deadline, discount.basis_amount, source="cii-discount-terms",
                          stated_discount=discount.actual_amount)
        _compute(term, due, currency)
        if term.stated_discount and term.discount_amount and \
                abs(term.stated_discount.value - term.discount_amount.value) > CENT:
            problems.append(Problem("SKONTO-DISCOUNT-MISMATCH", f"angegebener Skontobetrag {term.stated_discount} "
                                    f"weicht vom berechneten {term.discount_amount} ab / stated discount differs "
                                    "from the computed one", "warning", "BT-20"))
        terms.append(term)
    return terms


def payment_terms(invoice: Invoice, reference_date: date | None = None) -> PaymentTerms:
    """Structured payment terms of an invoice; ``reference_date`` defaults to BT-2 (issue date)."""
    reference = reference_date or invoice.issue_date
    due = invoice.amount_due
    currency = (due.currency if due else invoice.currency) or ""
    is_xrechnung = classify(invoice.specification_id).family == "xrechnung"
    parsed = parse_bt20(invoice.payment_terms, "error" if is_xrechnung else "warning")
    result = PaymentTerms(text=invoice.payment_terms, due_date=invoice.due_date, free_text=parsed.free_text,
                          problems=list(parsed.problems))
    bt20_terms = []
    for line in parsed.lines:
        deadline = _plus_days(reference, line.days)
        base = Amount(line.base_amount, currency) if line.base_amount is not None else None
        term = SkontoTerm(line.percent, line.days, deadline, base, line_no=line.line_no)
        _compute(term, due, currency)
        bt20_terms.append(term)
    cii_terms = _cii_terms(invoice, reference, due, currency, result.problems)
    if bt20_terms:
        result.skonto_terms, result.source = bt20_terms, "xrechnung-bt20"
        if cii_terms and {(t.deadline, t.percent) for t in cii_terms} != {(t.deadline, t.percent) for t in bt20_terms}:
            result.problems.append(Problem("SKONTO-CONFLICT", "Skonto in BT-20 und in den CII-Zahlungsbedingungen "
                                           "stimmen nicht überein; BT-20 gilt / BT-20 and CII discount terms disagree; "
                                           "BT-20 is used", "warning", "BT-20"))
    elif cii_terms:
        result.skonto_terms, result.source = cii_terms, "cii-discount-terms"
    result.skonto_terms.sort(key=lambda t: (t.deadline is None, t.deadline or date.max, -t.percent))
    _net_due(invoice, result)
    _check(invoice, result, reference, due)
    return result


def _net_due(invoice: Invoice, result: PaymentTerms) -> None:
    if invoice.due_date:
        result.net_due_date, result.net_due_source = invoice.due_date, "BT-9"
        return
    net = [t.deadline for t in result.skonto_terms if t.is_net_period and t.deadline]
    if net:
        result.net_due_date, result.net_due_source = max(net), "skonto-0.00"
        return
    blocks = [b.due_date for b in invoice.payment_terms_blocks if b.discount is None and b.due_date]
    if blocks:
        result.net_due_date, result.net_due_source = min(blocks), "cii-terms"


def _check(invoice: Invoice, result: PaymentTerms, reference: date | None, due: Amount | None) -> None:
    terms = result.skonto_terms
    problems = result.problems
    if terms and reference is None:
        problems.append(Problem("SKONTO-NO-DATE", "ohne Rechnungsdatum (BT-2) keine Skontofrist / no issue date: "
                                "no deadline", "warning", "BT-2"))
    if terms and due is None:
        problems.append(Problem("SKONTO-NO-AMOUNT", "ohne Zahlbetrag (BT-115) kein Skontobetrag / no amount due: "
                                "no discount amount", "warning", "BT-115"))
    if invoice.is_credit_note or (due is not None and due.value <= 0):
        result.payable = False
        if terms:
            problems.append(Problem("SKONTO-NOT-PAYABLE", "Gutschrift oder Zahlbetrag ≤ 0: Skonto nur zur "
                                    "Information, nichts zu planen / credit note or nothing due: no Skonto to "
                                    "schedule", "information", "BT-20"))
    seen: dict[int, Decimal] = {}
    for term in terms:
        if term.days is not None and seen.get(term.days, term.percent) != term.percent:
            problems.append(Problem("SKONTO-AMBIGUOUS", f"{term.days} Tage mit verschiedenen Prozentsätzen / the "
                                    "same period with different percentages: review", "warning", "BT-20"))
        if term.days is not None:
            seen[term.days] = term.percent
        if term.base_amount is not None and term.base_amount.value < 0:
            problems.append(Problem("SKONTO-NEGATIVE-BASE", f"negativer Basisbetrag {term.base_amount}: nicht "
                                    "automatisch verarbeiten / negative base amount: handle manually", "warning",
                                    "BT-20"))
        if term.percent > 100 or (term.discount_amount and due and term.discount_amount.value > due.value > 0) \
                or (term.base is not None and term.discount_amount is None) \
                or (term.days is not None and reference is not None and term.deadline is None):
            problems.append(Problem("SKONTO-IMPLAUSIBLE", f"Skonto {term.percent} % ist unplausibel / implausible "
                                    "discount", "warning", "BT-20"))
        if term.deadline and invoice.due_date and term.deadline > invoice.due_date and not term.is_net_period:
            problems.append(Problem("SKONTO-AFTER-DUE", f"Skontofrist {term.deadline} liegt nach der Fälligkeit "
                                    f"{invoice.due_date} / discount deadline after the due date", "warning", "BT-20"))
    if not terms and any("skonto" in line.lower() for line in result.free_text):
        problems.append(Problem("SKONTO-FREE-TEXT", "Skonto nur als Freitext angegeben: manuell erfassen / Skonto "
                                "only in free text: capture manually", "information", "BT-20"))
