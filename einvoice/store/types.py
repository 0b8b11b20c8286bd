"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

UTC = timezone.utc
CENT = Decimal("0.01")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; naive datetimes are refused (their zone is unknown)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: einvoice stores only timezone-aware times")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no zone, so the value is stored as naive UTC and
    comes back with ``tzinfo=UTC``. Naive datetimes are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = as_utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # money never becomes a float
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


class JSONDocument(TypeDecorator):
    """JSON (JSONB on PostgreSQL). Decimals (money) are stored as strings, never as floats."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return json.loads(json_dumps(value))  # Decimal/date → str, a detached plain copy


class Money(TypeDecorator):
    """An exact `Decimal` amount: NUMERIC(18, 2) on PostgreSQL, text on SQLite (whose NUMERIC is a float).

    Values are quantized to the cent on the way in; floats are refused (money is never a float).
    Sort and sum in SQL only on PostgreSQL; code that must sort on both backends keeps an integer
    number of cents next to the amount (e.g. the Skonto priority).
    """

    impl = Numeric(18, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(18, 2, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError(f"money must be a Decimal, not the float {value!r}")
        amount = Decimal(value).quantize(CENT)
        return str(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(value).quantize(CENT)
