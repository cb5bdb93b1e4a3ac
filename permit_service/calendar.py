"""China's statutory holidays and make-up working days, in layers, corrected per region by regulators (FZ-04).

Each year comes from the highest layer that has it:
1. confirmed: the State Council's notice for the year, entered by the city's regulator (`calendar_years`);
2. official: the published schedule in `chinese_calendar`, for the years that package covers;
3. provisional: the schedule `holidays` computes for any year (the lunar holidays included). It is marked
   provisional everywhere it decides an answer, until a regulator confirms the year.
Weekends alone never decide a year. Regulators' one-day corrections (`calendar_overrides`) sit on top of all.
The workflow core asks `is_rest_day(day)` for the hot-work upgrade (HW-03); the holiday periods become
proposed freezes (FZ-04).
"""

from __future__ import annotations

import functools
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from importlib.metadata import version
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service.db import PerGeneration
from permit_service.directory.models import Region
from permit_service.freezes.models import CalendarOverride, CalendarYear

SHANGHAI = ZoneInfo("Asia/Shanghai")
SOURCES = ("confirmed", "official", "provisional")
ZH_NAMES = {holiday.value: holiday.chinese for holiday in chinese_calendar.Holiday}
# `holidays` names the same festivals a little differently; its substitute and observed days carry no name.
_CANONICAL = {
    "Chinese New Year's Eve": "Spring Festival",
    "Chinese New Year (Spring Festival)": "Spring Festival",
    "Tomb-Sweeping Day": "Tomb-sweeping Day",
    "Labor Day": "Labour Day",
    "Mid-Autumn Festival": "Mid-autumn Festival",
}
Name = tuple[str, str]  # (Chinese, English)


def computed_by() -> str:
    """The package that computes provisional years, with its version, for notices."""
    return f"holidays {version('holidays')}"


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


@dataclass(frozen=True)
class YearSchedule:
    """One year's rest days beyond the weekends (named on the holidays themselves) and make-up working days."""

    year: int
    source: str  # confirmed | official | provisional
    holidays: Mapping[date, Name | None]
    workdays: frozenset[date] = frozenset()

    def is_rest_day(self, day: date) -> bool:
        """Holidays and weekends rest; make-up working days (调休上班) do not."""
        return day not in self.workdays and (day in self.holidays or day.weekday() >= 5)

    def name(self, day: date) -> Name | None:
        """The holiday a rest day belongs to by name (None for weekends and days added to a break)."""
        return self.holidays.get(day) if self.is_rest_day(day) else None


@functools.lru_cache(maxsize=64)
def official_year(year: int) -> YearSchedule | None:
    """The year as `chinese_calendar` publishes it, or None when the package does not cover the year."""
    try:
        chinese_calendar.get_holiday_detail(date(year, 6, 1))
    except NotImplementedError:
        return None
    rest_days: dict[date, Name | None] = {}
    workdays = set()
    for day in _days(date(year, 1, 1), date(year, 12, 31)):
        rest, name = chinese_calendar.get_holiday_detail(day)
        if rest and (name or day.weekday() < 5):
            rest_days[day] = (ZH_NAMES.get(name, name), name) if name else None
        elif not rest and day.weekday() >= 5:
            workdays.add(day)
    return YearSchedule(year, "official", rest_days, frozenset(workdays))


@functools.lru_cache(maxsize=64)
def provisional_year(year: int) -> YearSchedule:
    """The year as `holidays` computes it: its statutory holidays and the make-up working days it knows (often
    none for a year not yet published)."""
    import holidays as holiday_package  # 4 MiB a worker needs only for a year no other layer has (issue 14)

    english = holiday_package.China(years=year, language="en_US")
    chinese = holiday_package.China(years=year, language="zh_CN")
    rest_days: dict[date, Name | None] = {}
    for day, name_en in english.items():
        if "observed" in name_en or name_en.startswith("Day off"):
            rest_days[day] = None
            continue
        canonical = _CANONICAL.get(name_en, name_en)
        rest_days[day] = (ZH_NAMES.get(canonical, chinese.get(day, canonical)), canonical)
    workdays = frozenset(d for d in english.weekend_workdays if d.year == year)
    return YearSchedule(year, "provisional", rest_days, workdays)


def confirmed_year(year: int, periods: Iterable[Mapping[str, str]], workdays: Iterable[str]) -> YearSchedule:
    """A year as a regulator confirmed it from the State Council's notice (periods and days as stored)."""
    rest_days: dict[date, Name | None] = {}
    for period in periods:
        name = (period["name_zh"], period["name_en"])
        for day in _days(date.fromisoformat(period["first"]), date.fromisoformat(period["last"])):
            rest_days[day] = name
    return YearSchedule(year, "confirmed", rest_days, frozenset(date.fromisoformat(d) for d in workdays))


