"""Column mappings: how booking records become the CSV file of one finance system.

A mapping is a TOML file ``rules/export/<name>.toml`` (``EINVOICE_RULES_DIR`` moves ``rules/``);
``generic.toml`` is the documented generic CSV and lists every field. Keys (defaults in brackets):

- ``title``, ``description``: for people;
- ``delimiter`` [``";"``], ``decimal_comma`` [false] (``1234,56`` instead of ``1234.56``; never a
  thousands separator), ``date_format`` [``"YYYY-MM-DD"``] (tokens ``YYYY YY MM DD``, or a strftime
  pattern with ``%``), ``encoding`` [``"utf-8"``] (any Python codec, e.g. ``cp1252``),
  ``encoding_errors`` [``"strict"``: a character the encoding lacks stops the export; ``"replace"``:
  it becomes ``?``], ``header`` [true] (first row = the column headers), ``quoting`` [``"minimal"``
  or ``"all"``], ``line_end`` [``"crlf"`` or ``"lf"``], ``formula_guard`` [true] (text starting with
  ``= + - @`` gets a leading ``'`` so that a spreadsheet does not run it as a formula),
  ``rows`` [``"record"``: one row per booking record; ``"vat"``: one row per record and VAT group];
- ``[[columns]]`` in file order, each with ``header`` and either ``field`` (a name of
  `fields.RECORD_FIELDS`, a derived field or VAT slot, see `fields`) or ``value`` (a constant), and
  optionally ``format`` (``amount`` signed with two decimals, ``unsigned`` its absolute value,
  ``cents`` integer cents, ``date``, ``rate``, ``int``, ``text``; default: the field's kind),
  ``date_format`` and ``max_length`` (longer text is cut).

`load_mapping(name)` reads and checks a file (`MappingError` names the file and column, in German);
`parse_mapping(text, name)` does the same for a string.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...paths import rules_dir
from .errors import MappingError
from .fields import AMOUNT, DATE, INT, RATE, ROW_FIELDS, TEXT, field_kind, slot

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
FORMATS = {AMOUNT: {AMOUNT, "unsigned", "cents", TEXT}, DATE: {DATE, TEXT}, INT: {INT, TEXT}, RATE: {RATE, TEXT},
           TEXT: {TEXT}}
KEYS = {"title", "description", "delimiter", "decimal_comma", "date_format", "encoding", "encoding_errors", "header",
        "quoting", "line_end", "formula_guard", "rows", "columns"}
COLUMN_KEYS = {"header", "field", "value", "format", "date_format", "max_length"}


@dataclass(frozen=True)
class Column:
    header: str
    field: str | None  # None: a constant ``value``
    value: str | None
    format: str
    date_format: str  # strftime pattern
    max_length: int | None = None


@dataclass(frozen=True)
class Mapping:
    name: str
    title: str
    columns: tuple[Column, ...]
    delimiter: str = ";"
    decimal_comma: bool = False
    encoding: str = "utf-8"
    encoding_errors: str = "strict"
    header: bool = True
    quoting: str = "minimal"
    line_end: str = "\r\n"
    formula_guard: bool = True
    rows: str = "record"
    sha256: str = ""  # of the mapping file as read (recorded with each batch)

    @property
    def vat_slots(self) -> int:
        """How many VAT groups a row can hold (``vatN_*`` columns; rows = "record")."""
        return max((found[0] for c in self.columns if c.field and (found := slot(c.field))), default=0)

    @property
    def content_type(self) -> str:
        return f"text/csv; charset={self.encoding}"


def strftime_pattern(value: str) -> str:
    """``DD.MM.YYYY`` → ``%d.%m.%Y``; a pattern with ``%`` is taken as it is."""
    if "%" in value:
        return value
    return value.replace("YYYY", "%Y").replace("YY", "%y").replace("MM", "%m").replace("DD", "%d")


def mapping_path(name: str) -> Path:
    if not NAME.match(name or ""):
        raise MappingError(f"Ungültiger Name der Zuordnung {name!r} (erlaubt: a–z, 0–9, - und _)")
    return rules_dir() / "export" / f"{name}.toml"


def available_mappings() -> list[str]:
    folder = rules_dir() / "export"
    return sorted(p.stem for p in folder.glob("*.toml") if NAME.match(p.stem)) if folder.is_dir() else []


def load_mapping(name: str) -> Mapping:
    path = mapping_path(name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        known = ", ".join(available_mappings()) or "keine"
        raise MappingError(f"Zuordnung {name!r} nicht gefunden ({path}); vorhanden: {known}") from None
    return parse_mapping(data.decode("utf-8"), name, sha256=hashlib.sha256(data).hexdigest())


def _choice(raw: dict, key: str, options: tuple[str, ...], where: str) -> str:
    value = raw.get(key, options[0])
    if value not in options:
        raise MappingError(f"{where}: {key} muss {' oder '.join(map(repr, options))} sein, nicht {value!r}")
    return value


def _column(raw: Any, index: int, where: str, date_format: str, rows: str) -> Column:
    at = f"{where}, Spalte {index}"
    if not isinstance(raw, dict):
        raise MappingError(f"{at}: [[columns]]-Eintrag erwartet")
    unknown = set(raw) - COLUMN_KEYS
    if unknown:
        raise MappingError(f"{at}: unbekannte Angabe {', '.join(sorted(unknown))}")
    header = raw.get("header")
    if not isinstance(header, str) or not header.strip():
        raise MappingError(f"{at}: header fehlt")
    field, value = raw.get("field"), raw.get("value")
    if (field is None) == (value is None):
        raise MappingError(f"{at} ({header}): genau eines von field oder value angeben")
    if value is not None:
        return Column(header, None, str(value), TEXT, date_format, raw.get("max_length"))
    kind = field_kind(field) if isinstance(field, str) else None
    if kind is None:
        raise MappingError(f"{at} ({header}): unbekanntes Feld {field!r}")
    if field in ROW_FIELDS and rows != "vat":
        raise MappingError(f"{at} ({header}): {field} gibt es nur mit rows = \"vat\" (eine Zeile je Steuersatz)")
    if slot(field) and rows == "vat":
        raise MappingError(f"{at} ({header}): {field} gibt es nur mit rows = \"record\"; hier vat_… verwenden")
    fmt = raw.get("format", kind)
    if fmt not in FORMATS[kind]:
        raise MappingError(f"{at} ({header}): Format {fmt!r} passt nicht zu {field} "
                           f"(möglich: {', '.join(sorted(FORMATS[kind]))})")
    length = raw.get("max_length")
    if length is not None and (not isinstance(length, int) or isinstance(length, bool) or length < 1):
        raise MappingError(f"{at} ({header}): max_length muss eine positive ganze Zahl sein")
    return Column(header, field, None, fmt, strftime_pattern(str(raw.get("date_format") or date_format)), length)


def parse_mapping(text: str, name: str, *, sha256: str | None = None) -> Mapping:
    where = f"Zuordnung {name}"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{where}: kein gültiges TOML ({exc})") from None
    unknown = set(raw) - KEYS
    if unknown:
        raise MappingError(f"{where}: unbekannte Angabe {', '.join(sorted(unknown))}")
    delimiter = raw.get("delimiter", ";")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"":
        raise MappingError(f"{where}: delimiter muss genau ein Zeichen sein (nicht Anführungszeichen oder Zeilenende)")
    encoding = raw.get("encoding", "utf-8")
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise MappingError(f"{where}: unbekannte Zeichenkodierung {encoding!r}") from None
    rows = _choice(raw, "rows", ("record", "vat"), where)
    date_format = strftime_pattern(str(raw.get("date_format", "YYYY-MM-DD")))
    columns = raw.get("columns")
    if not isinstance(columns, list) or not columns:
        raise MappingError(f"{where}: mindestens eine [[columns]]-Spalte angeben")
    for key in ("decimal_comma", "header", "formula_guard"):
        if not isinstance(raw.get(key, True), bool):
            raise MappingError(f"{where}: {key} muss true oder false sein")
    return Mapping(
        name=name, title=str(raw.get("title") or name),
        columns=tuple(_column(c, i, where, date_format, rows) for i, c in enumerate(columns, start=1)),
        delimiter=delimiter, decimal_comma=raw.get("decimal_comma", False), encoding=encoding,
        encoding_errors=_choice(raw, "encoding_errors", ("strict", "replace"), where),
        header=raw.get("header", True), quoting=_choice(raw, "quoting", ("minimal", "all"), where),
        line_end={"crlf": "\r\n", "lf": "\n"}[_choice(raw, "line_end", ("crlf", "lf"), where)],
        formula_guard=raw.get("formula_guard", True), rows=rows,
        sha256=sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest())
