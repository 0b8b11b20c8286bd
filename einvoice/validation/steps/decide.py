"""Step 9 (always runs): the official verdict, and the triage beside it.

valid  - KoSIT: a scenario matched, the XSD passed and no message has level error.
triage - accept: officially valid;
         review: officially rejected, but the document parses, passes its XSD and has no EN 16931
                 core error (e.g. only XRechnung-specific rules fail, or an unsupported CIUS version of
                 an otherwise sound EN 16931 invoice): a person decides;
         reject: not an invoice, unparseable, XSD-invalid, or EN 16931 errors.
"""

from __future__ import annotations

from ..contract import Step
from ..state import ValidationState

CORE_LAYERS = {"input", "xsd", "en16931", "profile", "triage"}


class Decide(Step):
    name = "decide"

    def able_to_run(self, state: ValidationState) -> bool:
        return True

    def run(self, state: ValidationState) -> None:
        official_ran = state.scenario is not None and state.xsd_ok is not False
        state.valid = bool(official_ran and state.tree is not None and not state.errors())
        if state.valid:
            state.triage = "accept"
        elif state.tree is None or state.kind is None or state.xsd_ok is not True or state.processing_errors:
            state.triage = "reject"
        elif state.errors(CORE_LAYERS - {"input"}) or _input_errors_beyond_routing(state):
            state.triage = "reject"
        else:
            state.triage = "review"


def _input_errors_beyond_routing(state: ValidationState) -> bool:
    """Input errors other than 'no scenario / version not supported' always reject."""
    return any(f.layer == "input" and f.source != "router" for f in state.errors())
