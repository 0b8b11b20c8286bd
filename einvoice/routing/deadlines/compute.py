"""Deadline facts of one invoice, computed without the database (pure).

Input: the parsed model dict (`ParsedInvoice.model`: its ``payment_terms`` were computed by
`einvoice.formats.skonto`, deadlines counted from BT-2), the receipt date (Europe/Berlin), the
settings and the Land whose working days count. Output: `DeadlineFacts`.

- **Terms**: every Skonto term as parsed (days, percent, base, deadline, discount, amount to pay)
  plus ``latest_approval``: the last day an Anordnung still reaches a payment run executing on or
  before the deadline (`calendar.latest_approval_date`: last working day ≤ deadline minus
  ``EINVOICE_PAYMENT_RUN_LEAD_DAYS`` working days, default 1). A term is *reachable* on a day ≤ its
  ``latest_approval``.
- **Best reachable term** on a day (`best_term`): the reachable term with the highest discount
  (then percent, then the later deadline); with staggered terms it moves on as days pass.
- **due_date**: BT-9, else the deadline of the ``PROZENT=0.00`` term, else a CII terms block's due
  date (the model's ``net_due_date``), else None. **legal_due_date**: receipt + ``EINVOICE_PAYMENT_DAYS``
  calendar days (default 30; § 271a/§ 286(3) BGB, approval-practice.md §5).
- **pay_by**: the best reachable Skonto deadline if there is one, else min(due_date, legal_due_date).
- **money at risk** (integer cents of the invoice currency; the inbox sorts by it descending, then by
  pay_by ascending): the discount of the best reachable term; without one (no Skonto, Skonto lost
  or manual) one day of default interest on BT-115 at 9 percentage points a year (§ 288(2) BGB, base
  rate left out): ``round_half_up(BT-115 × 9 / 365)`` cents, i.e. ≈ 0.025 % of the amount, so any
  reachable Skonto of similar size ranks far above and larger invoices rank above smaller ones; 0
  when nothing is to be paid (credit note, BT-115 ≤ 0).
- **status** on a day: ``none`` (no Skonto, or nothing payable), ``manual`` (Skonto only in free
  text, broken ``#SKONTO#`` lines, negative base or no deadline: a person captures it), ``open``
  (a term is reachable) or ``lost`` (offered, but no term reachable any more).
- **notes** (German texts for approvers): Skonto deadline after BT-9, the same TAGE twice with
  different percentages, free-text Skonto, credit note, implausible discount, payment period
  longer than the legal one, received after the Skonto deadline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ...store.routing_models import SkontoStatus
from .calendar import latest_approval_date

DEFAULT_INTEREST_POINTS = Decimal(9)  # § 288(2) BGB: 9 percentage points above the base rate
_SKONTO_WORD = re.compile(r"skonto", re.IGNORECASE)
_NEGATED = re.compile(r"\b(kein\w*|ohne)\s+skonto|skonto\w*\s+(wird|werden|ist|sind)\s+nicht|nicht\s+skontierf",
                      re.IGNORECASE)


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        value = value.get("value")
    return None if value is None else Decimal(str(value))


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def cents(amount: Decimal | None) -> int:
    if amount is None:
        return 0
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Term:
    """One Skonto term (``percent == 0``: the net payment period)."""

    percent: Decimal
    deadline: date | None
    discount: Decimal | None
    pay: Decimal | None
    days: int | None = None
    base: Decimal | None = None
    latest_approval: date | None = None
    source: str = "xrechnung-bt20"

    @property
    def is_skonto(self) -> bool:
        """A usable discount: positive percent and discount, a deadline."""
        return (self.percent > 0 and self.deadline is not None and self.discount is not None
                and self.discount > 0)

    def to_json(self) -> dict[str, Any]:
        return {"days": self.days, "percent": str(self.percent), "base": _s(self.base),
                "deadline": _s(self.deadline), "discount": _s(self.discount), "pay": _s(self.pay),
                "latest_approval": _s(self.latest_approval), "source": self.source}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Term:
        return cls(percent=Decimal(str(data["percent"])), deadline=_date(data.get("deadline")),
                   discount=_dec(data.get("discount")), pay=_dec(data.get("pay")), days=data.get("days"),
                   base=_dec(data.get("base")), latest_approval=_date(data.get("latest_approval")),
                   source=data.get("source") or "xrechnung-bt20")


def _s(value: Any) -> str | None:
    return None if value is None else (value.isoformat() if isinstance(value, date) else str(value))


def best_term(terms: list[Term], on: date) -> Term | None:
    """The reachable Skonto term (``on <= latest_approval``) with the highest discount."""
    reachable = [t for t in terms if t.is_skonto and t.latest_approval is not None and on <= t.latest_approval]
    return max(reachable, key=lambda t: (t.discount, t.percent, t.deadline), default=None)


def best_offered(terms: list[Term]) -> Term | None:
    """The most valuable Skonto term offered at all (the one the metrics count)."""
    return max((t for t in terms if t.is_skonto), key=lambda t: (t.discount, t.percent, t.deadline), default=None)


def interest_weight_cents(payable: Decimal | None) -> int:
    """One day of default interest on ``payable`` at 9 percentage points a year, in cents."""
    if payable is None or payable <= 0:
        return 0
    return cents(payable * DEFAULT_INTEREST_POINTS / 100 / 365)


@dataclass
class DeadlineFacts:
    receipt_date: date
    legal_due_date: date
    issue_date: date | None = None
    due_date: date | None = None
    due_source: str | None = None
    currency: str | None = None
    payable: Decimal = Decimal("0.00")  # BT-115 as stated
    is_payable: bool = True  # False: credit note or BT-115 <= 0, nothing to schedule
    terms: list[Term] = field(default_factory=list)  # sorted by deadline
    manual: bool = False  # Skonto a person must capture
    notes: list[dict[str, str]] = field(default_factory=list)

    @property
    def skonto_terms(self) -> list[Term]:
        # a discount above the amount due (PROZENT=99999999999999999999.00 passes BR-DE-18) is no offer to
        # plan with: a person captures it (manual), and its cents never overflow a database integer
        return [t for t in self.terms if t.is_skonto and t.percent <= 100 and t.discount <= self.payable] \
            if self.is_payable else []

    @property
    def offered(self) -> Term | None:
        return best_offered(self.skonto_terms)

    def best_term(self, on: date) -> Term | None:
        return best_term(self.skonto_terms, on)

    def status(self, on: date) -> SkontoStatus:
        if not self.is_payable:
            return SkontoStatus.NONE
        if self.skonto_terms:
            return SkontoStatus.OPEN if self.best_term(on) else SkontoStatus.LOST
        return SkontoStatus.MANUAL if self.manual else SkontoStatus.NONE

    def pay_by(self, on: date) -> date:
        term = self.best_term(on)
        if term is not None:
            return term.deadline
        return min(d for d in (self.due_date, self.legal_due_date) if d is not None)

    def money_at_risk_cents(self, on: date) -> int:
        if not self.is_payable:
            return 0
        term = self.best_term(on)
        return cents(term.discount) if term is not None else interest_weight_cents(self.payable)


def _note(notes: list[dict[str, str]], code: str, text: str) -> None:
    notes.append({"code": code, "text": text})


def _fmt(day: date) -> str:
    return f"{day:%d.%m.%Y}"


def compute(model: dict[str, Any], receipt_date: date, settings: Any = None, *,
            land: str | None = None) -> DeadlineFacts:
    """`DeadlineFacts` of a parsed invoice received on ``receipt_date`` (see the module docstring)."""
    payment_days = getattr(settings, "payment_days", 30)
    lead = getattr(settings, "payment_run_lead_days", 1)
    flat = model.get("terms") or {}
    pt = model.get("payment_terms") or {}
    direction = model.get("direction") or {}
    payable = _dec(flat.get("BT-115"))
    if payable is None:
        payable = _dec(((model.get("invoice") or {}).get("totals") or {}).get("amount_due"))
    facts = DeadlineFacts(receipt_date=receipt_date, legal_due_date=receipt_date + timedelta(days=payment_days),
                          issue_date=_date(flat.get("BT-2")), currency=flat.get("BT-5"),
                          payable=payable if payable is not None else Decimal("0.00"))
    is_credit = bool(direction.get("is_credit_note")) or direction.get("direction") == "seller-pays"
    facts.is_payable = bool(pt.get("payable", True)) and not is_credit and payable is not None and payable > 0
    notes = facts.notes
    for raw in pt.get("skonto_terms") or []:
        deadline = _date(raw.get("deadline"))
        facts.terms.append(Term(
            percent=Decimal(str(raw["percent"])), deadline=deadline, discount=_dec(raw.get("discount_amount")),
            pay=_dec(raw.get("amount_to_pay")), days=raw.get("days"), base=_dec(raw.get("base_amount")),
            latest_approval=latest_approval_date(deadline, lead, land) if deadline else None,
            source=raw.get("source") or "xrechnung-bt20"))
    facts.terms.sort(key=lambda t: (t.deadline is None, t.deadline or date.max, -t.percent))
    bt9 = _date(pt.get("due_date") or flat.get("BT-9"))
    net = [t.deadline for t in facts.terms if t.percent == 0 and t.deadline]
    if bt9:
        facts.due_date, facts.due_source = bt9, "BT-9"
    elif net:
        facts.due_date, facts.due_source = max(net), "skonto-0.00"
    elif _date(pt.get("net_due_date")):
        facts.due_date, facts.due_source = _date(pt.get("net_due_date")), pt.get("net_due_source")

    if not facts.is_payable:
        _note(notes, "not-payable", "Gutschrift oder Zahlbetrag ≤ 0: nichts zu zahlen, kein Skonto zu planen.")
        return facts
    _check_terms(facts, bt9)
    text = flat.get("BT-20") or pt.get("text") or ""
    free = pt.get("free_text") or []
    if not facts.skonto_terms:
        if "#SKONTO#" in text.upper() and not pt.get("br_de_18_ok", True):
            facts.manual = True
            _note(notes, "skonto-syntax", "Die Skonto-Angabe in BT-20 entspricht nicht der XRechnung-Syntax "
                  "(BR-DE-18): Skonto bitte manuell erfassen.")
        elif any(_SKONTO_WORD.search(line) and not _NEGATED.search(line) for line in free):
            facts.manual = True
            _note(notes, "free-text", "Skonto nur als Freitext angegeben (nicht maschinenlesbar): "
                  "Skontofrist und -betrag bitte manuell erfassen.")
        elif any(t.percent > 0 for t in facts.terms):
            facts.manual = True
    if facts.due_date and facts.due_date > facts.legal_due_date:
        _note(notes, "due-after-legal", f"Das Zahlungsziel {_fmt(facts.due_date)} liegt mehr als {payment_days} "
              f"Tage nach Eingang; gesetzliche Zahlungsfrist: {_fmt(facts.legal_due_date)} (§ 271a BGB).")
    offered = facts.offered
    if offered is not None and offered.deadline < receipt_date:
        _note(notes, "received-after-skonto", f"Die Rechnung ging erst nach Ablauf der Skontofrist "
              f"({_fmt(offered.deadline)}) ein.")
    return facts


def _check_terms(facts: DeadlineFacts, bt9: date | None) -> None:
    notes = facts.notes
    seen: dict[int, Decimal] = {}
    for term in facts.terms:
        if term.days is not None and term.days in seen and seen[term.days] != term.percent:
            _note(notes, "ambiguous-days", f"{term.days} Tage sind mit verschiedenen Prozentsätzen angegeben; "
                  "der höhere Skontobetrag wird angesetzt, bitte prüfen.")
        if term.days is not None:
            seen.setdefault(term.days, term.percent)
        if term.percent > 0 and term.deadline and bt9 and term.deadline > bt9:
            _note(notes, "skonto-after-due", f"Die Skontofrist {_fmt(term.deadline)} liegt nach dem "
                  f"Fälligkeitsdatum {_fmt(bt9)} (BT-9); für das Skonto gilt die Skontofrist.")
        if term.base is not None and term.base < 0:
            facts.manual = True
            _note(notes, "negative-base", f"Negativer Basisbetrag {term.base}: Skonto bitte manuell prüfen.")
        if term.percent > 100 or (term.discount is not None and term.discount > facts.payable):
            _note(notes, "implausible", f"Skonto von {term.percent} % ist unplausibel, bitte prüfen.")
        if term.percent > 0 and term.deadline is None:
            facts.manual = True
            _note(notes, "no-deadline", "Skonto ohne berechenbare Frist (kein Rechnungsdatum): bitte manuell "
                  "erfassen.")
