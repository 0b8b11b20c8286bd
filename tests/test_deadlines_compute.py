"""Pure deadline facts: the worked examples E1-E4 (skonto-and-payment-terms.md §4.3), staggered terms,
credit notes, free-text Skonto, due and legal dates, notes and the inbox priority."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from deadlines_data import invoice_model
from einvoice.routing.deadlines.compute import compute, interest_weight_cents
from einvoice.store.routing_models import SkontoStatus

SETTINGS = SimpleNamespace(payment_days=30, payment_run_lead_days=1)
E2_TEXT = "#SKONTO#TAGE=7#PROZENT=3.00#\n#SKONTO#TAGE=14#PROZENT=2.00#\n#SKONTO#TAGE=30#PROZENT=0.00#\n"


def facts_of(model, receipt, settings=SETTINGS, land="NW"):
    return compute(model, receipt, settings, land=land)


def terms(facts):
    return [(t.deadline, t.discount, t.pay) for t in facts.terms]


def codes(facts):
    return [n["code"] for n in facts.notes]


def test_e1_single_term():
    facts = facts_of(invoice_model(date(2025, 3, 10), "1190.00", "#SKONTO#TAGE=14#PROZENT=2.00#\n"), date(2025, 3, 11))
    assert terms(facts) == [(date(2025, 3, 24), D("23.80"), D("1166.20"))]
    best = facts.best_term(date(2025, 3, 11))
    assert best.deadline == date(2025, 3, 24) and best.percent == D("2.00")
    assert facts.status(date(2025, 3, 11)) is SkontoStatus.OPEN
    assert facts.pay_by(date(2025, 3, 11)) == date(2025, 3, 24)
    assert facts.money_at_risk_cents(date(2025, 3, 11)) == 2380
    assert facts.legal_due_date == date(2025, 4, 10) and facts.due_date is None
    # deadline Monday 24 March: the Anordnung must come by Friday 21 March (one working day lead)
    assert facts.terms[0].latest_approval == date(2025, 3, 21)
    assert facts.status(date(2025, 3, 21)) is SkontoStatus.OPEN
    assert facts.status(date(2025, 3, 22)) is SkontoStatus.LOST
    assert facts.pay_by(date(2025, 3, 22)) == date(2025, 4, 10)  # no BT-9: the legal date


def test_e2_staggered_terms_and_the_best_term_moving_on():
    facts = facts_of(invoice_model(date(2025, 12, 22), "4284.00", E2_TEXT), date(2025, 12, 22))
    assert terms(facts) == [(date(2025, 12, 29), D("128.52"), D("4155.48")),
                            (date(2026, 1, 5), D("85.68"), D("4198.32")),
                            (date(2026, 1, 21), D("0.00"), D("4284.00"))]
    assert (facts.due_date, facts.due_source) == (date(2026, 1, 21), "skonto-0.00")
    assert [t.percent for t in facts.skonto_terms] == [D("3.00"), D("2.00")]  # 0.00 % is the net period
    assert facts.offered.discount == D("128.52")
    # 29 Dec is a Monday after Christmas: the last Anordnung for 3 % is Wednesday 24 Dec
    assert facts.terms[0].latest_approval == date(2025, 12, 24)
    assert facts.best_term(date(2025, 12, 24)).percent == D("3.00")
    assert facts.money_at_risk_cents(date(2025, 12, 24)) == 12852
    assert facts.best_term(date(2025, 12, 27)).percent == D("2.00")
    assert facts.pay_by(date(2025, 12, 27)) == date(2026, 1, 5)
    assert facts.money_at_risk_cents(date(2025, 12, 27)) == 8568
    assert facts.terms[1].latest_approval == date(2026, 1, 2)
    assert facts.best_term(date(2026, 1, 3)) is None
    assert facts.status(date(2026, 1, 3)) is SkontoStatus.LOST
    assert facts.pay_by(date(2026, 1, 3)) == date(2026, 1, 21)  # min(due 21 Jan, legal 21 Jan)
    assert facts.money_at_risk_cents(date(2026, 1, 3)) == interest_weight_cents(D("4284.00")) == 106


def test_e3_partial_base():
    text = "Porto und Fremdleistungen sind nicht skontierfähig.\n#SKONTO#TAGE=10#PROZENT=3.00#BASISBETRAG=10710.00#\n"
    facts = facts_of(invoice_model(date(2026, 2, 20), "11900.00", text), date(2026, 2, 21))
    assert terms(facts) == [(date(2026, 3, 2), D("321.30"), D("11578.70"))]
    assert facts.terms[0].base == D("10710.00")
    assert facts.status(date(2026, 2, 21)) is SkontoStatus.OPEN and not facts.manual


def test_e4_prepaid_amount_and_leap_year():
    model = invoice_model(date(2024, 2, 20), "3000.00", "#SKONTO#TAGE=10#PROZENT=2.00#\n", tax_inclusive="5000.00",
                          prepaid="2000.00")
    facts = facts_of(model, date(2024, 2, 21))
    assert terms(facts) == [(date(2024, 3, 1), D("60.00"), D("2940.00"))]
    assert facts.payable == D("3000.00")


def test_credit_note_and_nothing_due_schedule_no_skonto():
    credit = facts_of(invoice_model(date(2026, 3, 2), "500.00", "#SKONTO#TAGE=14#PROZENT=2.00#\n", credit=True),
                      date(2026, 3, 3))
    assert credit.status(date(2026, 3, 3)) is SkontoStatus.NONE
    assert credit.skonto_terms == [] and len(credit.terms) == 1  # kept for information
    assert credit.money_at_risk_cents(date(2026, 3, 3)) == 0
    assert "not-payable" in codes(credit)
    zero = facts_of(invoice_model(date(2026, 3, 2), "0.00", "#SKONTO#TAGE=14#PROZENT=2.00#\n"), date(2026, 3, 3))
    assert zero.status(date(2026, 3, 3)) is SkontoStatus.NONE and zero.money_at_risk_cents(date(2026, 3, 3)) == 0


@pytest.mark.parametrize("text, status", [
    ("Bei Zahlung binnen 14 Tagen 2% Skonto.", SkontoStatus.MANUAL),
    ("Zahlbar innerhalb 30 Tagen.\n3 % SKONTO bei Zahlung in 8 Tagen", SkontoStatus.MANUAL),
    ("Zahlbar bis 02.12.2026 ohne Abzug. Skonto wird nicht gewährt.", SkontoStatus.NONE),
    ("Zahlbar sofort, kein Skonto.", SkontoStatus.NONE),
    ("Zahlbar innerhalb 30 Tagen ohne Abzug.", SkontoStatus.NONE),
    ("#SKONTO#TAGE=14#PROZENT=2#\n", SkontoStatus.MANUAL),  # broken syntax (BR-DE-18): a person captures it
])
def test_free_text_skonto_goes_to_a_person(text, status):
    facts = facts_of(invoice_model(date(2026, 3, 2), "1000.00", text), date(2026, 3, 3))
    assert facts.status(date(2026, 3, 3)) is status
    if status is SkontoStatus.MANUAL:
        assert {"free-text", "skonto-syntax"} & set(codes(facts))


def test_legal_due_date_and_pay_by_without_skonto():
    model = invoice_model(date(2026, 3, 1), "1000.00", "Zahlbar in 60 Tagen.", due=date(2026, 4, 30))
    facts = facts_of(model, date(2026, 3, 10))
    assert facts.legal_due_date == date(2026, 4, 9)
    assert (facts.due_date, facts.due_source) == (date(2026, 4, 30), "BT-9")
    assert facts.pay_by(date(2026, 3, 10)) == date(2026, 4, 9)  # the legal deadline comes first
    assert "due-after-legal" in codes(facts)
    short = facts_of(model, date(2026, 3, 10), SimpleNamespace(payment_days=14, payment_run_lead_days=1))
    assert short.legal_due_date == date(2026, 3, 24)
    early = facts_of(invoice_model(date(2026, 3, 1), "1000.00", due=date(2026, 3, 20)), date(2026, 3, 10))
    assert early.pay_by(date(2026, 3, 10)) == date(2026, 3, 20)


def test_notes_for_ambiguous_terms_and_skonto_after_the_due_date():
    text = "#SKONTO#TAGE=14#PROZENT=2.00#\n#SKONTO#TAGE=14#PROZENT=3.00#\n"
    facts = facts_of(invoice_model(date(2026, 3, 2), "1000.00", text, due=date(2026, 3, 10)), date(2026, 3, 3))
    assert {"ambiguous-days", "skonto-after-due"} <= set(codes(facts))
    assert facts.best_term(date(2026, 3, 3)).discount == D("30.00")  # the higher one, flagged for review
    assert all(n["text"] for n in facts.notes)


def test_received_after_the_skonto_deadline_is_lost_from_the_start():
    facts = facts_of(invoice_model(date(2026, 1, 5), "1000.00", "#SKONTO#TAGE=7#PROZENT=2.00#\n"), date(2026, 2, 2))
    assert facts.status(date(2026, 2, 2)) is SkontoStatus.LOST
    assert "received-after-skonto" in codes(facts)


def test_priority_sorts_by_money_at_risk_then_pay_by():
    on = date(2026, 3, 2)
    invoices = {
        "skonto-2%-of-1190": invoice_model(date(2026, 3, 1), "1190.00", "#SKONTO#TAGE=14#PROZENT=2.00#\n"),
        "skonto-3%-of-100": invoice_model(date(2026, 3, 1), "100.00", "#SKONTO#TAGE=10#PROZENT=3.00#\n"),
        "no-skonto-10000": invoice_model(date(2026, 3, 1), "10000.00", due=date(2026, 3, 31)),
        "no-skonto-1000-late": invoice_model(date(2026, 3, 1), "1000.00", due=date(2026, 3, 25)),
        "no-skonto-1000-early": invoice_model(date(2026, 3, 1), "1000.00", due=date(2026, 3, 15)),
        "credit-note": invoice_model(date(2026, 3, 1), "5000.00", credit=True),
    }
    facts = {name: facts_of(model, on) for name, model in invoices.items()}
    order = sorted(facts, key=lambda name: (-facts[name].money_at_risk_cents(on), facts[name].pay_by(on)))
    assert order == ["skonto-2%-of-1190", "skonto-3%-of-100", "no-skonto-10000", "no-skonto-1000-early",
                     "no-skonto-1000-late", "credit-note"]
    assert facts["no-skonto-10000"].money_at_risk_cents(on) == interest_weight_cents(D("10000.00")) == 247
    assert facts["skonto-3%-of-100"].money_at_risk_cents(on) == 300
    assert facts["no-skonto-1000-early"].pay_by(on) == date(2026, 3, 15)
    assert facts["credit-note"].money_at_risk_cents(on) == 0


def test_deadline_of_a_term_is_reachable_until_its_latest_approval_in_the_units_land():
    # deadline Friday 5 June 2026; in NW Thursday 4 June (Fronleichnam) is no working day
    model = invoice_model(date(2026, 5, 22), "1000.00", "#SKONTO#TAGE=14#PROZENT=2.00#\n")
    nw, be = facts_of(model, date(2026, 5, 22), land="NW"), facts_of(model, date(2026, 5, 22), land="BE")
    assert nw.terms[0].latest_approval == date(2026, 6, 3)
    assert be.terms[0].latest_approval == date(2026, 6, 4)
    assert nw.best_term(date(2026, 6, 4)) is None and be.best_term(date(2026, 6, 4)) is not None
    assert nw.terms[0].deadline - timedelta(days=14) == date(2026, 5, 22)
