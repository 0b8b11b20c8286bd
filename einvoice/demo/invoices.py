"""The demo's invoices, made with `einvoice.samples.generate` for the example organisation.

Suppliers, orders and Leitweg-IDs are those of ``rules/routing/example-masterdata`` (as in
``bench/workflow.py``), so matching finds cost centres the way it would in a real town hall. Issue
dates lie in the last two weeks before ``today``: the Skonto deadlines (mostly 2 % within 14 days)
are still running when the demo starts. `expected` says where each one should end up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

CENTRAL = "05315-12345-85"  # the Rechnungseingangsstelle's Leitweg-ID: names no department


@dataclass(frozen=True)
class DemoInvoice:
    name: str  # file name (upload name / attachment name)
    data: bytes
    channel: str  # "api" (POST /api/v1/invoices) or "smtp" (mail to the SMTP receiver)
    sender: str  # supplier's e-mail address (mail From / API sender)
    expected: str  # in_approval | manual | rejected
    what: str  # one line for the demo's output


SENDERS = {"musterbau": "rechnung@musterbau.example", "gruenpflege": "rechnung@gruenpflege-lindner.example",
           "schreibwerk": "rechnungen@schreibwerk.example", "nordlicht": "faktura@nordlicht-it.example"}


def demo_invoices(today: date) -> list[DemoInvoice]:
    from ..samples.generate import EN16931, Skonto, cii_invoice, facturx_pdf, ubl_invoice

    year = today.year

    def day(n: int) -> date:
        return today - timedelta(days=n)

    two_terms = (Skonto(7, Decimal("3.00")), Skonto(14, Decimal("2.00")))
    made: list[DemoInvoice] = []

    def add(name, data, supplier, what, *, channel="api", expected="in_approval"):
        made.append(DemoInvoice(name, data, channel, SENDERS[supplier], expected, what))

    add(f"musterbau-RE-{year}-2101.xml",
        ubl_invoice(2, number=f"RE-{year}-2101", issue_date=day(2), supplier="musterbau", order="BEST-2026-0815",
                    leitweg_id=CENTRAL),
        "musterbau", "UBL, Bestellung BEST-2026-0815 → KSt 6610 Straßenunterhaltung")
    add(f"musterbau-RE-{year}-2102.xml",
        cii_invoice(1, number=f"RE-{year}-2102", issue_date=day(5), supplier="musterbau", order="BEST-2026-0815",
                    leitweg_id="05315-FB66-46", skonto=two_terms),
        "musterbau", "CII, zwei Skontostufen (3 % 7 Tage, 2 % 14 Tage)")
    add(f"musterbau-RE-{year}-2103.xml",
        ubl_invoice(3, number=f"RE-{year}-2103", issue_date=day(9), supplier="musterbau", order=None,
                    leitweg_id="05315-FB66-46"),
        "musterbau", "UBL ohne Bestellung: Leitweg-ID Tiefbau + Lieferant")
    add(f"musterbau-GS-{year}-0104.xml",
        ubl_invoice(1, number=f"GS-{year}-0104", issue_date=day(4), supplier="musterbau", credit_note=True,
                    order="BEST-2026-0815", leitweg_id=CENTRAL, skonto=()),
        "musterbau", "Gutschrift (UBL CreditNote)")
    add(f"gruenpflege-{year}-3301.xml",
        cii_invoice(2, number=f"GP-{year}-3301", issue_date=day(6), supplier="gruenpflege",
                    order=None, leitweg_id="05315-FRIEDHOF-38"),
        "gruenpflege", "CII, Leitweg-ID Friedhofsverwaltung → KSt 6720")
    add(f"schreibwerk-{year}-5501.xml",
        ubl_invoice(2, number=f"SW-{year}-5501", issue_date=day(8), supplier="schreibwerk", order=None,
                    leitweg_id="05315-SCHULBAU-52"),
        "schreibwerk", "UBL, Leitweg-ID Bauunterhaltung Grundschulen → KSt 4010")
    add(f"nordlicht-{year}-0901.xml",
        ubl_invoice(1, number=f"NL-{year}-0901", issue_date=day(10), supplier="nordlicht", order=None,
                    leitweg_id=CENTRAL),
        "nordlicht", "UBL, abweichender Zahlungsempfänger (Factoring); Lieferant → KSt 2030")
    add(f"musterbau-RE-{year}-2105.xml",
        ubl_invoice(1, number=f"RE-{year}-2105", issue_date=day(3), supplier="musterbau", order="BEST-2026-0815",
                    leitweg_id="05315-FRIEDHOF-38"),
        "musterbau", "Widerspruch: Bestellung Tiefbau, Leitweg-ID Friedhof → manuelle Zuordnung",
        expected="manual")
    add(f"gruenpflege-{year}-3302.xml",
        ubl_invoice(2, number=f"GP-{year}-3302", issue_date=day(1), supplier="gruenpflege",
                    order="BEST-2026-0907", leitweg_id=CENTRAL, defect="amount-due"),
        "gruenpflege", "fehlerhaft: Zahlbetrag stimmt nicht (BR-CO-16) → abgewiesen", expected="rejected")
    # by mail, to einvoice's own SMTP receiver
    add(f"gruenpflege-{year}-3303.xml",
        ubl_invoice(3, number=f"GP-{year}-3303", issue_date=day(7), supplier="gruenpflege",
                    order="BEST-2026-0907", leitweg_id="05315-FB67-43"),
        "gruenpflege", "per E-Mail, Bestellung BEST-2026-0907 → KSt 6710", channel="smtp")
    add(f"schreibwerk-{year}-5502.xml",
        cii_invoice(1, number=f"SW-{year}-5502", issue_date=day(12), supplier="schreibwerk", order=None,
                    leitweg_id=CENTRAL, skonto=(Skonto(10, Decimal("3.00")),)),
        "schreibwerk", "per E-Mail, CII, Lieferant → KSt 2010", channel="smtp")
    add(f"musterbau-RE-{year}-2106.pdf",
        facturx_pdf(cii_invoice(2, number=f"RE-{year}-2106", issue_date=day(11), customization=EN16931,
                                supplier="musterbau", order="BEST-2026-0815", leitweg_id="05315-FB66-46")),
        "musterbau", "per E-Mail, Factur-X-PDF, Bestellung BEST-2026-0815", channel="smtp")
    return made
