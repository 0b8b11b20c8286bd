"""The errors of the booking export, each with a German message for the Kämmerei.

``status`` is the HTTP status `einvoice.web.api_bookings` answers with: 404 `NotFound`, 409
`Conflict` (a batch already booked or cancelled, an invoice not ready, two exports at once), 422
`InvalidInput` (missing reason, unknown format) and `MappingError` (a column mapping file is wrong).
"""

from __future__ import annotations


class BookingError(Exception):
    """Base class: ``message`` is German and meant for the user."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(BookingError):
    status = 404


class Conflict(BookingError):
    status = 409


class InvalidInput(BookingError):
    status = 422


class MappingError(InvalidInput):
    """A column mapping (``rules/export/<name>.toml``) is missing or invalid, or cannot hold a record."""
