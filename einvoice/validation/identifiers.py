"""Specification identifiers (BT-24): which standard, profile and version a document claims."""

from __future__ import annotations

import re
from dataclasses import dataclass

EN16931 = "urn:cen.eu:en16931:2017"
XRECHNUNG_PREFIX = EN16931 + "#compliant#urn:xeinkauf.de:kosit:xrechnung_"
PEPPOL_BIS_3 = EN16931 + "#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"

_XRECHNUNG = re.compile(
    r"^urn:cen\.eu:en16931:2017#compliant#urn:xeinkauf\.de:kosit:xrechnung_(?P<version>\d+\.\d+)"
    r"(?P<rest>#.*)?$"
)

# Factur-X 1.0 / ZUGFeRD 2.1+ and ZUGFeRD 2.0 guideline ids (zugferd-facturx.md section 2).
_FACTURX = {
    "urn:factur-x.eu:1p0:minimum": "MINIMUM",
    "urn:zugferd.de:2p0:minimum": "MINIMUM",
    "urn:factur-x.eu:1p0:basicwl": "BASIC WL",
    "urn:zugferd.de:2p0:basicwl": "BASIC WL",
    EN16931 + "#compliant#urn:factur-x.eu:1p0:basic": "BASIC",
    EN16931 + "#compliant#urn:zugferd.de:2p0:basic": "BASIC",
    EN16931 + "#conformant#urn:factur-x.eu:1p0:extended": "EXTENDED",
    EN16931 + "#conformant#urn:zugferd.de:2p0:extended": "EXTENDED",
    EN16931 + "#conformant#urn.cpro.gouv.fr:1p0:extended-ctc-fr": "EXTENDED-CTC-FR",
}

_ZUGFERD1 = {
    "urn:ferd:CrossIndustryDocument:invoice:1p0:basic": "BASIC",
    "urn:ferd:CrossIndustryDocument:invoice:1p0:comfort": "COMFORT",
    "urn:ferd:CrossIndustryDocument:invoice:1p0:extended": "EXTENDED",
}


@dataclass(frozen=True)
class Specification:
    """What a BT-24 value says. `family` is one of: xrechnung, en16931, facturx, peppol, zugferd1, unknown, missing."""

    family: str
    label: str
    version: str = ""
    variant: str = ""  # xrechnung: standard | extension | cvd ; facturx / zugferd1: the profile

    def to_dict(self) -> dict:
        return {"family": self.family, "label": self.label, "version": self.version, "variant": self.variant}


def classify(spec_id: str | None) -> Specification:
    if spec_id is None or not spec_id.strip():
        return Specification("missing", "no specification identifier (BT-24)")
    value = spec_id.strip()
    match = _XRECHNUNG.match(value)
    if match:
        return _xrechnung(match.group("version"), match.group("rest") or "")
    if value == EN16931:
        return Specification("en16931", "EN 16931 (also Factur-X/ZUGFeRD EN 16931)", "2017")
    if value in _FACTURX:
        profile = _FACTURX[value]
        return Specification("facturx", f"Factur-X/ZUGFeRD {profile}", "2p0" if "zugferd.de:2p0" in value else "1p0", profile)
    if value == PEPPOL_BIS_3:
        return Specification("peppol", "Peppol BIS Billing 3.0", "3.0")
    if value in _ZUGFERD1:
        return Specification("zugferd1", f"ZUGFeRD 1.0 {_ZUGFERD1[value]}", "1.0", _ZUGFERD1[value])
    return _fallback(value)


def _xrechnung(version: str, rest: str) -> Specification:
    variant = "standard"
    if rest.startswith("#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_"):
        variant = "extension"
    elif rest.startswith("#compliant#urn:xeinkauf.de:kosit:xrechnung:cvd_"):
        variant = "cvd"
    elif rest:
        variant = "unknown"
    suffix = {"standard": "", "extension": " Extension", "cvd": " CVD", "unknown": " (unknown variant)"}[variant]
    return Specification("xrechnung", f"XRechnung {version}{suffix}", version, variant)


def _fallback(value: str) -> Specification:
    """Lenient detection in mustang's order, for ids that are not in the table."""
    lowered = value.lower()
    if "xrechnung" in lowered:
        return Specification("xrechnung", "XRechnung (unrecognised identifier)", "", "unknown")
    for needle, profile in (("basicwl", "BASIC WL"), ("basic", "BASIC"), ("minimum", "MINIMUM"), ("extended", "EXTENDED")):
        if needle in lowered and ("factur-x" in lowered or "zugferd" in lowered):
            return Specification("facturx", f"Factur-X/ZUGFeRD {profile} (unrecognised identifier)", "", profile)
    return Specification("unknown", f"unknown specification identifier {value!r}")
