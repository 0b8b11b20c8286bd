"""Step 4: which kind of document (root element) and which specification (BT-24) it claims."""

from __future__ import annotations

from ..contract import Step
from ..findings import input_error
from ..identifiers import classify
from ..kinds import kind_of_root, specification_id
from ..state import ValidationState

_ORDER_X_ROOT = "{urn:un:unece:uncefact:data:SCRDMCCBDACIOMessageStructure:100}SCRDMCCBDACIOMessageStructure"


class Identify(Step):
    name = "identify"

    def run(self, state: ValidationState) -> None:
        root = state.tree.getroot()
        state.kind = kind_of_root(root.tag)
        if state.kind is None:
            what = "an Order-X order" if root.tag == _ORDER_X_ROOT else f"root element {root.tag}"
            state.findings.append(
                input_error(
                    "EINVOICE-NOT-INVOICE",
                    f"not an invoice document ({what}); expected a UBL 2.1 Invoice/CreditNote or a CII "
                    "CrossIndustryInvoice / keine Rechnung",
                )
            )
            state.stop("not an invoice")
            return
        state.spec_id = specification_id(root, state.kind)
        state.specification = classify(state.spec_id)