def package_year(year: int) -> YearSchedule:
    """The year from the packages: official where published, provisional otherwise."""
    return official_year(year) or provisional_year(year)


@dataclass(frozen=True)
class HolidayPeriod:
    """Consecutive rest days around a holiday (e.g. 国庆节 2026-10-01..10-07), as Asia/Shanghai dates."""

    first: date
    last: date
    names: tuple[Name, ...]
    provisional: bool = False

    @property
    def name_zh(self) -> str:
        """The holiday name(s) in Chinese."""
        return "、".join(zh for zh, _en in self.names)

    @property
    def name_en(self) -> str:
        """The holiday name(s) in English."""
        return " / ".join(en for _zh, en in self.names)

    @property
    def key(self) -> str:
        """A stable key of the period, used to propose its freeze only once."""
        return f"holiday:{self.first.isoformat()}"

    def window(self) -> tuple[datetime, datetime]:
        """[first day 00:00, day after the last 00:00) in Asia/Shanghai: the end is exclusive."""
        return (
            datetime.combine(self.first, time(), SHANGHAI),
            datetime.combine(self.last + timedelta(days=1), time(), SHANGHAI),
        )


def _ranges(days: Iterable[date]) -> str:
    """Days as ranges: 2027-01-01..2027-01-03, 2027-02-06."""
    spans: list[list[date]] = []
    for day in sorted(days):
        if spans and spans[-1][1] + timedelta(days=1) == day:
            spans[-1][1] = day
        else:
            spans.append([day, day])
    return ", ".join(f"{a}" if a == b else f"{a}..{b}" for a, b in spans)


@dataclass(frozen=True)
class ProvisionalNotice:
    """Days whose rest or work rests on a computed schedule no regulator has confirmed yet (FZ-04, HW-03)."""

    days: tuple[date, ...]
    without_workdays: bool  # the computed schedule knows no make-up working day of those years

    @property
    def years(self) -> tuple[int, ...]:
        """The provisional years the days fall in."""
        return tuple(sorted({d.year for d in self.days}))

    @property
    def message_zh(self) -> str:
        """The notice in Chinese."""
        workdays = "，尚不含调休上班日" if self.without_workdays else ""
        return (
            f"{_ranges(self.days)} 的节假日安排为推算结果（{computed_by()}）{workdays}，"
            "监管部门尚未按国务院通知确认该年度；动火升级（HW-03）和节假日冻结（FZ-04）暂按此判断，确认后可能改变"
        )

    @property
    def message_en(self) -> str:
        """The notice in English."""
        workdays = " and has no make-up working days yet" if self.without_workdays else ""
        return (
            f"the holiday schedule of {_ranges(self.days)} is provisional, computed by {computed_by()}"
            f"{workdays}; no regulator has confirmed the year from the State Council's notice, so the hot-work "
            "upgrade (HW-03) and holiday freezes (FZ-04) rest on it and may change once it is confirmed"
        )


@dataclass
class ChinaHolidayCalendar:
    """HolidayCalendar for the workflow core: a region's overrides over its layered years (FZ-04, HW-03)."""

    overrides: Mapping[date, bool] = field(default_factory=dict)
    confirmed: Mapping[int, YearSchedule] = field(default_factory=dict)

    def year(self, year: int) -> YearSchedule:
        """The schedule of a year from its highest layer: confirmed, official, then provisional."""
        return self.confirmed.get(year) or package_year(year)

    def source(self, year: int) -> str:
        """Where the year comes from: confirmed, official or provisional."""
        return self.year(year).source

    def is_rest_day(self, day: date) -> bool:
        """Holidays and weekends rest; make-up working days (调休上班) do not; overrides win."""
        if day in self.overrides:
            return self.overrides[day]
        return self.year(day.year).is_rest_day(day)

    def provisional_notice(self, first: date, last: date) -> ProvisionalNotice | None:
        """The days of [first, last] decided by a provisional year (a region's correction decides its day)."""
        days = tuple(
            d for d in _days(first, last) if d not in self.overrides and self.source(d.year) == "provisional"
        )
        if not days:
            return None
        return ProvisionalNotice(days, any(not self.year(y).workdays for y in {d.year for d in days}))

    def window_notice(self, starts_at: datetime, ends_at: datetime) -> ProvisionalNotice | None:
        """The provisional notice of a window [starts_at, ends_at): ending at midnight touches no later day."""
        return self.provisional_notice(
            starts_at.astimezone(SHANGHAI).date(),
            (ends_at - timedelta(microseconds=1)).astimezone(SHANGHAI).date(),
        )

    def _named(self, day: date) -> Name | None:
        return None if day in self.overrides else self.year(day.year).name(day)

    def holidays_between(self, start: date, end: date) -> list[HolidayPeriod]:
        """Holiday periods overlapping [start, end]: each named holiday with the rest days around it."""
        periods: list[HolidayPeriod] = []
        day = start
        while day <= end:
            if self._named(day) is None:
                day += timedelta(days=1)
                continue
            # A break is the whole run of rest days around the holiday (weekends joined to it included).
            first = day
            while self.is_rest_day(first - timedelta(days=1)):
                first -= timedelta(days=1)
            last, names = first, []
            while self.is_rest_day(last):
                if (name := self._named(last)) and name not in names:
                    names.append(name)
                last += timedelta(days=1)
            last -= timedelta(days=1)
            provisional = any(self.source(y) == "provisional" for y in range(first.year, last.year + 1))
            periods.append(HolidayPeriod(first, last, tuple(names), provisional))
            day = last + timedelta(days=1)
        return periods


