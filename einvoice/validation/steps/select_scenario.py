"""Step 5: pick the rule pack and scenario (first match wins); none -> reject, with a triage check."""

from __future__ import annotations

from ..contract import Step
from ..packs.registry import PackRegistry
from ..state import ValidationState


class SelectScenario(Step):
    name = "select-scenario"

    def __init__(self, registry: PackRegistry):
        self.registry = registry

    def run(self, state: ValidationState) -> None:
        route = self.registry.route(state, pack_name=state.pack_name, day=state.receipt_date)
        state.pack, state.scenario = route.pack, route.scenario
        if route.finding is not None:
            state.findings.append(route.finding)
            state.triage_scenario = route.triage_scenario
            if route.triage_scenario is None:
                state.stop("no scenario matched")
