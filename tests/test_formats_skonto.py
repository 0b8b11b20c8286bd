"""Skonto: BR-DE-18 syntax exactly (xrechnung-rules.md §7), corpus verdicts, computation (§4 examples)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from conftest import REPORT_LINES
from einvoice.formats.model import Amount, DiscountTerms, Invoice, PaymentTermsBlock, Quantity, Totals
from einvoice.formats.read import read_invoice
from einvoice.formats.skonto import parse_bt20, payment_terms
from einvoice.samples.generate import XRECHNUNG_30, cii_invoice, ubl_invoice

S = "#SKONTO#TAGE=14#PROZENT=2.00#"

# every row of the table in xrechnung-rules.md §7.2: (text, BR-DE-18 satisfied)
TABLE = [
    ("Zahlbar innerhalb 30 Tagen netto", True),
    (f"{S}\n", True),
    (S, False),
    (f"{S}   \n", True),
    (f"   {S}\n", True),
    (f"\t{S}\n", True),
    (f"{S}\r\n", True),
    (f"{S}\nZahlbar sofort", True),
    (f"Zahlbar 30 Tage netto\n{S}\n", True),
    (f"#SKONTO#TAGE=7#PROZENT=3.00#\n{S}\n", True),
    (f"#SKONTO#TAGE=7#PROZENT=3.00#{S}\n", False),
    (f"#SKONTO#TAGE=7#PROZENT=3.00# {S}\n", False),
    ("#SKONTO#TAGE=14#PROZENT=2.0#\n", False),
    ("#SKONTO#TAGE=14#PROZENT=2#\n", False),
    ("#SKONTO#TAGE=14#PROZENT=2.000#\n", False),
    ("#SKONTO#TAGE=14#PROZENT=+2.00#\n", False),
    ("#SKONTO#TAGE=-1#PROZENT=2.00#\n", False),
    ("#SKONTO#TAGE=0#PROZENT=2.00#\n", True),
    ("#SKONTO#TAGE=014#PROZENT=2.00#\n", True),
    ("#SKONTO#TAGE=14#PROZENT=100.00#\n", True),
    ("#SKONTO#TAGE=14#PROZENT=2.00#BASISBETRAG=-5.53#\n", True),
    ("#SKONTO#TAGE=14#PROZENT=2.00#BASISBETRAG=-5#\n", False),
    ("#SKONTO#TAGE=14#PROZENT=2.00#BASISBETRAG=+5.00#\n", False),
    ("#SKONTO#TAGE=14#PROZENT=2.00#BASISBETRAG=10.000#\n", False),
    ("#SKONTO#TAGE=14#PROZENT=2.00#BASISBETRAG=23#\n", False),
    ("#SKONTO#TAGE=14#PROZENT=2.00#BASISBETRAG=2,53#\n", False),
    ("#SKONTO#TAGE=14#PROZENT=2.00\n", False),
    ("#SKONTO#\tTAGE=14#PROZENT=2.00#\n", False),
    ("#SKONTO#TAGE=14 #PROZENT=2.00#\n", False),
    ("#SKONTO#TAGE = 14#PROZENT=2.00#\n", False),
    (f"#Hinweis\n{S}\n", False),
    ("skonto#TAGE=14#PROZENT=2.00#\n", True),
    (f"{S}\nRechnung #123# bitte\n", False),
    (f"{S}\nRechnung #123 bitte", True),
    (f"Rechnung #123# bitte\n{S}\n", True),
    (f"{S}\u00a0\n", False),
]


@pytest.mark.parametrize("text,valid", TABLE)
def test_br_de_18_table(text, valid):
    parsed = parse_bt20(text)
    assert parsed.br_de_18_ok is valid
    assert all(p.rule == "BR-DE-18" and p.code.startswith("SKONTO-") for p in parsed.problems)


def test_invalid_lines_never_become_terms():
    parsed = parse_bt20("#SKONTO#TAGE=14#PROZENT=2,00#\n#SKONTO#TAGE=7#PROZENT=3.00#\n")
    assert [(t.days, t.percent) for t in parsed.lines] == [(7, Decimal("3.00"))]
    assert [p.code for p in parsed.problems] == ["SKONTO-SYNTAX"]
    # a line not starting with '#' is free text, even when it looks like a term
    parsed = parse_bt20("skonto#TAGE=14#PROZENT=2.00#\n")
    assert parsed.lines == [] and parsed.free_text == ["skonto#TAGE=14#PROZENT=2.00#"]


def test_verzug_lines_are_refused():
    parsed = parse_bt20(f"{S}\n#VERZUG#TAGE=30#PROZENT=5.00#\n")
    assert [p.code for p in parsed.problems] == ["SKONTO-VERZUG"] and len(parsed.lines) == 1


def test_missing_final_newline_is_its_own_finding():
    assert [p.code for p in parse_bt20(S).problems] == ["SKONTO-NEWLINE"]


def test_parser_agrees_with_the_oracle_on_every_br_de_18_mutant(corpus, expected):
    files = sorted(rel for rel in expected if rel.startswith("xrechnung-rules/") and "br-de-18" in rel.rsplit("/", 1)[-1])
    assert len(files) >= 40
    disagreements = []
    for rel in files:
        fired = "BR-DE-18" in {f["id"] for f in expected[rel]["fired"] if f["level"] == "error"}
        invoice = read_invoice((corpus / rel).read_bytes(), rel).invoice
        if parse_bt20(invoice.payment_terms).br_de_18_ok == fired:
            disagreements.append(rel)
    assert disagreements == []
    REPORT_LINES.append(f"formats: Skonto parser agrees with the oracle's BR-DE-18 verdict on {len(files)}/{len(files)} "
                        "br-de-18 mutants")


def _invoice(text: str, issued: date, due: str, *, prepaid: str | None = None, due_date: date | None = None,
             credit_note: bool = False) -> Invoice:
    return Invoice(syntax="ubl-creditnote" if credit_note else "ubl-invoice", issue_date=issued, currency="EUR",
                   type_code="381" if credit_note else "380", specification_id=XRECHNUNG_30, payment_terms=text,
                   due_date=due_date,
                   totals=Totals(amount_due=Amount(Decimal(due), "EUR"),
                                 prepaid=Amount(Decimal(prepaid), "EUR") if prepaid else None))


def _rows(terms):
    return [(t.deadline, t.discount_amount.value, t.amount_to_pay.value) for t in terms.skonto_terms]


def test_e1_single_term():
    terms = payment_terms(_invoice(f"{S}\n", date(2025, 3, 10), "1190.00"))
    assert _rows(terms) == [(date(2025, 3, 24), Decimal("23.80"), Decimal("1166.20"))]
    assert terms.source == "xrechnung-bt20" and terms.problems == [] and terms.payable


def test_e2_staggered_terms_and_net_period():
    text = "#SKONTO#TAGE=30#PROZENT=0.00#\n#SKONTO#TAGE=7#PROZENT=3.00#\n#SKONTO#TAGE=14#PROZENT=2.00#\n"
    terms = payment_terms(_invoice(text, date(2025, 12, 22), "4284.00"))
    assert _rows(terms) == [  # sorted by deadline, not by text order
        (date(2025, 12, 29), Decimal("128.52"), Decimal("4155.48")),
        (date(2026, 1, 5), Decimal("85.68"), Decimal("4198.32")),
        (date(2026, 1, 21), Decimal("0.00"), Decimal("4284.00")),
    ]
    assert (terms.net_due_date, terms.net_due_source) == (date(2026, 1, 21), "skonto-0.00")
    assert terms.applicable(date(2025, 12, 29)).percent == Decimal("3.00")
    assert terms.applicable(date(2025, 12, 30)).percent == Decimal("2.00")
    assert terms.applicable(date(2026, 1, 6)) is None


def test_e3_partial_base():
    text = "Porto und Fremdleistungen sind nicht skontierfähig.\n#SKONTO#TAGE=10#PROZENT=3.00#BASISBETRAG=10710.00#\n"
    terms = payment_terms(_invoice(text, date(2026, 2, 20), "11900.00"))
    assert _rows(terms) == [(date(2026, 3, 2), Decimal("321.30"), Decimal("11578.70"))]
    assert terms.skonto_terms[0].base == Amount(Decimal("10710.00"), "EUR")
    assert terms.free_text == ["Porto und Fremdleistungen sind nicht skontierfähig."]


def test_e4_prepaid_amount_and_leap_year():
    terms = payment_terms(_invoice("#SKONTO#TAGE=10#PROZENT=2.00#\n", date(2024, 2, 20), "3000.00", prepaid="2000.00"))
    assert _rows(terms) == [(date(2024, 3, 1), Decimal("60.00"), Decimal("2940.00"))]


def test_half_up_rounding():
    terms = payment_terms(_invoice("#SKONTO#TAGE=10#PROZENT=1.00#\n", date(2025, 1, 1), "12.50"))
    assert terms.skonto_terms[0].discount_amount.value == Decimal("0.13")


def test_warnings_credit_note_deadline_after_due_free_text():
    credit = payment_terms(_invoice(f"{S}\n", date(2025, 3, 10), "100.00", credit_note=True))
    assert not credit.payable and "SKONTO-NOT-PAYABLE" in {p.code for p in credit.problems}
    late = payment_terms(_invoice("#SKONTO#TAGE=40#PROZENT=2.00#\n", date(2025, 3, 10), "100.00",
                                  due_date=date(2025, 4, 9)))
    assert "SKONTO-AFTER-DUE" in {p.code for p in late.problems} and late.net_due_source == "BT-9"
    free = payment_terms(_invoice("Bei Zahlung binnen 14 Tagen 2% Skonto", date(2025, 3, 10), "100.00"))
    assert free.skonto_terms == [] and [p.code for p in free.problems] == ["SKONTO-FREE-TEXT"]
    twice = payment_terms(_invoice("#SKONTO#TAGE=14#PROZENT=2.00#\n#SKONTO#TAGE=14#PROZENT=3.00#\n",
                                   date(2025, 3, 10), "100.00"))
    assert "SKONTO-AMBIGUOUS" in {p.code for p in twice.problems}


def test_syntax_problems_are_errors_only_for_xrechnung():
    invoice = _invoice("#SKONTO#TAGE=14#PROZENT=2#\n", date(2025, 3, 10), "100.00")
    assert {p.severity for p in payment_terms(invoice).problems} == {"error"}
    invoice.specification_id = "urn:cen.eu:en16931:2017"
    assert {p.severity for p in payment_terms(invoice).problems} == {"warning"}


def test_generated_invoice_terms():
    result = read_invoice(ubl_invoice())
    terms = result.payment_terms()
    assert [(t.days, t.percent, t.deadline) for t in terms.skonto_terms] == [(14, Decimal("2.00"), date(2026, 11, 16))]
    assert terms.net_due_date == date(2026, 12, 2) and terms.br_de_18_ok


CII_DISCOUNT = (b"<ram:ApplicableTradePaymentDiscountTerms>"
                b"<ram:BasisPeriodMeasure unitCode=\"DAY\">10</ram:BasisPeriodMeasure>"
                b"<ram:CalculationPercent>3.00</ram:CalculationPercent>"
                b"<ram:ActualDiscountAmount>%s</ram:ActualDiscountAmount>"
                b"</ram:ApplicableTradePaymentDiscountTerms></ram:SpecifiedTradePaymentTerms>")


def test_cii_discount_terms_are_read_and_compared():
    xml = cii_invoice().replace(b"</ram:SpecifiedTradePaymentTerms>", CII_DISCOUNT % b"33.60", 1)
    result = read_invoice(xml)
    assert result.coverage() == []
    block = result.invoice.payment_terms_blocks[0]
    assert block.discount.period == Quantity(Decimal("10"), "DAY") and block.discount.percent == Decimal("3.00")
    terms = result.payment_terms()
    # BT-20 carries its own #SKONTO# line (14 days, 2 %): BT-20 wins, the disagreement is flagged
    assert terms.source == "xrechnung-bt20" and "SKONTO-CONFLICT" in {p.code for p in terms.problems}


def test_cii_discount_terms_alone():
    invoice = Invoice(syntax="cii", issue_date=date(2026, 2, 1), currency="EUR",
                      totals=Totals(amount_due=Amount(Decimal("529.87"), "EUR")),
                      payment_terms_blocks=[
                          PaymentTermsBlock("Please remit until 04.03.2026", date(2026, 3, 4)),
                          PaymentTermsBlock("4 % Skonto bis 15.02.2026", date(2026, 2, 15),
                                            discount=DiscountTerms(basis_amount=Amount(Decimal("529.87"), "EUR"),
                                                                   percent=Decimal("4.00"),
                                                                   actual_amount=Amount(Decimal("21.19"), "EUR")))])
    terms = payment_terms(invoice)
    assert terms.source == "cii-discount-terms"
    assert _rows(terms) == [(date(2026, 2, 15), Decimal("21.19"), Decimal("508.68"))]
    assert (terms.net_due_date, terms.net_due_source) == (date(2026, 3, 4), "cii-terms") and terms.problems == []
    invoice.payment_terms_blocks[1].discount.actual_amount = Amount(Decimal("25.00"), "EUR")
    assert "SKONTO-DISCOUNT-MISMATCH" in {p.code for p in payment_terms(invoice).problems}
