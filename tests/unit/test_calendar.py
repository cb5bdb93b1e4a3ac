"""The holiday calendar: statutory holidays, make-up working days, overrides, uncovered years (HW-03, FZ-04)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from permit_service.calendar import ChinaHolidayCalendar, HolidayPeriod, holidays_between

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("day", "rest"),
    [
        (date(2026, 10, 1), True),  # National Day
        (date(2026, 10, 7), True),  # last day of the National Day break
        (date(2026, 10, 8), False),  # back to work (Thursday)
        (date(2026, 9, 20), False),  # Sunday, make-up working day (调休上班)
        (date(2026, 10, 10), False),  # Saturday, make-up working day
        (date(2026, 6, 13), True),  # plain Saturday
        (date(2026, 6, 10), False),  # plain Wednesday
        (date(2026, 2, 17), True),  # Spring Festival
    ],
)
def test_HW_03_rest_days_follow_the_statutory_calendar(day, rest):
    assert ChinaHolidayCalendar().is_rest_day(day) is rest


def test_FZ_04_overrides_win_over_the_statutory_calendar():
    calendar = ChinaHolidayCalendar(overrides={date(2026, 10, 8): True, date(2026, 10, 3): False})
    assert calendar.is_rest_day(date(2026, 10, 8)) is True
    assert calendar.is_rest_day(date(2026, 10, 3)) is False
    assert calendar.is_rest_day(date(2026, 10, 2)) is True


def test_a_year_the_library_does_not_cover_falls_back_to_weekends_and_is_flagged():
    calendar = ChinaHolidayCalendar()
    assert calendar.is_rest_day(date(2099, 10, 1)) is False  # a Thursday: only weekends are known
    assert calendar.is_rest_day(date(2099, 10, 3)) is True  # Saturday
    assert calendar.uncovered_years == {2099}
    assert ChinaHolidayCalendar.covers(2099) is False
    assert ChinaHolidayCalendar.covers(2026) is True
    assert holidays_between(date(2099, 1, 1), date(2099, 12, 31)) == []


def test_FZ_04_national_day_2026_is_one_period_with_an_exclusive_end():
    periods = holidays_between(date(2026, 9, 28), date(2026, 10, 31))
    assert periods == [
        HolidayPeriod(first=date(2026, 10, 1), last=date(2026, 10, 7), names_en=("National Day",))
    ]
    national_day = periods[0]
    assert national_day.name_zh == "国庆节"
    assert national_day.window() == (
        datetime(2026, 10, 1, tzinfo=SHANGHAI),
        datetime(2026, 10, 8, tzinfo=SHANGHAI),
    )


def test_FZ_04_the_2026_holidays_are_seven_periods():
    periods = holidays_between(date(2026, 1, 1), date(2026, 12, 31))
    assert [(p.first.isoformat(), p.last.isoformat(), p.name_zh) for p in periods] == [
        ("2026-01-01", "2026-01-03", "元旦"),
        ("2026-02-15", "2026-02-23", "春节"),
        ("2026-04-04", "2026-04-06", "清明"),
        ("2026-05-01", "2026-05-05", "劳动节"),
        ("2026-06-19", "2026-06-21", "端午"),
        ("2026-09-25", "2026-09-27", "中秋"),
        ("2026-10-01", "2026-10-07", "国庆节"),
    ]
    assert len({p.key for p in periods}) == 7


def test_a_period_is_grown_to_its_whole_break_across_the_year_boundary():
    (new_year,) = holidays_between(date(2024, 1, 1), date(2024, 1, 10))
    assert (new_year.first, new_year.last) == (date(2023, 12, 30), date(2024, 1, 1))


def test_adjacent_holidays_make_one_period_with_both_names():
    (autumn,) = holidays_between(date(2025, 9, 29), date(2025, 10, 10))
    assert (autumn.first, autumn.last) == (date(2025, 10, 1), date(2025, 10, 8))
    assert autumn.name_zh == "国庆节、中秋"
    assert autumn.name_en == "National Day / Mid-autumn Festival"
