"""Why a payment run cannot be made: each error carries a German message, an HTTP status for the API
and, where useful, the details (skipped invoices, invalid IBANs)."""

from __future__ import annotations

from typing import Any


class PaymentError(Exception):
    status = 422

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, **({"details": self.details} if self.details else {})}


class DebtorNotConfigured(PaymentError):
    """EINVOICE_DEBTOR_NAME/IBAN/BIC missing or invalid: no file is written at all."""

    status = 503


class NothingToPay(PaymentError):
    """No chosen invoice is payable (the details say why each was skipped or refused)."""


class InvalidRequest(PaymentError):
    """A bad execution date, a missing reason …"""


class RunNotFound(PaymentError):
    status = 404


class RunConflict(PaymentError):
    """An invoice went into another run at the same time, or the run is already cancelled."""

    status = 409
