"""Walk the model as business terms: (BT id, value, path) for labels, the flat ``terms`` export and UIs.

The id of a field comes from its metadata (see model.py): ``bt`` directly, or ``roles`` resolved
with the enclosing group (an `Address` under ``BG-5`` yields BT-35…BT-40). An `Identifier` also
yields its scheme as ``<id>-1``, a `Quantity` its unit under the field's ``unit`` id (BT-130,
BT-150). Sub-lines of the XRechnung extension are prefixed ``BG-DEX-01:`` so that they never mix
with the invoice lines' BT-126…BT-161.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, is_dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Iterator

from .model import Amount, Identifier, Invoice, Quantity

_LEAVES = (str, Decimal, date, int, bool, bytes, Amount, Quantity, Identifier)


@dataclass(frozen=True)
class Term:
    bt: str
    value: Any  # the model value (str, Decimal, date, Amount, Quantity, Identifier, bytes)
    path: str  # e.g. "lines[2].item.name"
    repeating: bool  # inside a repeating group: several values per document possible


def walk_terms(obj: Any, group: str | None = None, path: str = "", repeating: bool = False,
               prefix: str = "") -> Iterator[Term]:
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value is None or (isinstance(value, list) and not value):
            continue
        bt = f.metadata.get("bt") or f.metadata.get("roles", {}).get(group or "")
        here = f"{path}.{f.name}" if path else f.name
        child_prefix = prefix + "BG-DEX-01:" if bt == "BG-DEX-01" and not prefix else prefix
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            item_path = f"{here}[{index}]" if index is not None else here
            item_repeating = repeating or index is not None
            if isinstance(item, _LEAVES):
                if bt:
                    yield from _leaf(prefix, bt, item, item_path, item_repeating, f.metadata.get("unit"))
            elif is_dataclass(item):
                yield from walk_terms(item, bt or group, item_path, item_repeating, child_prefix)


def _leaf(prefix: str, bt: str, value: Any, path: str, repeating: bool, unit: str | None) -> Iterator[Term]:
    yield Term(prefix + bt, value, path, repeating)
    # parts keep their place in repeating groups (None where absent) so lists stay aligned
    if isinstance(value, Identifier) and (value.scheme is not None or repeating):
        yield Term(f"{prefix}{bt}-1", value.scheme, f"{path}.scheme", repeating)
    if isinstance(value, Quantity) and unit and (value.unit is not None or repeating):
        yield Term(prefix + unit, value.unit, f"{path}.unit", repeating)


def plain(value: Any) -> Any:
    """A model leaf as a JSON value: amounts and decimals as decimal strings, dates ISO."""
    if isinstance(value, (Amount, Quantity)):
        return str(value.value)
    if isinstance(value, Identifier):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return {"size": len(value), "sha256": hashlib.sha256(value).hexdigest()}
    return value


def flat_terms(invoice: Invoice) -> dict[str, Any]:
    """``{"BT-1": "123", "BT-126": ["1", "2"], ...}``: repeating terms as lists in document order."""
    values: dict[str, list] = {}
    repeating: set[str] = set()
    for term in walk_terms(invoice):
        values.setdefault(term.bt, []).append(plain(term.value))
        if term.repeating:
            repeating.add(term.bt)
    result = {}
    for bt, items in values.items():
        if all(item is None for item in items):
            continue
        result[bt] = items if bt in repeating else items[0]
    return result
