"""The approval workflow: sachlich richtig → rechnerisch richtig → Anordnung, as configurable chains.

- `definitions`: the workflow schema (steps, rules, thresholds as data), validation with German
  errors, seeding from ``rules/routing/workflows.toml``, `choose_workflow` by unit/cost centre/amount.
- `cases`: `start_case` (matched → in_approval: snapshot, steps, arithmetic pre-check, payment data,
  IBAN alert), step progression, `run_decision` (own transaction; stale version → `Conflict`).
- `decisions`: approve, return to the previous step, reject to the supplier (notice mail), park,
  unpark, forward, reassign, comment; `payment`: partial acceptance, clearing the IBAN alert,
  reopening the Anordnung after the freeze.
- `checks`: eligibility and limits, four-eyes, supplier conflicts, the IBAN gate, parked cases.
- `eligibility`: who may act on a step today (unit members with the role, substitutes, limits).
- `inbox`: `tasks_for` — what a user may decide today, by Skonto priority. `view`: a case as dict/text.
- `facts`: gross amount, payee, IBAN and the arithmetic pre-check from the stored invoice model.
- `errors`: `WorkflowError` and its kinds, each with a German message for the user.
"""

from .cases import active_case, latest_case, run_decision, start_case
from .decisions import approve, comment, forward, park, reassign, reject_to_supplier, return_to_previous, unpark
from .definitions import NoWorkflow, choose_workflow, load_file, replace_workflows, validate_workflows
from .errors import (
    Conflict, DefinitionError, FourEyesViolation, InvalidInput, NotAllowed, NotFound, ReasonRequired, WorkflowError,
)
from .inbox import Task, tasks_for
from .payment import clear_iban_alert, reopen_anordnung, set_payable
from .view import case_text, case_view

__all__ = [
    "Conflict", "DefinitionError", "FourEyesViolation", "InvalidInput", "NoWorkflow", "NotAllowed", "NotFound",
    "ReasonRequired", "Task", "WorkflowError", "active_case", "approve", "case_text", "case_view", "choose_workflow",
    "clear_iban_alert", "comment", "forward", "latest_case", "load_file", "park", "reassign", "reject_to_supplier",
    "reopen_anordnung", "replace_workflows", "return_to_previous", "run_decision", "set_payable", "start_case",
    "tasks_for", "unpark", "validate_workflows",
]
