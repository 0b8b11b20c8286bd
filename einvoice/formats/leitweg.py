"""Leitweg-ID (BT-10 of German public buyers): coarse[-fine]-check digits (shared/spec/leitweg-id.md).

``LeitwegId.parse(text)`` never raises: it returns the parts it could recognise, ``is_valid`` and,
when invalid, ``reason`` (German / English) and ``reason_code``. Input is normalised as the spec
recommends for intake: trimmed, inner whitespace removed, upper-cased (fine-part letters are
case-insensitive). The check uses python-stdnum's ``stdnum.de.leitweg`` (length, pattern, state
code, ISO 7064 MOD 97-10) but, stricter than python-stdnum, refuses an empty fine part
(``04011000--45``), as the spec demands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.de import leitweg as stdnum_leitweg
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidLength, ValidationError

STATES = {
    "01": "Schleswig-Holstein", "02": "Hamburg", "03": "Niedersachsen", "04": "Bremen",
    "05": "Nordrhein-Westfalen", "06": "Hessen", "07": "Rheinland-Pfalz", "08": "Baden-Württemberg",
    "09": "Bayern", "10": "Saarland", "11": "Berlin", "12": "Brandenburg", "13": "Mecklenburg-Vorpommern",
    "14": "Sachsen", "15": "Sachsen-Anhalt", "16": "Thüringen", "99": "Bund",
}
_PARTS = re.compile(r"^(?P<coarse>[0-9]{2,12})(?:-(?P<fine>[0-9A-Z]*))?-(?P<check>[0-9]{2})$")


def _digits(text: str) -> str:
    return "".join(c if c.isdigit() else str(ord(c) - ord("A") + 10) for c in text)


def expected_check_digits(coarse: str, fine: str = "") -> str:
    """The two MOD 97-10 check digits for coarse + fine (leitweg-id.md §2)."""
    return f"{98 - int(_digits(coarse + fine) + '00') % 97:02d}"


@dataclass(frozen=True)
class LeitwegId:
    raw: str
    normalized: str
    coarse: str | None = None
    fine: str | None = None
    check_digits: str | None = None
    is_valid: bool = False
    reason_code: str | None = None  # empty, length, format, empty-fine, state, check-digits
    reason: str | None = None

    @property
    def state_code(self) -> str | None:
        return self.coarse[:2] if self.coarse else None

    @property
    def state_name(self) -> str | None:
        return STATES.get(self.state_code or "")

    @property
    def expected_check_digits(self) -> str | None:
        if self.coarse is None or (self.fine is not None and not re.fullmatch(r"[0-9A-Z]{1,30}", self.fine)):
            return None
        return expected_check_digits(self.coarse, self.fine or "")

    @classmethod
    def parse(cls, text: str | None) -> LeitwegId:
        raw = text or ""
        normalized = re.sub(r"\s+", "", raw).upper()
        if not normalized:
            return cls(raw, normalized, reason_code="empty", reason="keine Leitweg-ID angegeben / no Leitweg-ID given")
        match = _PARTS.match(normalized)
        coarse = match.group("coarse") if match else None
        fine = match.group("fine") if match else None
        check = match.group("check") if match else None

        def invalid(code: str, reason: str) -> LeitwegId:
            return cls(raw, normalized, coarse, fine, check, False, code, reason)

        if fine == "":
            return invalid("empty-fine", "leere Feinadressierung zwischen zwei Bindestrichen / empty fine addressing "
                                         "part ('--')")
        try:
            stdnum_leitweg.validate(normalized)
        except InvalidLength:
            return invalid("length", f"Länge {len(normalized)} statt 5 bis 46 Zeichen / length {len(normalized)}, "
                                     "not 5 to 46 characters")
        except InvalidComponent:
            return invalid("state", f"unbekannte Kennzahl des Bundeslandes/Bundes {normalized[:2]!r} / unknown "
                                    "state or federal code")
        except InvalidChecksum:
            expected = expected_check_digits(coarse or "", fine or "")
            return invalid("check-digits", f"Prüfziffer {check} falsch, erwartet {expected} (ISO 7064 MOD 97-10) / "
                                           f"wrong check digits, expected {expected}")
        except ValidationError:
            return invalid("format", "keine Leitweg-ID: erwartet Grobadressierung (2-12 Ziffern), optional "
                                     "-Feinadressierung (1-30 Zeichen A-Z/0-9), dann -Prüfziffer (2 Ziffern) / not "
                                     "coarse[-fine]-check")
        if match is None or (fine is not None and len(fine) > 30):  # pragma: no cover - stdnum checked the shape
            return invalid("format", "keine Leitweg-ID / not a Leitweg-ID")
        return cls(raw, normalized, coarse, fine, check, True)

    def __str__(self) -> str:
        return self.normalized
