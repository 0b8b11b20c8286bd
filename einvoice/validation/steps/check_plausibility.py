"""Step 8b: einvoice's own EINVOICE-* warnings (Leitweg-ID, IBAN, VAT id, dates, Skonto); never change the verdict."""

from __future__ import annotations

from ..contract import Step
from ..plausibility import plausibility_findings
from ..state import ValidationState


class CheckPlausibility(Step):
    name = "plausibility"

    def able_to_run(self, state: ValidationState) -> bool:
        return state.scenario is not None and state.xsd_ok is True

    def run(self, state: ValidationState) -> None:
        state.findings.extend(plausibility_findings(state.tree.getroot(), state.kind, state.receipt_date))
