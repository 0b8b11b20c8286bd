"""The files of a booking batch: CSV shaped by a column mapping, and JSON with every field.

- `write_csv(records, mapping)`: one row per record (``rows = "record"``) or per record and VAT
  group (``rows = "vat"``), columns, headers, delimiter, decimal comma, date format, quoting, line end
  and encoding as the mapping says (`mapping.py`). A record with more VAT groups than the mapping has
  ``vatN_*`` slots, or a character the encoding cannot hold (with ``encoding_errors = "strict"``),
  raises `MappingError`: nothing is silently lost.
- `write_json(records, header)`: ``{"format": "einvoice-buchungen", "version": 1, <header: batch id,
  created, control total, totals …>, "records": [...]}``, UTF-8, one record per line; the records
  exactly as stored in ``export_records.record`` (amounts as strings, dates ISO 8601). The mapping
  does not apply to JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from .errors import MappingError
from .fields import AMOUNT, DATE, INT, RATE, RECORD_FIELDS, slot
from .mapping import Column, Mapping

FORMAT_NAME = "einvoice-buchungen"
JSON_VERSION = 1
CONTENT_TYPES = {"json": "application/json"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")

Getter = Callable[[dict, dict | None, list], Any]


def _decimal_text(value: Decimal, comma: bool) -> str:
    text = str(value)
    return text.replace(".", ",") if comma else text


def vat_summary(groups: list[dict[str, Any]], comma: bool = False) -> str:
    """``S 19.00 %: 100.00 + 19.00; S 7.00 %: 50.00 + 3.50`` (net + VAT per group)."""
    parts = []
    for group in groups:
        rate = _decimal_text(Decimal(group["rate"]), comma) + " %" if group.get("rate") is not None else "–"
        parts.append(f"{group.get('category') or '–'} {rate}: {_decimal_text(Decimal(group['net']), comma)} + "
                     f"{_decimal_text(Decimal(group['vat']), comma)}")
    return "; ".join(parts)


def _getter(field: str, comma: bool) -> Getter:
    if field in RECORD_FIELDS:
        return lambda record, group, groups: record.get(field)
    if field == "vat_summary":
        return lambda record, group, groups: vat_summary(groups, comma)
    found = slot(field)
    if found:
        index, key = found[0] - 1, found[1]
        return lambda record, group, groups: groups[index].get(key) if index < len(groups) else None
    key = field[len("vat_"):]
    return lambda record, group, groups: group.get(key) if group is not None else None


def _dates(pattern: str) -> Callable[[str], str]:
    """ISO date text → ``pattern`` (memoised: a batch has few distinct dates)."""
    if pattern == "%Y-%m-%d":
        return lambda value: value[:10]
    seen: dict[str, str] = {}

    def convert(value: str) -> str:
        if value not in seen:
            seen[value] = date.fromisoformat(value[:10]).strftime(pattern)
        return seen[value]

    return convert


def _format(column: Column, mapping: Mapping) -> Callable[[Any], str]:
    """The column's value (not None, not "") → its text. Record amounts and rates are already canonical
    decimal strings (``-1234.50``), so they are only re-punctuated."""
    fmt, comma, guard = column.format, mapping.decimal_comma, mapping.formula_guard
    if fmt in (AMOUNT, RATE):
        return (lambda v: str(v).replace(".", ",")) if comma else str
    if fmt == "unsigned":
        return (lambda v: str(v).lstrip("-").replace(".", ",")) if comma else (lambda v: str(v).lstrip("-"))
    if fmt == "cents":
        return lambda v: str(int(Decimal(v) * 100))
    if fmt == DATE:
        convert = _dates(column.date_format)
        return lambda v: convert(str(v))
    if fmt == INT:
        return lambda v: str(int(v))

    def text(value: Any) -> str:
        out = str(value)
        if "\n" in out or "\r" in out or "\t" in out or "  " in out:
            out = " ".join(out.split())
        if guard and out.startswith(_FORMULA):
            out = "'" + out
        return out

    return text


def _cell(column: Column, mapping: Mapping) -> Callable[[dict, dict | None, list], str]:
    """A function record, group, groups → the column's text."""
    if column.field is None:
        constant = column.value or ""
        return lambda record, group, groups: constant
    get, convert, limit = _getter(column.field, mapping.decimal_comma), _format(column, mapping), column.max_length

    def cell(record: dict, group: dict | None, groups: list) -> str:
        value = get(record, group, groups)
        if value is None or value == "":
            return ""
        text = convert(value)
        return text[:limit] if limit else text

    return cell


def write_csv(records: Iterable[dict[str, Any]], mapping: Mapping) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=mapping.delimiter, lineterminator=mapping.line_end,
                        quoting=csv.QUOTE_ALL if mapping.quoting == "all" else csv.QUOTE_MINIMAL)
    if mapping.header:
        writer.writerow([c.header for c in mapping.columns])
    cells = [_cell(c, mapping) for c in mapping.columns]
    slots = mapping.vat_slots
    for record in records:
        groups = record.get("vat_breakdown") or []
        if mapping.rows == "vat":
            writer.writerows([cell(record, group, groups) for cell in cells] for group in groups)
            continue
        if slots and len(groups) > slots:
            raise MappingError(
                f"Rechnung #{record.get('item_id')} ({record.get('invoice_number')}) hat {len(groups)} Steuersätze, "
                f"die Zuordnung {mapping.name} hat nur Spalten für {slots}: Zuordnung erweitern oder rows = \"vat\"")
        writer.writerow([cell(record, None, groups) for cell in cells])
    text = out.getvalue()
    try:
        return text.encode(mapping.encoding, mapping.encoding_errors)
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start:exc.end]
        line = exc.object.count("\n", 0, exc.start) + 1
        raise MappingError(f"Zeichen {bad!r} (Zeile {line}) ist in {mapping.encoding} nicht darstellbar: "
                           f"encoding_errors = \"replace\" in der Zuordnung {mapping.name} setzen oder UTF-8 "
                           "verwenden") from None


def write_json(records: Iterable[dict[str, Any]], header: dict[str, Any]) -> bytes:
    """The JSON file (see the module docstring): built line by line, so 10,000 records stay fast."""
    dump = lambda value: json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)  # noqa: E731
    head = {"format": FORMAT_NAME, "version": JSON_VERSION, **header}
    lines = [",\n".join(dump(record) for record in records)]
    body = dump(head)[:-1] + ',"records":[\n' + lines[0] + "\n]}\n"
    return body.encode("utf-8")


def render(fmt: str, records: list[dict[str, Any]], mapping: Mapping | None,
           header: dict[str, Any]) -> tuple[bytes, str]:
    """(file bytes, content type) of a batch in ``csv`` (needs the mapping) or ``json``."""
    if fmt == "json":
        return write_json(records, header), CONTENT_TYPES["json"]
    return write_csv(records, mapping), mapping.content_type
