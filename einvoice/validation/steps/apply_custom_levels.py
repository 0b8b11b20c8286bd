"""Step 8: the scenario's custom levels replace the level of the listed rule ids (KoSIT customLevel)."""

from __future__ import annotations

from ..contract import Step
from ..state import ValidationState

SCHEMATRON_LAYERS = {"en16931", "cius", "profile", "custom"}


class ApplyCustomLevels(Step):
    name = "custom-levels"

    def able_to_run(self, state: ValidationState) -> bool:
        return state.scenario is not None and bool(state.scenario.custom_levels)

    def run(self, state: ValidationState) -> None:
        levels = state.scenario.custom_levels
        for finding in state.findings:
            if finding.layer in SCHEMATRON_LAYERS and finding.rule_id in levels:
                finding.severity = levels[finding.rule_id]
