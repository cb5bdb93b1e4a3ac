"""The holiday calendar: confirmed, official and provisional years, make-up working days, overrides (HW-03, FZ-04)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from permit_service.calendar import ChinaHolidayCalendar, HolidayPeriod, confirmed_year

SHANGHAI = ZoneInfo("Asia/Shanghai")
NATIONAL = ("国庆节", "National Day")


def between(calendar: ChinaHolidayCalendar, first: date, last: date) -> list[tuple[str, str, str]]:
    return [
        (p.first.isoformat(), p.last.isoformat(), p.name_zh) for p in calendar.holidays_between(first, last)
    ]


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
def test_HW_03_rest_days_follow_the_official_calendar(day, rest):
    assert ChinaHolidayCalendar().is_rest_day(day) is rest


def test_FZ_04_overrides_win_over_the_statutory_calendar():
    calendar = ChinaHolidayCalendar(overrides={date(2026, 10, 8): True, date(2026, 10, 3): False})
    assert calendar.is_rest_day(date(2026, 10, 8)) is True
    assert calendar.is_rest_day(date(2026, 10, 3)) is False
    assert calendar.is_rest_day(date(2026, 10, 2)) is True


def test_FZ_04_each_year_names_its_layer():
    calendar = ChinaHolidayCalendar(confirmed={2028: confirmed_year(2028, [], [])})
    assert [calendar.source(y) for y in (2026, 2027, 2028, 2099)] == [
        "official",
        "provisional",
        "confirmed",
        "provisional",
    ]


def test_HW_03_a_year_no_package_publishes_is_computed_not_weekends_only():
    calendar = ChinaHolidayCalendar()
    assert calendar.is_rest_day(date(2027, 1, 1)) is True  # New Year's Day, a Friday
    assert calendar.is_rest_day(date(2027, 2, 8)) is True  # Spring Festival, a Monday
    assert calendar.is_rest_day(date(2027, 10, 1)) is True  # National Day, a Friday
    assert calendar.is_rest_day(date(2027, 3, 3)) is False  # a plain Wednesday
    assert calendar.is_rest_day(date(2099, 10, 1)) is True  # National Day, a Thursday


def test_FZ_04_the_2027_holidays_are_computed_and_marked_provisional():
    periods = ChinaHolidayCalendar().holidays_between(date(2027, 1, 1), date(2027, 12, 31))
    assert all(p.provisional for p in periods)
    assert [(p.first.isoformat(), p.last.isoformat(), p.name_zh) for p in periods] == [
        ("2027-01-01", "2027-01-03", "元旦"),
        ("2027-02-05", "2027-02-10", "春节"),
        ("2027-04-03", "2027-04-05", "清明"),
        ("2027-05-01", "2027-05-04", "劳动节"),
        ("2027-06-09", "2027-06-09", "端午"),
        ("2027-09-15", "2027-09-15", "中秋"),
        ("2027-10-01", "2027-10-05", "国庆节"),
    ]


def test_FZ_04_a_year_far_ahead_still_has_its_spring_festival():
    calendar = ChinaHolidayCalendar()
    spring = [
        p
        for p in calendar.holidays_between(date(2035, 1, 1), date(2035, 12, 31))
        if p.name_en == "Spring Festival"
    ]
    assert [(p.first, p.last, p.provisional) for p in spring] == [(date(2035, 2, 7), date(2035, 2, 12), True)]
    assert calendar.is_rest_day(date(2035, 2, 8)) is True  # 春节, a Thursday


def test_FZ_04_a_provisional_notice_names_the_days_and_says_no_make_up_day_is_known():
    calendar = ChinaHolidayCalendar(overrides={date(2027, 1, 2): False})
    notice = calendar.window_notice(
        datetime(2026, 12, 31, 20, tzinfo=SHANGHAI), datetime(2027, 1, 4, 0, tzinfo=SHANGHAI)
    )
    # 2026 is official; 2027-01-02 is decided by the region's correction, not by the computed year.
    assert notice.days == (date(2027, 1, 1), date(2027, 1, 3))
    assert notice.years == (2027,)
    assert "2027-01-01, 2027-01-03" in notice.message_en
    assert "no make-up working days" in notice.message_en
    assert "尚不含调休上班日" in notice.message_zh
    assert (
        calendar.window_notice(
            datetime(2026, 12, 31, 8, tzinfo=SHANGHAI), datetime(2027, 1, 1, 0, tzinfo=SHANGHAI)
        )
        is None
    )  # [from, until): ending at midnight touches no day of 2027


def test_FZ_04_a_confirmed_year_wins_over_the_computed_one():
    confirmed = confirmed_year(
        2027,
        [{"first": "2027-02-06", "last": "2027-02-12", "name_zh": "春节", "name_en": "Spring Festival"}],
        ["2027-02-20"],
    )
    calendar = ChinaHolidayCalendar(confirmed={2027: confirmed})
    assert calendar.is_rest_day(date(2027, 2, 5)) is False  # computed as New Year's Eve, not in the notice
    assert calendar.is_rest_day(date(2027, 2, 12)) is True
    assert calendar.is_rest_day(date(2027, 2, 20)) is False  # a Saturday worked (调休上班)
    assert calendar.provisional_notice(date(2027, 2, 1), date(2027, 2, 28)) is None
    assert between(calendar, date(2027, 2, 1), date(2027, 2, 28)) == [("2027-02-06", "2027-02-14", "春节")]


def test_FZ_04_national_day_2026_is_one_period_with_an_exclusive_end():
    periods = ChinaHolidayCalendar().holidays_between(date(2026, 9, 28), date(2026, 10, 31))
    assert periods == [HolidayPeriod(first=date(2026, 10, 1), last=date(2026, 10, 7), names=(NATIONAL,))]
    national_day = periods[0]
    assert (national_day.name_zh, national_day.provisional) == ("国庆节", False)
    assert national_day.window() == (
        datetime(2026, 10, 1, tzinfo=SHANGHAI),
        datetime(2026, 10, 8, tzinfo=SHANGHAI),
    )


def test_FZ_04_the_2026_holidays_are_seven_official_periods():
    periods = ChinaHolidayCalendar().holidays_between(date(2026, 1, 1), date(2026, 12, 31))
    assert [(p.first.isoformat(), p.last.isoformat(), p.name_zh) for p in periods] == [
        ("2026-01-01", "2026-01-03", "元旦"),
        ("2026-02-15", "2026-02-23", "春节"),
        ("2026-04-04", "2026-04-06", "清明"),
        ("2026-05-01", "2026-05-05", "劳动节"),
        ("2026-06-19", "2026-06-21", "端午"),
        ("2026-09-25", "2026-09-27", "中秋"),
        ("2026-10-01", "2026-10-07", "国庆节"),
    ]
    assert not any(p.provisional for p in periods)
    assert len({p.key for p in periods}) == 7


def test_a_period_is_grown_to_its_whole_break_across_the_year_boundary():
    (new_year,) = ChinaHolidayCalendar().holidays_between(date(2024, 1, 1), date(2024, 1, 10))
    assert (new_year.first, new_year.last) == (date(2023, 12, 30), date(2024, 1, 1))


def test_adjacent_holidays_make_one_period_with_both_names():
    (autumn,) = ChinaHolidayCalendar().holidays_between(date(2025, 9, 29), date(2025, 10, 10))
    assert (autumn.first, autumn.last) == (date(2025, 10, 1), date(2025, 10, 8))
    assert autumn.name_zh == "国庆节、中秋"
    assert autumn.name_en == "National Day / Mid-autumn Festival"
