"""Working days per Bundesland: Monday to Friday except the public holidays of the Land.

Holidays come from the ``holidays`` package (``holidays.Germany(subdiv=…)``), cached per (Land, year).
The Land is a two-letter code (``NW``, ``BY``, ``BE`` …): a unit's ``OrgUnit.bundesland`` wins, else
the installation's ``EINVOICE_BUNDESLAND`` (default ``NW``; `land_for`). Only statutory holidays
count: 24 and 31 December are working days here (SEPA transfers execute on them).

- `is_working_day(day, land)`
- `add_working_days(day, n, land)`: ``n`` working days after ``day`` (``day`` itself not counted;
  negative ``n`` goes back), ``n == 0`` returns ``day`` unchanged.
- `working_days_between(start, end, land)`: the working days ``d`` with ``start < d <= end``
  (negative when ``end`` is before ``start``): "the deadline is 3 working days away".
- `last_working_day_on_or_before(day, land)`.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

DEFAULT_LAND = "NW"
LANDS = tuple(code for code in holidays.Germany.subdivisions if len(code) == 2)


class UnknownLand(ValueError):
    pass


def normalise_land(land: str | None, default: str | None = None) -> str:
    code = (land or default or DEFAULT_LAND).strip().upper()
    if code not in LANDS:
        raise UnknownLand(f"unknown Bundesland {code!r}; one of {', '.join(LANDS)}")
    return code


def land_for(unit_land: str | None, settings=None) -> str:
    """The unit's Land if set, else the installation's (``settings.bundesland``), else NW."""
    return normalise_land(unit_land, getattr(settings, "bundesland", None))


@lru_cache(maxsize=512)
def _holidays(land: str, year: int) -> dict[date, str]:
    return dict(holidays.Germany(subdiv=land, years=year, language="de"))


def holidays_of(land: str | None, year: int) -> dict[date, str]:
    """The public holidays of ``land`` in ``year`` with their German names."""
    return dict(_holidays(normalise_land(land), year))


def is_working_day(day: date, land: str | None = None) -> bool:
    return day.weekday() < 5 and day not in _holidays(normalise_land(land), day.year)


def add_working_days(day: date, n: int, land: str | None = None) -> date:
    land = normalise_land(land)
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    while remaining:
        day += timedelta(days=step)
        if is_working_day(day, land):
            remaining -= 1
    return day


def working_days_between(start: date, end: date, land: str | None = None) -> int:
    land = normalise_land(land)
    if end < start:
        return -working_days_between(end, start, land)
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_working_day(day, land)
    return count


def last_working_day_on_or_before(day: date, land: str | None = None) -> date:
    land = normalise_land(land)
    while not is_working_day(day, land):
        day -= timedelta(days=1)
    return day


def latest_approval_date(deadline: date, lead_days: int, land: str | None = None) -> date:
    """The last day an Anordnung still reaches a payment run that executes on or before ``deadline``:
    the last working day on or before the deadline, minus ``lead_days`` working days (the Kasse's
    payment-run lead time, ``EINVOICE_PAYMENT_RUN_LEAD_DAYS``)."""
    return add_working_days(last_working_day_on_or_before(deadline, land), -lead_days, land)
