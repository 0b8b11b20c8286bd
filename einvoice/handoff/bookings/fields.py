"""The fields of a booking record: name, kind and German meaning (the catalogue a mapping picks from).

A booking record (`records.build_records`) is a JSON-ready dict with the `RECORD_FIELDS` keys (amounts
as strings with two decimals, signed: credit notes negative; dates ISO ``YYYY-MM-DD``) and
``vat_breakdown``, a list of VAT groups with the `VAT_KEYS`. A column mapping
(``rules/export/*.toml``, `mapping.py`) names fields of this catalogue; besides the stored ones it
may use derived fields (`derived_kind`):

- ``vat_summary``: the VAT groups as one text, e.g. ``S 19.00: 100.00 + 19.00; S 7.00: 50.00 + 3.50``;
- slots ``vat1_rate``, ``vat1_category``, ``vat1_net``, ``vat1_vat``, ``vat1_gross``, ``vat1_payable``,
  ``vat1_skonto``, ``vat1_exemption_reason``, ``vat2_…``: the n-th VAT group of the record (highest rate first) when a
  mapping writes one row per record (``rows = "record"``); a record with more groups than the
  mapping has slots is refused, never cut;
- with ``rows = "vat"`` (one row per record and VAT group): ``vat_category``, ``vat_rate``,
  ``vat_net``, ``vat_vat``, ``vat_gross``, ``vat_payable``, ``vat_skonto``, ``vat_exemption_reason``
  of that row's group.
"""

from __future__ import annotations

import re

TEXT, INT, AMOUNT, DATE, RATE = "text", "int", "amount", "date", "rate"

RECORD_FIELDS: dict[str, tuple[str, str]] = {
    "batch_id": (INT, "Nummer des Buchungsstapels"),
    "item_id": (INT, "Eingangsnummer der Rechnung in einvoice"),
    "item_uid": (TEXT, "eindeutige Kennung des Eingangs (UUID)"),
    "split_index": (INT, "Nummer der Aufteilung (0, 1, …) bei mehreren Kostenstellen"),
    "split_count": (INT, "Anzahl der Buchungssätze dieser Rechnung"),
    "document_type": (TEXT, "Rechnung oder Gutschrift"),
    "type_code": (TEXT, "Rechnungsart BT-3 (380 Rechnung, 381 Gutschrift …)"),
    "sign": (INT, "Vorzeichen: 1 Rechnung, -1 Gutschrift"),
    "invoice_number": (TEXT, "Rechnungsnummer BT-1"),
    "invoice_date": (DATE, "Rechnungsdatum BT-2"),
    "receipt_date": (DATE, "Eingangsdatum (Europe/Berlin)"),
    "currency": (TEXT, "Währung BT-5"),
    "creditor_number": (TEXT, "Kreditorennummer aus den Stammdaten"),
    "supplier_name": (TEXT, "Lieferant (Stammdaten, sonst BT-27)"),
    "supplier_vat_id": (TEXT, "USt-IdNr. des Lieferanten BT-31"),
    "payee_name": (TEXT, "Zahlungsempfänger, mit der Anordnung festgeschrieben"),
    "iban": (TEXT, "IBAN des Zahlungsempfängers, mit der Anordnung festgeschrieben"),
    "bic": (TEXT, "BIC (BT-86 zur IBAN, sonst Stammdaten)"),
    "payment_reference": (TEXT, "Verwendungszweck BT-83, sonst die Rechnungsnummer"),
    "leitweg_id": (TEXT, "Leitweg-ID BT-10"),
    "order_number": (TEXT, "Bestellnummer BT-13"),
    "contract_number": (TEXT, "Vertragsnummer BT-12"),
    "unit": (TEXT, "Organisationseinheit (Fachbereich/Amt)"),
    "cost_centre": (TEXT, "Kostenstelle"),
    "cost_centre_name": (TEXT, "Bezeichnung der Kostenstelle"),
    "account": (TEXT, "Sachkonto"),
    "budget_product": (TEXT, "Produkt (Haushalt)"),
    "net": (AMOUNT, "Nettobetrag dieses Buchungssatzes (Anteil an BT-109)"),
    "vat": (AMOUNT, "Umsatzsteuer dieses Buchungssatzes (Anteil an BT-110)"),
    "gross": (AMOUNT, "Bruttobetrag = netto + Umsatzsteuer (Anteil an BT-112)"),
    "amount_due": (AMOUNT, "fälliger Betrag laut Rechnung (Anteil an BT-115)"),
    "payable": (AMOUNT, "zu buchender Betrag: angeordneter Zahlbetrag (nach Teilannahme), Anteil"),
    "payable_reason": (TEXT, "Begründung einer Teilannahme (Kürzung)"),
    "due_date": (DATE, "Fälligkeit (BT-9 bzw. Zahlungsziel)"),
    "legal_due_date": (DATE, "gesetzliche Zahlungsfrist (Eingang + 30 Tage)"),
    "skonto_date": (DATE, "Skontofrist (bester erreichbarer Skontosatz)"),
    "skonto_amount": (AMOUNT, "Skontobetrag (Anteil)"),
    "skonto_percent": (RATE, "Skontosatz in Prozent"),
    "skonto_status": (TEXT, "Skonto: none, open, captured, lost, manual"),
    "ordered_by": (TEXT, "Anordnung durch"),
    "ordered_on": (DATE, "Datum der Anordnung"),
}

VAT_KEYS: dict[str, tuple[str, str]] = {
    "category": (TEXT, "USt-Kategorie BT-118 (S, Z, E, AE, K, G, O, L, M)"),
    "rate": (RATE, "USt-Satz BT-119 in Prozent"),
    "net": (AMOUNT, "Nettobetrag der Steuergruppe (Anteil an BT-116)"),
    "vat": (AMOUNT, "Umsatzsteuer der Steuergruppe (Anteil an BT-117)"),
    "gross": (AMOUNT, "netto + Umsatzsteuer der Steuergruppe"),
    "payable": (AMOUNT, "Anteil der Steuergruppe am zu buchenden Betrag"),
    "skonto": (AMOUNT, "Anteil der Steuergruppe am Skontobetrag (Entgeltminderung je Steuersatz)"),
    "exemption_reason": (TEXT, "Befreiungsgrund BT-120/BT-121"),
}

DERIVED: dict[str, tuple[str, str]] = {
    "vat_summary": (TEXT, "alle Steuergruppen als Text"),
    **{f"vat_{key}": (kind, text) for key, (kind, text) in VAT_KEYS.items()},
}

_SLOT = re.compile(r"^vat([1-9][0-9]?)_(" + "|".join(VAT_KEYS) + r")$")
ROW_FIELDS = frozenset(f"vat_{key}" for key in VAT_KEYS)  # only with rows = "vat"


def slot(name: str) -> tuple[int, str] | None:
    """``vat2_net`` → (2, "net"); None for anything else."""
    match = _SLOT.match(name)
    return (int(match.group(1)), match.group(2)) if match else None


def field_kind(name: str) -> str | None:
    """The kind of a stored, derived or slot field; None for an unknown name."""
    if name in RECORD_FIELDS:
        return RECORD_FIELDS[name][0]
    if name in DERIVED:
        return DERIVED[name][0]
    found = slot(name)
    return VAT_KEYS[found[1]][0] if found else None
