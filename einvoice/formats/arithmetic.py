"""Arithmetic check of an invoice ("rechnerisch richtig"): recompute every amount from the model.

A municipality's "Feststellung der rechnerischen Richtigkeit" (approval-practice.md) confirms that
the amounts of an invoice add up. This module recomputes them from the `Invoice` model with the
EN 16931 rules and lists every check with its business terms, the expected and the stated value and
the rule it corresponds to:

==================  ==============================================================  ==============
rule                formula                                                          tolerance
==================  ==============================================================  ==============
PEPPOL-EN16931-R120 BT-131 = BT-129 × (BT-146 ÷ BT-149) + Σ BT-141 − Σ BT-136         ±0.02 (HUF 0.5)
PEPPOL-EN16931-R040 BT-92/99/136/141 = BT-93/100/137/142 × BT-94/101/138/143 / 100   ±0.02 (HUF 0.5)
PEPPOL-EN16931-R046 BT-146 = BT-148 − BT-147                                          exact
BR-CO-10            BT-106 = Σ BT-131                                                 exact
BR-CO-11 / -12      BT-107 = Σ BT-92, BT-108 = Σ BT-99                                exact
BR-CO-13            BT-109 = BT-106 − BT-107 + BT-108                                 exact
BR-S-08, BR-Z-08 …  BT-116 = Σ BT-131 − Σ BT-92 + Σ BT-99 of that category (and rate)  per rule
BR-CO-17 (BR-S-09)  BT-117 = BT-116 × BT-119 / 100                                    < 1
BR-Z-09, BR-E-09 …  BT-117 = 0 for the categories without VAT                          exact
BR-CO-14            BT-110 = Σ BT-117                                                 exact
BR-CO-15            BT-112 = BT-109 + BT-110                                          exact
BR-CO-16            BT-115 = BT-112 − BT-113 + BT-114                                 exact
BR-DEX-09           BT-115 = BT-112 − BT-113 + BT-114 + Σ BT-DEX-002 (XRechnung extension)
==================  ==============================================================  ==============

Rounding follows the official Schematron: every sum is rounded to two decimals *per term* before it
is combined, with XPath's ``round()`` (half away from zero for positive amounts, "kaufmännisch";
halves of negative amounts go towards +∞: ``round(-2.5) = -2``; `round2`). "exact" means equal after
that rounding. Where CEN's UBL and CII rules differ (a missing BT-110 is an error in UBL's BR-CO-15
but CII also accepts BT-112 = BT-109; UBL rounds in BR-CO-16, CII compares exactly; the tolerance of
the VAT category rules), the check follows the syntax the invoice came in, so that it flags exactly
the files the official rules flag (tests/test_formats_arithmetic.py measures this on the corpus).

A check whose stated value differs from the exact recomputation by less than the tolerance passes
(the official verdict), but the difference is kept (`Check.difference`) and reported as an
``information`` problem ``ARITHMETIC-ROUNDING``: a person checking "rechnerisch richtig" sees every
cent. Failed checks become ``ARITHMETIC-MISMATCH`` problems (error; warning for the Peppol line
rule R120, a warning in the XRechnung rule catalogue) naming rule, business terms, expected and
stated value. A missing total the formula needs is a mismatch too ("fehlt"), as in the official
rules (``xs:decimal(())`` never equals anything).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Iterable

from ..validation.identifiers import classify
from .model import AllowanceCharge, Amount, Invoice, Line
from .problems import Problem

CENT = Decimal("0.01")
ZERO = Decimal("0")
ONE = Decimal("1")
HUNDRED = Decimal("100")

# VAT category (BT-118) → the EN 16931 rule ids of its taxable amount (…-08) and tax amount (…-09)
CATEGORY_RULES: dict[str, tuple[str, str]] = {
    "S": ("BR-S-08", "BR-S-09"),
    "Z": ("BR-Z-08", "BR-Z-09"),
    "E": ("BR-E-08", "BR-E-09"),
    "AE": ("BR-AE-08", "BR-AE-09"),
    "K": ("BR-IC-08", "BR-IC-09"),
    "G": ("BR-G-08", "BR-G-09"),
    "O": ("BR-O-08", "BR-O-09"),
    "L": ("BR-AF-08", "BR-AF-09"),
    "M": ("BR-AG-08", "BR-AG-09"),
}
# categories whose breakdown is matched per rate (the others: per category only)
_PER_RATE = frozenset({"S", "L", "M"})
# categories without VAT: BT-117 must be 0 (…-09 rules)
_NO_VAT = frozenset({"Z", "E", "AE", "K", "G", "O"})
# tolerance of BT-116 per syntax and category (CEN UBL / CII Schematron 1.3.x): |stated − expected| < 1
# where listed, else exact
_BASIS_TOLERANCE = {
    "ubl": frozenset({"S", "L", "M"}),
    "cii": frozenset({"Z", "E", "AE", "K", "G", "L", "M"}),
}

CATEGORY_NAMES = {
    "S": "Normalsatz", "Z": "Nullsatz", "E": "steuerbefreit", "AE": "Steuerschuldnerschaft des Leistungsempfängers",
    "K": "innergemeinschaftliche Lieferung", "G": "Ausfuhr (steuerfrei)", "O": "nicht steuerbar",
    "L": "IGIC (Kanaren)", "M": "IPSI (Ceuta/Melilla)",
}


def round2(value: Decimal) -> Decimal:
    """XPath ``round(value * 100) div 100``: to cents, halves towards +∞ (2.345 → 2.35, −2.345 → −2.34)."""
    with localcontext() as ctx:
        ctx.prec = 60
        return ((value * HUNDRED + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR) / HUNDRED).quantize(CENT)


def _value(amount: Amount | None) -> Decimal | None:
    return amount.value if amount is not None else None


def _sum(values: Iterable[Decimal | None]) -> Decimal:
    """XPath ``sum()`` over the values present (absent ones do not count)."""
    return sum((v for v in values if v is not None), ZERO)


def _fmt(value: Decimal | None) -> str:
    if value is None:
        return "fehlt / missing"
    return f"{value:f}"


@dataclass(frozen=True)
class Check:
    """One recomputed amount. ``terms[0]`` is the business term whose stated value is checked."""

    rule: str
    terms: tuple[str, ...]
    formula: str
    title: str  # German, short: "Summe der Positionsnettobeträge"
    expected: Decimal | None  # recomputed with EN 16931 rounding (None: cannot be computed)
    actual: Decimal | None  # as stated in the invoice (None: missing)
    ok: bool  # the official verdict of the rule
    tolerance: Decimal = ZERO  # |actual − expected| the rule still accepts (exclusive for "< 1" rules)
    severity: str = "error"  # the level of the problem when not ok
    location: str | None = None  # "Position 3", "USt-Kategorie S 19 %", "Nachlass 1"
    related_rules: tuple[str, ...] = ()  # e.g. BR-S-09 next to BR-CO-17
    note: str | None = None  # why the check failed beyond the numbers (e.g. "BT-110 zweimal angegeben")

    @property
    def difference(self) -> Decimal | None:
        """stated − expected (None when one of them is missing)."""
        if self.expected is None or self.actual is None:
            return None
        return self.actual - self.expected

    @property
    def exact(self) -> bool:
        return self.ok and self.difference == 0

    @property
    def rules(self) -> tuple[str, ...]:
        return (self.rule,) + self.related_rules

    def problem(self) -> Problem | None:
        rules = ", ".join(self.rules)
        where = f" ({self.location})" if self.location else ""
        terms = ", ".join(self.terms)
        if not self.ok:
            diff = self.difference
            diff_text = f", Differenz / difference {diff:+f}" if diff is not None else ""
            tolerance = f", Toleranz / tolerance {self.tolerance:f}" if self.tolerance else ""
            note = f"; {self.note}" if self.note else ""
            return Problem(
                "ARITHMETIC-MISMATCH",
                f"[{rules}] {self.title}{where}: {self.formula}; erwartet / expected {_fmt(self.expected)}, "
                f"angegeben / stated {_fmt(self.actual)}{diff_text}{tolerance}{note} (BT: {terms})",
                self.severity, self.terms[0], self.rule, self.location)
        diff = self.difference
        if diff:
            return Problem(
                "ARITHMETIC-ROUNDING",
                f"[{rules}] {self.title}{where}: {self.formula}; erwartet / expected {_fmt(self.expected)}, "
                f"angegeben / stated {_fmt(self.actual)}, Differenz / difference {diff:+f} innerhalb der Toleranz "
                f"/ within the tolerance {self.tolerance:f} (BT: {terms})",
                "information", self.terms[0], self.rule, self.location)
        return None

    def to_dict(self) -> dict:
        diff = self.difference
        return {
            "rule": self.rule, "related_rules": list(self.related_rules), "terms": list(self.terms),
            "formula": self.formula, "title": self.title, "location": self.location,
            "expected": None if self.expected is None else f"{self.expected:f}",
            "actual": None if self.actual is None else f"{self.actual:f}",
            "difference": None if diff is None else f"{diff:f}",
            "tolerance": f"{self.tolerance:f}", "ok": self.ok, "severity": self.severity, "note": self.note,
        }


@dataclass
class ArithmeticResult:
    checks: list[Check] = field(default_factory=list)
    currency: str = ""

    @property
    def ok(self) -> bool:
        """No error-level mismatch (warnings such as R120 do not make an invoice arithmetically wrong)."""
        return not any(not c.ok and c.severity == "error" for c in self.checks)

    @property
    def exact(self) -> bool:
        """Every check agrees to the cent."""
        return all(c.exact for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def problems(self) -> list[Problem]:
        return [p for p in (c.problem() for c in self.checks) if p is not None]

    def failed_rules(self) -> set[str]:
        return {c.rule for c in self.checks if not c.ok}

    def to_dict(self) -> dict:
        return {"ok": self.ok, "exact": self.exact, "currency": self.currency,
                "checks": [c.to_dict() for c in self.checks],
                "problems": [p.to_dict() for p in self.problems]}


@dataclass(frozen=True)
class TaxTotal:
    """One stated VAT total as the document has it: UBL ``cac:TaxTotal`` (with the tax amounts of its own
    subtotals) or CII ``ram:TaxTotalAmount`` (``subtotals`` None: CEN sums every header breakdown)."""

    amount: Decimal | None
    currency: str | None
    subtotals: tuple[Decimal, ...] | None = None


def tax_totals_of(result) -> list[TaxTotal] | None:
    """The VAT totals of a `ReadResult` straight from its XML (the model keeps only one BT-110; a second one in
    the document currency is still an error of BR-CO-15). None if the result has no XML source."""
    source = getattr(result, "source", None)
    root = getattr(source, "root", None)
    if root is None:
        return None
    ns = source.namespaces
    totals = []
    if "cac" in ns and "cbc" in ns:
        for node in root.xpath("cac:TaxTotal", namespaces=ns):
            amounts = node.xpath("cbc:TaxAmount", namespaces=ns)
            subtotals = tuple(v for v in (_decimal_text(n) for n in
                                          node.xpath("cac:TaxSubtotal/cbc:TaxAmount", namespaces=ns)) if v is not None)
            amount = amounts[0] if amounts else None
            totals.append(TaxTotal(_decimal_text(amount), amount.get("currencyID") if amount is not None else None,
                                   subtotals))
        return totals
    if "ram" in ns:
        path = ("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
                "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TaxTotalAmount")
        for node in root.xpath(path, namespaces=ns):
            totals.append(TaxTotal(_decimal_text(node), node.get("currencyID")))
        return totals
    return None


def _decimal_text(node) -> Decimal | None:
    if node is None:
        return None
    try:
        return Decimal((node.text or "").strip())
    except ArithmeticError:
        return None


def _syntax(invoice: Invoice) -> str:
    return "ubl" if invoice.syntax.startswith("ubl") else "cii"


def _within(actual: Decimal, expected: Decimal, slack: Decimal) -> bool:
    return abs(actual - expected) <= slack


def _line_checks(invoice: Invoice, slack: Decimal, out: list[Check]) -> None:
    for index, line in enumerate(invoice.lines, start=1):
        where = f"Position {line.id or index}"
        out.extend(_allowance_charge_checks(line.allowances + line.charges, slack, where, line=True))
        _price_check(line, where, out)
        quantity = line.quantity.value if line.quantity is not None else ONE
        price = line.price.net_price.value if line.price and line.price.net_price else ZERO
        base = line.price.base_quantity.value if line.price and line.price.base_quantity else None
        base = base if base not in (None, ZERO) else ONE
        charges = round2(_sum(_value(c.amount) for c in line.charges))
        allowances = round2(_sum(_value(a.amount) for a in line.allowances))
        with localcontext() as ctx:
            ctx.prec = 60
            exact = quantity * (price / base) + charges - allowances
        actual = _value(line.net_amount)
        stated = actual if actual is not None else ZERO
        ok = _within(stated, exact, slack)  # the official test compares with the unrounded product
        expected = round2(exact)
        out.append(Check("PEPPOL-EN16931-R120", ("BT-131", "BT-129", "BT-146", "BT-149", "BT-141", "BT-136"),
                         "BT-131 = BT-129 × (BT-146 ÷ BT-149) + Σ BT-141 − Σ BT-136", "Nettobetrag der Position",
                         expected, actual, ok, slack, "warning", where))


def _price_check(line: Line, where: str, out: list[Check]) -> None:
    price = line.price
    if price is None or price.gross_price is None:
        return
    net = _value(price.net_price)
    discount = _value(price.discount) or ZERO
    expected = price.gross_price.value - discount
    out.append(Check("PEPPOL-EN16931-R046", ("BT-146", "BT-148", "BT-147"), "BT-146 = BT-148 − BT-147",
                     "Nettopreis = Bruttopreis − Preisnachlass", expected, net, net is not None and net == expected,
                     ZERO, "error", where))


def _allowance_charge_checks(items: list[AllowanceCharge], slack: Decimal, where: str, *, line: bool) -> list[Check]:
    checks = []
    for number, ac in enumerate(items, start=1):
        if ac.base_amount is None or ac.percentage is None:
            continue
        if line:
            terms = ("BT-141", "BT-142", "BT-143") if ac.is_charge else ("BT-136", "BT-137", "BT-138")
        else:
            terms = ("BT-99", "BT-100", "BT-101") if ac.is_charge else ("BT-92", "BT-93", "BT-94")
        kind = "Zuschlag" if ac.is_charge else "Nachlass"
        with localcontext() as ctx:
            ctx.prec = 60
            exact = ac.base_amount.value * ac.percentage / HUNDRED
        actual = _value(ac.amount)
        ok = _within(actual if actual is not None else ZERO, exact, slack)
        label = f"{where}, {kind} {number}" if where else f"{kind} {number}"
        checks.append(Check("PEPPOL-EN16931-R040", terms, f"{terms[0]} = {terms[1]} × {terms[2]} / 100",
                            f"Betrag des {kind}es" if kind == "Nachlass" else "Betrag des Zuschlags",
                            round2(exact), actual, ok, slack, "error", label))
    return checks


def _total_checks(invoice: Invoice, tax_totals: list[TaxTotal] | None, out: list[Check]) -> None:
    totals = invoice.totals
    if totals is None:
        return
    syntax = _syntax(invoice)
    t106, t107, t108 = _value(totals.line_net_total), _value(totals.allowance_total), _value(totals.charge_total)
    t109, t110, t112 = _value(totals.tax_exclusive), _value(totals.tax_total), _value(totals.tax_inclusive)
    t113, t114, t115 = _value(totals.prepaid), _value(totals.rounding), _value(totals.amount_due)

    # BR-CO-10: BT-106 = Σ BT-131
    expected = round2(_sum(_value(line.net_amount) for line in invoice.lines))
    out.append(Check("BR-CO-10", ("BT-106", "BT-131"), "BT-106 = Σ BT-131", "Summe der Positionsnettobeträge",
                     expected, t106, t106 is not None and t106 == expected))

    # BR-CO-11 / BR-CO-12: BT-107 = Σ BT-92, BT-108 = Σ BT-99
    for rule, stated, items, terms, title in (
            ("BR-CO-11", t107, invoice.allowances, ("BT-107", "BT-92"), "Summe der Nachlässe auf Dokumentenebene"),
            ("BR-CO-12", t108, invoice.charges, ("BT-108", "BT-99"), "Summe der Zuschläge auf Dokumentenebene")):
        if not items and stated is None:
            continue
        expected = round2(_sum(_value(ac.amount) for ac in items))
        out.append(Check(rule, terms, f"{terms[0]} = Σ {terms[1]}", title, expected, stated,
                         stated is not None and stated == expected))

    # BR-CO-13: BT-109 = BT-106 − BT-107 + BT-108
    if t106 is None:
        expected = None
        ok = False
    else:
        unrounded = t106 - (t107 or ZERO) + (t108 or ZERO)
        expected = round2(unrounded)
        if syntax == "ubl" and t107 is None and t108 is None:
            expected = unrounded  # CEN UBL compares BT-109 with BT-106 unrounded here
        ok = t109 is not None and t109 == expected
    out.append(Check("BR-CO-13", ("BT-109", "BT-106", "BT-107", "BT-108"), "BT-109 = BT-106 − BT-107 + BT-108",
                     "Gesamtbetrag ohne Umsatzsteuer", expected, t109, ok))

    # the stated VAT totals in the invoice currency (BT-110; more than one is an error of BR-CO-15)
    currency = (invoice.currency or "").strip()
    if tax_totals is None:
        tax_totals = [TaxTotal(t110, currency, tuple(_value(v.tax_amount) for v in invoice.vat_breakdown
                                                     if v.tax_amount is not None) if syntax == "ubl" else None)] \
            if t110 is not None else []
    in_currency = [t for t in tax_totals if (t.currency or "") == currency and t.amount is not None]

    # BR-CO-14: BT-110 = Σ BT-117 (UBL: per cac:TaxTotal that has subtotals; CII: each BT-5 total, all breakdowns)
    all_vat = round2(_sum(_value(v.tax_amount) for v in invoice.vat_breakdown))
    for total in tax_totals:
        if syntax == "ubl":
            if not total.subtotals or total.amount is None:
                continue
            expected = round2(_sum(total.subtotals))
        else:
            if total not in in_currency:
                continue
            expected = all_vat
        out.append(Check("BR-CO-14", ("BT-110", "BT-117"), "BT-110 = Σ BT-117", "Umsatzsteuer gesamt",
                         expected, total.amount, total.amount == expected))

    # BR-CO-15: BT-112 = BT-109 + BT-110, exactly one BT-110 in the invoice currency (CII: or BT-112 = BT-109)
    note = None
    if len(in_currency) != 1:
        note = (f"Umsatzsteuer gesamt (BT-110) in {currency or '?'} {len(in_currency)}-mal angegeben statt einmal / "
                f"the VAT total in the invoice currency is given {len(in_currency)} times instead of once")
    stated_110 = in_currency[0].amount if in_currency else None
    if t109 is None:
        expected, ok = None, False
    else:
        expected = round2(t109 + (stated_110 if stated_110 is not None else ZERO))
        ok = t112 is not None and len(in_currency) == 1 and t112 == expected
        if syntax == "cii" and not ok and t112 is not None and t112 == t109:
            ok = True
    out.append(Check("BR-CO-15", ("BT-112", "BT-109", "BT-110"), "BT-112 = BT-109 + BT-110",
                     "Gesamtbetrag mit Umsatzsteuer", expected, t112, ok, note=None if ok else note))

    # BR-CO-16 (BR-DEX-09 in the XRechnung extension): BT-115 = BT-112 − BT-113 + BT-114 [+ Σ BT-DEX-002]
    extension = classify(invoice.specification_id).variant == "extension"
    third = _sum(_value(p.amount) for p in invoice.third_party_payments) if extension else ZERO
    if t112 is None:
        expected, ok = None, False
    else:
        expected = t112 - (t113 or ZERO) + (t114 or ZERO) + third
        if t115 is None:
            ok = False
        elif extension or syntax == "ubl":
            # UBL / BR-DEX-09: round(BT-115 − BT-114) = round(BT-112 − BT-113 [+ third-party payments])
            left = round2(t115 - t114) if t114 is not None else t115
            right = round2(t112 - (t113 or ZERO) + third) if (t113 is not None or extension) else t112
            ok = left == right
            expected = round2(expected) if (t113 is not None or t114 is not None or extension) else expected
        else:
            ok = t115 == expected
    if extension:
        out.append(Check("BR-DEX-09", ("BT-115", "BT-112", "BT-113", "BT-114", "BT-DEX-002"),
                         "BT-115 = BT-112 − BT-113 + BT-114 + Σ BT-DEX-002", "Zahlbetrag", expected, t115, ok))
    else:
        out.append(Check("BR-CO-16", ("BT-115", "BT-112", "BT-113", "BT-114"), "BT-115 = BT-112 − BT-113 + BT-114",
                         "Zahlbetrag", expected, t115, ok))


def _norm(code: str | None) -> str:
    return (code or "").strip()


def _vat_checks(invoice: Invoice, out: list[Check]) -> None:
    syntax = _syntax(invoice)
    for breakdown in invoice.vat_breakdown:
        category = _norm(breakdown.category)
        rate = breakdown.rate
        rules = CATEGORY_RULES.get(category)
        rate_text = f" {rate.normalize():f} %" if rate is not None else ""
        where = f"USt-Kategorie {category or '?'}{rate_text}"
        basis = _value(breakdown.taxable_amount)
        tax = _value(breakdown.tax_amount)
        if rules is not None and not (category in _PER_RATE and rate is None):
            # (a per-rate category without BT-119: "every $rate in ()" is true, nothing to compare)
            per_rate = category in _PER_RATE

            def matches(cat: str | None, item_rate: Decimal | None) -> bool:
                return _norm(cat) == category and (not per_rate or item_rate == rate)

            lines = _sum(_value(line.net_amount) for line in invoice.lines
                         if line.vat is not None and matches(line.vat.category, line.vat.rate))
            charges = _sum(_value(c.amount) for c in invoice.charges if matches(c.vat_category, c.vat_rate))
            allowances = _sum(_value(a.amount) for a in invoice.allowances if matches(a.vat_category, a.vat_rate))
            expected = round2(lines) + round2(charges) - round2(allowances)
            tolerant = category in _BASIS_TOLERANCE[syntax]
            tolerance = ONE if tolerant else ZERO
            if basis is None:
                ok = False
            elif tolerant:
                ok = abs(basis - expected) < ONE
            else:
                ok = basis == expected
            title = f"Steuerbemessungsgrundlage {CATEGORY_NAMES.get(category, category)}"
            out.append(Check(rules[0], ("BT-116", "BT-131", "BT-92", "BT-99"),
                             "BT-116 = Σ BT-131 − Σ BT-92 + Σ BT-99 der Kategorie" + (" und des Satzes" if per_rate else ""),
                             title, expected, basis, ok, tolerance, "error", where))
        # BT-117 = BT-116 × BT-119 / 100
        if category in _NO_VAT:
            out.append(Check(rules[1], ("BT-117",), "BT-117 = 0", "Steuerbetrag (ohne Umsatzsteuer)", ZERO, tax,
                             tax is not None and tax == ZERO, ZERO, "error", where))
            continue
        if basis is None:
            continue
        if rate is not None and round2(rate) != ZERO:
            magnitude = round2(abs(basis) * rate / HUNDRED)
            expected = magnitude if basis >= 0 else -magnitude
            ok = tax is not None and abs(abs(tax) - magnitude) < ONE
            related = (rules[1],) if rules is not None and category not in _NO_VAT else ()
            out.append(Check("BR-CO-17", ("BT-117", "BT-116", "BT-119"), "BT-117 = BT-116 × BT-119 / 100",
                             "Steuerbetrag", expected, tax, ok, ONE, "error", where, related))
        elif rate is None and rules is not None:
            # BT-119 missing: BR-CO-17 wants BT-117 = 0, the category rule (BR-S-09 …) cannot be met
            ok = tax is not None and (tax + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR) == 0
            out.append(Check("BR-CO-17", ("BT-117", "BT-116", "BT-119"), "BT-117 = BT-116 × BT-119 / 100",
                             "Steuerbetrag", None, tax, False, ZERO, "error", where, (rules[1],),
                             "USt-Satz (BT-119) fehlt / VAT rate missing"))
        else:
            # rate 0 or absent: XPath round(BT-117) = 0, i.e. −0.5 ≤ BT-117 < 0.5
            ok = tax is not None and (tax + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR) == 0
            out.append(Check("BR-CO-17", ("BT-117", "BT-116", "BT-119"), "BT-117 = BT-116 × BT-119 / 100",
                             "Steuerbetrag", ZERO, tax, ok, Decimal("0.5"), "error", where))


def check_arithmetic(invoice: Invoice, *, tax_totals: list[TaxTotal] | None = None) -> ArithmeticResult:
    """Recompute the amounts of ``invoice`` (see the module docstring for the rules and tolerances).

    ``tax_totals``: the VAT totals as stated in the document (`tax_totals_of`); without them the model's single
    BT-110 is used. `check_result` passes them for a `ReadResult`."""
    currency = (invoice.currency or "").strip()
    slack = Decimal("0.5") if currency == "HUF" else Decimal("0.02")
    checks: list[Check] = []
    _line_checks(invoice, slack, checks)
    checks.extend(_allowance_charge_checks(invoice.allowances + invoice.charges, slack, "", line=False))
    _total_checks(invoice, tax_totals, checks)
    _vat_checks(invoice, checks)
    return ArithmeticResult(checks, currency)


def check_result(result) -> ArithmeticResult:
    """`check_arithmetic` for a `ReadResult` (reads the stated VAT totals from its XML as well)."""
    return check_arithmetic(result.invoice, tax_totals=tax_totals_of(result))


def arithmetic_problems(invoice: Invoice) -> list[Problem]:
    """The mismatches (and differences within tolerance) of `check_arithmetic` as `Problem`s."""
    return check_arithmetic(invoice).problems
