"""What the workflow takes from the stored invoice model (`ParsedInvoice.model`, the dict of
`einvoice.formats.export.to_dict`): gross amount, payee, IBAN, and the arithmetic pre-check.

The arithmetic pre-check of "rechnerisch richtig" runs `einvoice.formats.arithmetic.check_arithmetic`
on the `Invoice` rebuilt from the stored model's ``"invoice"`` part (`invoice_from_model`), not on a
re-read of the original blob: the model is in the database already (no blob store and no XML
parsing needed inside the routing transaction) and holds every amount the check uses. The one
difference to the HTML view's `check_result`: VAT totals stated twice in the XML (BR-CO-15 in a
second currency) are not in the model, so the model's single BT-110 is checked — the validation
verdict has judged the XML itself already.
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass, fields, is_dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Union, get_args, get_origin, get_type_hints

from ...formats import model as m
from ...formats.arithmetic import check_arithmetic

CENT = Decimal("0.01")


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(tp) if arg is not type(None)]
        return _convert(options[0], value)
    if origin is list:
        return [_convert(get_args(tp)[0], item) for item in value]
    if tp is m.Amount:
        return m.Amount(Decimal(value["value"]), value.get("currency"))
    if tp is m.Quantity:
        return m.Quantity(Decimal(value["value"]), value.get("unit"))
    if tp is m.Identifier:
        return m.Identifier(value["value"], value.get("scheme"))
    if tp is m.BinaryObject:  # the model keeps size and hash, not the bytes
        return m.BinaryObject(b"", value.get("mime_code"), value.get("filename"))
    if tp is Decimal:
        return Decimal(str(value))
    if tp is date:
        return date.fromisoformat(value)
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise TypeError(f"{tp.__name__}: object expected, not {value!r}")
        return _build(tp, value)
    return value


@functools.cache
def _hints(cls: type) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Type hints and field names of a model class, resolved once (get_type_hints per object made a
    20,000-line invoice take 15 s to route)."""
    return get_type_hints(cls, vars(m)), tuple(f.name for f in fields(cls))


def _build(cls: type, data: dict) -> Any:
    hints, names = _hints(cls)
    return cls(**{name: _convert(hints[name], data[name]) for name in names if name in data})


def invoice_from_model(model: dict) -> m.Invoice:
    """The `Invoice` of a stored model dict (attachment bytes excepted)."""
    return _build(m.Invoice, model.get("invoice") or {})


def arithmetic_precheck(model: dict) -> dict:
    """``{"ok": bool, "failed": [{"rule", "title", "location", "expected", "actual", "severity"}], "error"}``:
    ``ok`` is the check's verdict (no error-level mismatch); ``error`` names a model it could not read."""
    try:
        invoice = invoice_from_model(model)
        result = check_arithmetic(invoice)
    except Exception as exc:  # a model the check cannot read: a person must confirm
        return {"ok": False, "failed": [], "error": f"{type(exc).__name__}: {exc}"}
    if invoice.amount_due is None or not invoice.lines:
        return {"ok": False, "failed": [], "error": "Rechnungsbetrag (BT-115) oder Positionen fehlen"}
    failed = [{key: c.to_dict()[key] for key in ("rule", "title", "location", "expected", "actual", "severity")}
              for c in result.failed]
    return {"ok": result.ok, "failed": failed, "error": None}


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def normalize_iban(value: str | None) -> str | None:
    text = "".join(str(value or "").split()).upper()
    return text or None


@dataclass(frozen=True)
class InvoiceFacts:
    gross: Decimal  # BT-115 × sign: > 0 the municipality pays, < 0 the supplier owes (credit note)
    currency: str | None
    payee_name: str | None  # BT-59, else the seller BT-27
    iban: str | None  # the first BT-84, normalised
    invoice_number: str | None


def invoice_facts(model: dict) -> InvoiceFacts:
    terms = model.get("terms") or {}
    sign = int((model.get("direction") or {}).get("sign") or 1)
    gross = (Decimal(str(_first(terms.get("BT-115")) or "0")) * sign).quantize(CENT)
    return InvoiceFacts(gross=gross, currency=_first(terms.get("BT-5")),
                        payee_name=_first(terms.get("BT-59")) or _first(terms.get("BT-27")),
                        iban=normalize_iban(_first(terms.get("BT-84"))), invoice_number=_first(terms.get("BT-1")))


def euro(amount: Decimal | None, currency: str | None = "EUR") -> str:
    """German notation: ``30.000,00 EUR``."""
    if amount is None:
        return "–"
    text = f"{amount.quantize(CENT):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{text} {currency or 'EUR'}"
