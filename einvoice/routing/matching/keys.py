"""The match keys of one invoice, read from its stored model (`einvoice.formats.export.to_dict`).

Pure: no database, no clock. `extract_keys(model)` reads the flat ``terms`` (BT id → value) and,
for the lines, the structured ``invoice.lines`` (so that a line's BT-133 stays with its own BT-126
and BT-131 even where other lines have none; the flat lists are used only when the structured
lines are absent and the lists line up).

Normalisation (the same is applied to master data in `context.py`, so lookups compare like with
like): identifiers and references (Leitweg-ID, order, contract, accounting references, VAT id,
tax number, IBAN) are trimmed, inner whitespace removed and upper-cased (`norm_ref`); names are
trimmed, runs of whitespace collapsed to one space and case-folded (`norm_name`). The display
forms in explanations are the normalised references and the name as sent (whitespace collapsed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

_SPACE = re.compile(r"\s+")


def norm_ref(value: Any) -> str | None:
    """Trimmed, without inner whitespace, upper case; None for nothing."""
    if value is None:
        return None
    text = _SPACE.sub("", str(value)).upper()
    return text or None


def clean_name(value: Any) -> str | None:
    """Trimmed, runs of whitespace collapsed (the display form of a name)."""
    if value is None:
        return None
    text = _SPACE.sub(" ", str(value)).strip()
    return text or None


def norm_name(value: Any) -> str | None:
    """`clean_name`, case-folded: the comparison form of a name."""
    text = clean_name(value)
    return text.casefold() if text else None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, dict):
        value = value.get("value")
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _first(value: Any) -> Any:
    """A scalar term; a list (unexpected for a 0..1 term) gives its first non-empty value."""
    if isinstance(value, list):
        return next((v for v in value if v not in (None, "")), None)
    return value


def _many(value: Any) -> list[Any]:
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if v not in (None, "")]


@dataclass(frozen=True)
class LineKeys:
    line_id: str | None  # BT-126
    accounting_reference: str | None  # BT-133, normalised
    net_amount: Decimal | None  # BT-131


@dataclass(frozen=True)
class InvoiceKeys:
    leitweg_id: str | None = None  # BT-10
    order_reference: str | None = None  # BT-13
    contract_reference: str | None = None  # BT-12
    buyer_accounting_reference: str | None = None  # BT-19
    lines: tuple[LineKeys, ...] = ()
    seller_vat_id: str | None = None  # BT-31
    seller_tax_number: str | None = None  # BT-32
    ibans: tuple[str, ...] = ()  # BT-84, every payment account
    seller_name: str | None = None  # BT-27 as sent (whitespace collapsed)
    amount_due: Decimal | None = None  # BT-115
    currency: str | None = None  # BT-5
    issue_date: date | None = None  # BT-2 (validity of contracts)
    invoice_number: str | None = None  # BT-1 (messages only)

    @property
    def seller_name_key(self) -> str | None:
        return norm_name(self.seller_name)

    def has_line_references(self) -> bool:
        return any(line.accounting_reference for line in self.lines)


def _structured_lines(invoice: dict[str, Any]) -> tuple[LineKeys, ...] | None:
    lines = invoice.get("lines") if isinstance(invoice, dict) else None
    if not isinstance(lines, list):
        return None
    return tuple(LineKeys(line_id=clean_name(line.get("id")), accounting_reference=norm_ref(line.get("accounting_reference")),
                          net_amount=_decimal(line.get("net_amount")))
                 for line in lines if isinstance(line, dict))


def _flat_lines(terms: dict[str, Any]) -> tuple[LineKeys, ...]:
    ids = terms.get("BT-126") or []
    ids = ids if isinstance(ids, list) else [ids]
    amounts = terms.get("BT-131") or []
    amounts = amounts if isinstance(amounts, list) else [amounts]
    references = terms.get("BT-133") or []
    references = references if isinstance(references, list) else [references]
    if references and len(references) != len(ids):
        references = []  # cannot tell which line a reference belongs to: leave them to a person
    result = []
    for index, line_id in enumerate(ids):
        result.append(LineKeys(line_id=clean_name(line_id),
                               accounting_reference=norm_ref(references[index]) if references else None,
                               net_amount=_decimal(amounts[index]) if index < len(amounts) else None))
    return tuple(result)


def extract_keys(model: dict[str, Any]) -> InvoiceKeys:
    """The match keys of a ParsedInvoice model dict (missing keys give None / empty)."""
    terms = model.get("terms") or {}
    lines = _structured_lines(model.get("invoice") or {})
    if lines is None:
        lines = _flat_lines(terms)
    ibans: list[str] = []
    for value in _many(terms.get("BT-84")):
        iban = norm_ref(value)
        if iban and iban not in ibans:
            ibans.append(iban)
    return InvoiceKeys(
        leitweg_id=norm_ref(_first(terms.get("BT-10"))),
        order_reference=norm_ref(_first(terms.get("BT-13"))),
        contract_reference=norm_ref(_first(terms.get("BT-12"))),
        buyer_accounting_reference=norm_ref(_first(terms.get("BT-19"))),
        lines=lines,
        seller_vat_id=norm_ref(_first(terms.get("BT-31"))),
        seller_tax_number=norm_ref(_first(terms.get("BT-32"))),
        ibans=tuple(ibans),
        seller_name=clean_name(_first(terms.get("BT-27"))),
        amount_due=_decimal(_first(terms.get("BT-115"))),
        currency=norm_ref(_first(terms.get("BT-5"))),
        issue_date=_date(_first(terms.get("BT-2"))),
        invoice_number=clean_name(_first(terms.get("BT-1"))),
    )
