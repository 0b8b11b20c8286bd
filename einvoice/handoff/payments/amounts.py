"""The amount to transfer for one invoice on an execution date (pure: no database).

Input: the frozen ``payable_amount`` of the Anordnung (after any partial acceptance), the invoice's
gross amount BT-115 (``ApprovalCase.gross_amount``) and its Skonto terms as the deadline tracking
stored them (`einvoice.routing.deadlines.compute.Term`, from ``InvoiceDeadline.terms``; BT-20 is
never parsed again here).

- **Applicable term** (`applicable_term`): among the usable Skonto terms (``Term.is_skonto``:
  percent > 0, a deadline, a positive discount) those whose deadline is on or after the execution
  date — the deadline day itself still counts (skonto-and-payment-terms.md §4.1) — the one with the
  highest discount (then percent, then the later deadline: the order of
  `einvoice.routing.deadlines.compute.best_term`). With staggered terms (3 % / 2 % / net) the
  discount steps down as the execution date passes each deadline; after the last one nothing is
  deducted. The approval-side ``latest_approval`` date (payment-run lead time) does not matter here:
  the payment run *is* the execution.
- **Discount**: the term's stored discount when the whole invoice is paid (payable = gross). After a
  partial acceptance (payable < gross) the Skonto percent is applied to the reduced amount: base =
  payable (or, for a term with BASISBETRAG, the Basisbetrag reduced in the same proportion,
  ``base × payable / gross``, so the part that was not discountable stays undiscounted), discount
  = base × percent / 100 rounded half-up to cents (as `einvoice.formats.skonto` computes it).
- A discount that is not below the payable amount (an implausible term) is never deducted.
- Result: `PaymentAmount` with the amount to transfer = payable − discount, the discount, the term
  and a German explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from ...routing.deadlines.compute import Term

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PaymentAmount:
    payable: Decimal  # the frozen payable amount (Anordnung)
    gross: Decimal  # BT-115 of the invoice
    amount: Decimal  # to transfer
    skonto: Decimal  # deducted (0.00: none)
    term: Term | None  # the Skonto term applied
    reduced: bool  # payable < gross: the discount was computed on the reduced amount
    explanation: str  # German, for the person making the run


def _fmt(amount: Decimal) -> str:
    text = f"{amount.quantize(CENT):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{text} EUR"


def applicable_term(terms: list[Term], execution_date: date) -> Term | None:
    """The Skonto term that applies when the transfer executes on ``execution_date`` (or None)."""
    eligible = [t for t in terms if t.is_skonto and t.deadline >= execution_date]
    return max(eligible, key=lambda t: (t.discount, t.percent, t.deadline), default=None)


def discount_for(term: Term, payable: Decimal, gross: Decimal) -> Decimal:
    """The discount of ``term`` on the payable amount (see the module docstring)."""
    if payable == gross or gross == 0:
        return term.discount.quantize(CENT)
    base = term.base if term.base is not None else gross
    reduced_base = (base * payable / gross).quantize(CENT, rounding=ROUND_HALF_UP)
    return (reduced_base * term.percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def amount_on(payable: Decimal, gross: Decimal, terms: list[Term], execution_date: date) -> PaymentAmount:
    """What to transfer for an invoice paid on ``execution_date``."""
    payable, gross = payable.quantize(CENT), gross.quantize(CENT)
    reduced = payable != gross
    term = applicable_term(terms, execution_date)
    if term is None:
        offered = [t for t in terms if t.is_skonto]
        why = (f"Skontofrist abgelaufen (zuletzt {max(t.deadline for t in offered):%d.%m.%Y}): voller Betrag"
               if offered else "ohne Skonto: voller Betrag")
        return PaymentAmount(payable, gross, payable, ZERO, None, reduced, f"{_fmt(payable)} {why}")
    discount = discount_for(term, payable, gross)
    if discount <= 0 or discount >= payable:
        return PaymentAmount(payable, gross, payable, ZERO, None, reduced,
                             f"{_fmt(payable)}: Skonto von {term.percent} % unplausibel, nicht abgezogen")
    why = (f"Skonto {term.percent} % bis {term.deadline:%d.%m.%Y}: {_fmt(discount)} abgezogen")
    if reduced:
        why += f" (auf den gekürzten Zahlbetrag {_fmt(payable)} statt {_fmt(gross)} berechnet)"
    return PaymentAmount(payable, gross, payable - discount, discount, term, reduced,
                         f"{_fmt(payable - discount)}: {why}")
