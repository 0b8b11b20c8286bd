"""A problem found while reading an invoice into the model (never guessed around, always reported)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    """``code`` is stable (e.g. ``SKONTO-SYNTAX``); ``rule`` names an official rule where one applies
    (``BR-DE-18``); ``severity`` is error, warning or information; ``bt`` the business term concerned."""

    code: str
    message: str
    severity: str = "warning"
    bt: str | None = None
    rule: str | None = None
    location: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}
