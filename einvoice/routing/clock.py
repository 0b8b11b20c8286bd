"""The one source of "now" and "today" for routing: tests and simulations pass a `FixedClock`.

Times are UTC-aware; "today" is the date in Europe/Berlin (deadlines are dates of the German
working calendar, payment runs execute on Berlin dates).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that stands still until moved: ``clock.advance(days=3)`` or ``clock.set(...)``."""

    def __init__(self, at: datetime | date):
        self.set(at)

    def set(self, at: datetime | date) -> None:
        if not isinstance(at, datetime):  # a date: 09:00 Berlin time on that day
            at = datetime(at.year, at.month, at.day, 9, 0, tzinfo=BERLIN)
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = at.astimezone(timezone.utc)

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)

    def now(self) -> datetime:
        return self._now


SYSTEM_CLOCK = SystemClock()


def today(clock: Clock = SYSTEM_CLOCK) -> date:
    """The current date in Europe/Berlin."""
    return clock.now().astimezone(BERLIN).date()
