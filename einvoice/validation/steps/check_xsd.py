"""Step 6: XML Schema validation. If it fails, Schematron is not run (KoSIT semantics)."""

from __future__ import annotations

from .. import artefacts
from ..contract import Step
from ..findings import Finding, Severity
from ..state import ValidationState

MAX_XSD_MESSAGES = 200


class CheckXsd(Step):
    name = "xsd"

    def able_to_run(self, state: ValidationState) -> bool:
        return state.stopped is None and state.active_scenario is not None and state.active_scenario.xsd is not None

    def run(self, state: ValidationState) -> None:
        scenario = state.active_scenario
        schema = artefacts.xsd(scenario.xsd)
        state.xsd_ok = schema.validate(state.tree)
        if state.xsd_ok:
            return
        layer = "xsd" if state.scenario else "triage"
        for error in list(schema.error_log)[:MAX_XSD_MESSAGES]:
            state.findings.append(
                Finding(
                    "EINVOICE-XSD",
                    Severity.ERROR,
                    f"line {error.line}: {error.message}",
                    location=error.path or f"line {error.line}",
                    source=scenario.xsd.name,
                    layer=layer,
                )
            )
        state.stop("XML Schema validation failed; Schematron not run")
