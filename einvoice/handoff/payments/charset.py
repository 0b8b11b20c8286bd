"""Texts in the SEPA character set (pure).

SEPA credit transfers must carry names and remittance information in the EPC basic Latin character
set: ``a-z A-Z 0-9 / - ? : ( ) . , ' +`` and space (EPC "SEPA Credit Transfer Rulebook", character
set section; banks may reject or garble anything else). `sepa_text` maps a text into it:

- German letters are transliterated as German banks do: ä→ae, ö→oe, ü→ue, Ä→Ae, Ö→Oe, Ü→Ue, ß→ss;
- other accented Latin letters lose their accent (é→e, ł→l via the Unicode decomposition and a
  small table for letters that have none);
- ``&`` becomes ``+``, typographic quotes ``'``, dashes ``-``, ``_`` ``-``, ``€`` ``EUR``;
- any other character becomes a space; runs of spaces collapse and the text is cut to its maximum
  length (names 70, remittance 140 characters) after transliteration.
"""

from __future__ import annotations

import re
import unicodedata

ALLOWED = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]*")
_GERMAN = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "ẞ": "SS"}
_NO_DECOMPOSITION = {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "æ": "ae", "Æ": "AE",
                     "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "Th", "ı": "i"}
_SIGNS = {"&": "+", "_": "-", "–": "-", "—": "-", "‐": "-", "‑": "-", "„": "'", "“": "'", "”": "'", "‚": "'",
          "‘": "'", "’": "'", "´": "'", "`": "'", '"': "'", "«": "'", "»": "'", "€": "EUR"}
_TABLE = str.maketrans({**_GERMAN, **_NO_DECOMPOSITION, **_SIGNS})
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
_SPACES = re.compile(r" {2,}")

NAME_MAX = 70
REMITTANCE_MAX = 140


def sepa_text(value: str | None, limit: int) -> str:
    """``value`` in the EPC basic character set, at most ``limit`` characters ('' for nothing)."""
    text = unicodedata.normalize("NFC", value or "").translate(_TABLE)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _NOT_ALLOWED.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return text[:limit].rstrip()


def is_sepa_text(value: str) -> bool:
    """True if every character of ``value`` is in the EPC basic character set."""
    return ALLOWED.fullmatch(value) is not None