_region_parents: weakref.WeakKeyDictionary[Any, dict[uuid.UUID, uuid.UUID | None]] = (
    weakref.WeakKeyDictionary()
)


def region_lineage(session: Session, region_id: uuid.UUID | None) -> list[uuid.UUID]:
    """The region and its ancestors, nearest first (a district, then its city)."""
    if region_id is None:
        return []
    # Regions are few and a region's parent never changes (only the seed and migrations write them): the process
    # reads the map once per database, and again only when asked about a region it does not know yet (issue 14).
    engine = session.get_bind()
    parents = _region_parents.get(engine) or {}
    if region_id not in parents:
        parents = dict(session.execute(sa.select(Region.id, Region.parent_id)).all())
        _region_parents[engine] = parents  # replaced whole: a concurrent reader keeps the map it has
    lineage: list[uuid.UUID] = []
    current: uuid.UUID | None = region_id
    while current is not None and current not in lineage:
        lineage.append(current)
        current = parents.get(current)
    return lineage


def _farthest_first(rows: Iterable[Any], lineage: list[uuid.UUID]) -> list[Any]:
    # Farthest region first so that a nearer region's entry (a district's correction) wins over its city's.
    rank = {rid: i for i, rid in enumerate(lineage)}
    return sorted(rows, key=lambda r: -rank[r.region_id])


def get_calendar(session: Session, region_id: uuid.UUID | None) -> ChinaHolidayCalendar:
    """The calendar of a region: the years its city confirmed, and its own and its ancestors' overrides (FZ-04)."""
    lineage = region_lineage(session, region_id)
    if not lineage:
        return ChinaHolidayCalendar()
    # The confirmed years and the one-day overrides in one statement (issue 14): a year's row has no day, an
    # override's no year.
    years = sa.select(
        CalendarYear.region_id,
        CalendarYear.year,
        CalendarYear.periods,
        CalendarYear.workdays,
        sa.cast(sa.null(), sa.Date).label("day"),
        sa.cast(sa.null(), sa.Boolean).label("rest_day"),
    ).where(CalendarYear.region_id.in_(lineage))
    overrides = sa.select(
        CalendarOverride.region_id,
        sa.cast(sa.null(), sa.Integer),
        sa.cast(sa.null(), sa.JSON),
        sa.cast(sa.null(), sa.JSON),
        CalendarOverride.day,
        CalendarOverride.rest_day,
    ).where(CalendarOverride.region_id.in_(lineage))
    rows = _farthest_first(session.execute(sa.union_all(years, overrides)).all(), lineage)
    return ChinaHolidayCalendar(
        overrides={r.day: r.rest_day for r in rows if r.day is not None},
        confirmed={r.year: confirmed_year(r.year, r.periods, r.workdays) for r in rows if r.year is not None},
    )


# Calendars per database and region as read at one context generation (permits.context.GENERATION, 0027): every
# change to calendar years and overrides moves it, so a copy read at the generation a permit was read with is
# current for that permit's action and answer.
_at_generation: PerGeneration[ChinaHolidayCalendar] = PerGeneration()


def calendar_at(session: Session, region_id: uuid.UUID | None, generation: int) -> ChinaHolidayCalendar:
    """The region's calendar at the context `generation`: the process's copy read at it, or read now and kept."""
    return _at_generation.get(session, generation, region_id, lambda: get_calendar(session, region_id))
