"""Parse, check and normalise the values of master data cells (CSV or JSON), and format them back.

Every ``parse_*`` takes a stripped, non-empty cell and returns the normalised value or raises
`ValueError` with a German message for the person who maintains the file. Formats:

- amounts: ``1234.56``, ``1234,56``, German ``1.234,56`` and English ``1,234.56`` (thousands groups
  of three are checked); at most two decimals and never negative (money is never rounded
  silently); a lone separator followed by three digits (``1.234``) is refused as ambiguous.
- dates: ISO ``YYYY-MM-DD`` and German ``DD.MM.YYYY`` (``D.M.YYYY`` too).
- booleans: ``ja``/``nein``, ``true``/``false``, ``1``/``0`` (also ``j``/``n``, ``wahr``/``falsch``,
  ``yes``/``no``, ``x`` for yes), any case; exported as ``ja``/``nein``.
- IBAN and VAT id: upper case without spaces, checked with python-stdnum (``stdnum.iban``,
  ``stdnum.eu.vat``); BIC with ``stdnum.bic``; Leitweg-ID with `einvoice.formats.leitweg`.

``format_*`` give the canonical export text; re-importing it gives the same value.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

import holidays
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.eu import vat as stdnum_vat
from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError

from ...formats.leitweg import LeitwegId

TRUE_WORDS = {"ja", "j", "true", "wahr", "1", "yes", "y", "x"}
FALSE_WORDS = {"nein", "n", "false", "falsch", "0", "no"}
BUNDESLAENDER = tuple(code for code in holidays.Germany.subdivisions if len(code) == 2)
LIST_SEPARATOR = "|"
MAX_AMOUNT = Decimal(10) ** 16  # NUMERIC(18, 2)

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_GERMAN_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PLAIN_NUMBER = re.compile(r"^\d+(?:[.,]\d{1,2})?$")
_GROUPED = {",": re.compile(r"^\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?$"),  # 1.234.567,89
            ".": re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?$")}  # 1,234,567.89


def text(max_length: int, *, no_spaces: bool = False, forbid: str = ""):
    """A parser for free text (inner whitespace collapsed) or, with ``no_spaces``, a code/key."""

    def parse(value: str) -> str:
        value = " ".join(value.split())
        if no_spaces and " " in value:
            raise ValueError("darf keine Leerzeichen enthalten")
        for char in forbid:
            if char in value:
                raise ValueError(f"darf kein {char!r} enthalten")
        if len(value) > max_length:
            raise ValueError(f"zu lang: {len(value)} Zeichen, höchstens {max_length}")
        return value

    return parse


def parse_amount(value: str) -> Decimal:
    compact = value.replace(" ", "").replace("\u00a0", "").replace("'", "")
    if compact.startswith("-"):
        raise ValueError("Betrag darf nicht negativ sein")
    if re.fullmatch(r"\d{1,3}[.,]\d{3}", compact):
        raise ValueError("mehrdeutiger Betrag: Tausendertrennzeichen oder mehr als zwei Nachkommastellen? "
                         "Bitte z. B. 1234 oder 1.234,00 schreiben")
    if _PLAIN_NUMBER.match(compact):
        number = compact.replace(",", ".")
    elif _GROUPED[","].match(compact):
        number = compact.replace(".", "").replace(",", ".")
    elif _GROUPED["."].match(compact):
        number = compact.replace(",", "")
    elif re.fullmatch(r"\d+[.,]\d{3,}", compact):
        raise ValueError("mehr als zwei Nachkommastellen")
    else:
        raise ValueError("kein Betrag: erwartet z. B. 1234.56 oder 1.234,56")
    try:
        amount = Decimal(number).quantize(Decimal("0.01"))
    except InvalidOperation as exc:  # pragma: no cover - the patterns allow only numbers
        raise ValueError("kein Betrag") from exc
    if amount >= MAX_AMOUNT:
        raise ValueError("Betrag zu groß")
    return amount


def format_amount(value: Decimal | None, *, decimal_comma: bool = False) -> str:
    if value is None:
        return ""
    text_value = f"{Decimal(value).quantize(Decimal('0.01'))}"
    return text_value.replace(".", ",") if decimal_comma else text_value


def parse_date(value: str) -> date:
    iso, german = _ISO_DATE.match(value), _GERMAN_DATE.match(value)
    try:
        if iso:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        if german:
            return date(int(german.group(3)), int(german.group(2)), int(german.group(1)))
    except ValueError as exc:
        raise ValueError("diesen Tag gibt es nicht") from exc
    raise ValueError("kein Datum: erwartet JJJJ-MM-TT oder TT.MM.JJJJ")


def format_date(value: date | None) -> str:
    return value.isoformat() if value else ""


def parse_bool(value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("kein Ja/Nein-Wert: erwartet ja/nein, true/false oder 1/0")


def format_bool(value: bool | None) -> str:
    return "" if value is None else ("ja" if value else "nein")


def parse_list(value: str) -> list[str]:
    """``a|b|c`` → ``["a", "b", "c"]`` (blanks dropped, duplicates once, order kept)."""
    items: list[str] = []
    for part in value.split(LIST_SEPARATOR):
        part = part.strip()
        if part and part not in items:
            items.append(part)
    return items


def format_list(values: list[str] | None) -> str:
    return LIST_SEPARATOR.join(values or [])


def parse_roles(value: str) -> list[str]:
    from ...store.masterdata_models import ROLES

    roles = [role.lower() for role in parse_list(value)]
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ValueError(f"unbekannte Rolle {', '.join(map(repr, unknown))}; erlaubt: {', '.join(ROLES)}")
    return [role for role in ROLES if role in roles]  # canonical order


def parse_iban(value: str) -> str:
    number = stdnum_iban.compact(value)
    try:
        stdnum_iban.validate(number)
    except InvalidChecksum:
        if _iban_shape_ok(number):
            raise ValueError("IBAN-Prüfziffer falsch (Tippfehler?)") from None
        raise ValueError(f"keine gültige IBAN: Länge ({len(number)} Zeichen) oder Aufbau passt nicht zum "
                         f"Land {number[:2]!r}") from None
    except ValidationError:
        raise ValueError(f"keine gültige IBAN: Länge ({len(number)} Zeichen) oder Aufbau passt nicht zum "
                         f"Land {number[:2]!r}") from None
    return number


def _iban_shape_ok(number: str) -> bool:
    """Whether the IBAN would be valid with correct check digits (so only they are wrong)."""
    try:
        fixed = number[:2] + stdnum_iban.calc_check_digits(number) + number[4:]
        stdnum_iban.validate(fixed)
    except (ValidationError, ValueError, KeyError):
        return False
    return True


def parse_bic(value: str) -> str:
    number = stdnum_bic.compact(value)
    try:
        stdnum_bic.validate(number)
    except ValidationError as exc:
        raise ValueError("keine gültige BIC (8 oder 11 Zeichen: Bank, Land, Ort[, Filiale])") from exc
    return number


def parse_vat_id(value: str) -> str:
    try:
        number = stdnum_vat.compact(value)
        stdnum_vat.validate(number)
    except InvalidChecksum as exc:
        raise ValueError("Prüfziffer der USt-IdNr. falsch (Tippfehler?)") from exc
    except InvalidComponent as exc:
        raise ValueError("keine USt-IdNr. eines EU-Staats (Ländercode fehlt oder ist unbekannt)") from exc
    except ValidationError as exc:
        raise ValueError("keine gültige USt-IdNr. (Länge oder Aufbau falsch)") from exc
    return number


def parse_leitweg_id(value: str) -> str:
    parsed = LeitwegId.parse(value)
    if not parsed.is_valid:
        raise ValueError(f"keine gültige Leitweg-ID: {(parsed.reason or '').split(' / ')[0]}")
    return parsed.normalized


def parse_email(value: str) -> str:
    if not _EMAIL.match(value) or len(value) > 320:
        raise ValueError("keine E-Mail-Adresse")
    return value


def parse_bundesland(value: str) -> str:
    code = value.strip().upper()
    if code not in BUNDESLAENDER:
        raise ValueError(f"unbekanntes Bundesland; erlaubt: {', '.join(BUNDESLAENDER)}")
    return code
