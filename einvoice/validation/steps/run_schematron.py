"""Step 7: run the scenario's Schematron XSLTs on the document parsed once into Saxon; SVRL -> findings."""

from __future__ import annotations

import time

from saxonche import PySaxonApiError

from .. import artefacts
from ..contract import Step
from ..findings import Finding, Severity, severity_from_flag
from ..packs.model import SchematronStep
from ..state import ValidationState


class RunSchematron(Step):
    name = "schematron"

    def able_to_run(self, state: ValidationState) -> bool:
        scenario = state.active_scenario
        return state.stopped is None and scenario is not None and bool(scenario.schematron)

    def run(self, state: ValidationState) -> None:
        started = time.perf_counter()
        document = state.saxon_document()
        state.timings_ms["saxon-parse"] = (time.perf_counter() - started) * 1000
        triage = state.scenario is None
        for step in state.active_scenario.schematron:
            started = time.perf_counter()
            self._run_one(state, step, document, triage)
            state.timings_ms[f"xslt:{step.name}"] = (time.perf_counter() - started) * 1000

    def _run_one(self, state: ValidationState, step: SchematronStep, document, triage: bool) -> None:
        executable = artefacts.xslt(step.path)
        layer = "triage" if triage else step.layer
        source = f"{step.name} (triage)" if triage else step.name
        try:
            svrl = executable.transform_to_value(xdm_node=document)
        except PySaxonApiError as exc:
            message = f"{step.path.name} stopped with a dynamic error: {exc}"
            state.processing_errors.append(message)
            state.findings.append(Finding("EINVOICE-PROCESSING", Severity.ERROR, message, source=source, layer=layer))
            return
        if svrl is None:
            return
        for _kind, rule_id, flag, location, text in artefacts.svrl_messages(svrl.head):
            state.findings.append(
                Finding(
                    rule_id=rule_id or "UNSPECIFIC",
                    severity=severity_from_flag(flag),
                    message=text,
                    location=location,
                    source=source,
                    layer=layer,
                )
            )
