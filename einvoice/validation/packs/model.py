"""The data a rule pack is made of. Loaders (manifest.py, kosit.py) build these; steps read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Protocol

from ..findings import Severity


class MatchInput(Protocol):
    """What a scenario's match condition may look at (a ValidationState satisfies it)."""

    kind: object
    spec_id: str | None
    container: str


@dataclass(frozen=True)
class SchematronStep:
    """One compiled Schematron (XSLT emitting SVRL) in a scenario's chain."""

    name: str  # short label, reported as the finding's source (e.g. "cen-ubl")
    path: Path
    layer: str  # "en16931" (EN 16931 core rules), "cius" (XRechnung), "profile" (Factur-X profile), "custom"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    matches: Callable[[MatchInput], bool]
    xsd: Path | None
    schematron: tuple[SchematronStep, ...] = ()
    custom_levels: dict[str, Severity] = field(default_factory=dict)
    # the BT-24 values this scenario accepts, for messages like "supported versions are ..."
    spec_ids: tuple[str, ...] = ()
    # used only to triage documents no scenario accepts (never for the official verdict)
    triage_only: bool = False


@dataclass
class RulePack:
    name: str
    version: str
    description: str
    origin: str  # "builtin" or the folder an installed pack lives in
    scenarios: list[Scenario]
    valid_from: date | None = None
    valid_until: date | None = None

    def active_on(self, day: date) -> bool:
        if self.valid_from and day < self.valid_from:
            return False
        if self.valid_until and day > self.valid_until:
            return False
        return True

    @property
    def window(self) -> str:
        if not (self.valid_from or self.valid_until):
            return "always"
        return f"{self.valid_from or '…'} to {self.valid_until or '…'}"

    def artefacts(self) -> list[Path]:
        paths: list[Path] = []
        for scenario in self.scenarios:
            if scenario.xsd:
                paths.append(scenario.xsd)
            paths.extend(step.path for step in scenario.schematron)
        return list(dict.fromkeys(paths))
