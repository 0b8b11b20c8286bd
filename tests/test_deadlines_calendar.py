"""Working days per Bundesland (holidays package): differences between Länder, counting, the setting."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from einvoice.config import load_settings
from einvoice.routing.deadlines.calendar import (UnknownLand, add_working_days, holidays_of, is_working_day,
                                                 land_for, last_working_day_on_or_before, latest_approval_date,
                                                 working_days_between)

FRONLEICHNAM_2026 = date(2026, 6, 4)  # a Thursday
REFORMATIONSTAG_2025 = date(2025, 10, 31)  # a Friday


@pytest.mark.parametrize("land, working", [("NW", False), ("BY", False), ("BE", True), ("SN", True), ("HH", True)])
def test_fronleichnam_only_where_it_is_a_holiday(land, working):
    assert is_working_day(FRONLEICHNAM_2026, land) is working


@pytest.mark.parametrize("land, working", [("SN", False), ("BB", False), ("TH", False), ("MV", False), ("ST", False),
                                           ("NI", False), ("NW", True), ("BY", True), ("BE", True)])
def test_reformationstag_in_the_east_and_north(land, working):
    assert is_working_day(REFORMATIONSTAG_2025, land) is working


def test_holiday_names_are_german_and_weekends_do_not_count():
    assert holidays_of("NW", 2026)[FRONLEICHNAM_2026] == "Fronleichnam"
    assert not is_working_day(date(2026, 6, 6), "BE")  # Saturday
    assert not is_working_day(date(2026, 6, 7), "BE")  # Sunday
    assert is_working_day(date(2026, 12, 24), "NW")  # Heiligabend is no statutory holiday


def test_add_working_days_skips_the_lands_holidays_both_ways():
    wednesday = date(2026, 6, 3)
    assert add_working_days(wednesday, 1, "NW") == date(2026, 6, 5)
    assert add_working_days(wednesday, 1, "BE") == date(2026, 6, 4)
    assert add_working_days(wednesday, 3, "NW") == date(2026, 6, 9)  # Fri, Mon, Tue
    assert add_working_days(wednesday, 0, "NW") == wednesday
    # Easter 2026: Good Friday 3 April, Easter Monday 6 April
    assert add_working_days(date(2026, 4, 7), -1, "NW") == date(2026, 4, 2)
    assert add_working_days(date(2026, 4, 2), 1, "NW") == date(2026, 4, 7)


def test_working_days_between_counts_the_end_not_the_start():
    monday, thursday = date(2026, 3, 2), date(2026, 3, 5)
    assert working_days_between(monday, thursday, "NW") == 3
    assert working_days_between(thursday, monday, "NW") == -3
    assert working_days_between(monday, monday, "NW") == 0
    assert working_days_between(date(2026, 6, 3), date(2026, 6, 8), "NW") == 2  # Fri and Mon
    assert working_days_between(date(2026, 6, 3), date(2026, 6, 8), "BE") == 3  # Thu, Fri and Mon


def test_last_working_day_and_latest_approval():
    assert last_working_day_on_or_before(date(2026, 4, 6), "NW") == date(2026, 4, 2)  # Easter Monday -> Thursday
    assert last_working_day_on_or_before(date(2026, 3, 4), "NW") == date(2026, 3, 4)
    # deadline Monday 2 March 2026, one working day for the payment run: Anordnung by Friday 27 Feb
    assert latest_approval_date(date(2026, 3, 2), 1, "NW") == date(2026, 2, 27)
    assert latest_approval_date(date(2026, 3, 2), 0, "NW") == date(2026, 3, 2)
    # deadline Saturday: the payment must execute Friday, so the Anordnung is due Thursday
    assert latest_approval_date(date(2026, 3, 7), 1, "NW") == date(2026, 3, 5)


def test_land_of_the_unit_wins_over_the_setting(monkeypatch):
    assert land_for("by", SimpleNamespace(bundesland="NW")) == "BY"
    assert land_for(None, SimpleNamespace(bundesland="SN")) == "SN"
    assert land_for(None, None) == "NW"
    with pytest.raises(UnknownLand):
        land_for("XX", None)
    monkeypatch.setenv("EINVOICE_BUNDESLAND", "be")
    assert load_settings().bundesland == "BE"
    monkeypatch.delenv("EINVOICE_BUNDESLAND")
    assert load_settings().bundesland == "NW"
