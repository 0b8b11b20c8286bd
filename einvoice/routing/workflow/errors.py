"""The errors of the approval workflow: each carries a German message for the person who acted.

``status`` is the HTTP status the API answers with (`einvoice.web.api_workflow`): 403 for a refused
action (`NotAllowed`, `FourEyesViolation`), 404 (`NotFound`), 409 for a stale or clashing decision
(`Conflict`), 422 for a missing reason or bad input (`ReasonRequired`, `InvalidInput`,
`DefinitionError`).
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Base class: ``message`` is German and meant for the user."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotAllowed(WorkflowError):
    """The user may not take this action (role, unit, amount limit, supplier link, parked case …)."""

    status = 403


class FourEyesViolation(NotAllowed):
    """Separation of duties: the person who certified (or cleared the IBAN alert) may not order payment."""


class NotFound(WorkflowError):
    status = 404


class Conflict(WorkflowError):
    """The case changed since the user loaded it (optimistic lock), or the action clashes with its state."""

    status = 409

    @classmethod
    def stale(cls, by: str | None) -> "Conflict":
        who = by or "einer anderen Person"
        return cls(f"Diese Rechnung wurde inzwischen von {who} bearbeitet – bitte neu laden")


class InvalidInput(WorkflowError):
    status = 422


class ReasonRequired(InvalidInput):
    def __init__(self, action: str):
        super().__init__(f"Für „{action}“ ist eine Begründung erforderlich")


class DefinitionError(InvalidInput):
    """A workflow definition (TOML or JSON) is invalid; ``problems`` lists every finding with its place."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("Ungültige Workflow-Definition: " + "; ".join(self.problems))
