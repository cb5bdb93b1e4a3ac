"""China's statutory holidays and make-up working days (`chinese_calendar`), corrected per region by regulators.

The workflow core asks `is_rest_day(day)` for the hot-work upgrade (HW-03); the holiday periods become
proposed freezes (FZ-04). Years the library does not cover fall back to weekends, and every answer that
depends on such a year says so (`coverage_gap`): the CLI refuses, the API carries a bilingual notice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service.directory.models import Region
from permit_service.freezes.models import CalendarOverride

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
_ZH_NAMES = {holiday.value: holiday.chinese for holiday in chinese_calendar.Holiday}
_warned_years: set[int] = set()


def _uncovered(year: int) -> None:
    if year not in _warned_years:
        _warned_years.add(year)
        log.warning(
            "holiday calendar has no data for this year: weekends only until chinese_calendar is upgraded",
            extra={"year": year, "package_version": chinese_calendar.__version__},
        )


def _statutory(day: date) -> tuple[bool, str | None] | None:
    """(rest day, holiday name) from the library; None when it does not cover the year."""
    try:
        rest, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        _uncovered(day.year)
        return None
    # The library names make-up working days too; a name counts only on a rest day.
    return (rest, name if rest else None)


@dataclass(frozen=True)
class HolidayPeriod:
    """Consecutive statutory rest days (e.g. 国庆节 2026-10-01..10-07), as Asia/Shanghai dates."""

    first: date
    last: date
    names_en: tuple[str, ...]

    @property
    def name_en(self) -> str:
        """The holiday name(s) in English."""
        return " / ".join(self.names_en)

    @property
    def name_zh(self) -> str:
        """The holiday name(s) in Chinese."""
        return "、".join(_ZH_NAMES.get(name, name) for name in self.names_en)

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


@dataclass
class ChinaHolidayCalendar:
    """HolidayCalendar for the workflow core: overrides first, then the statutory calendar, then weekends."""

    overrides: Mapping[date, bool] = field(default_factory=dict)
    uncovered_years: set[int] = field(default_factory=set)

    def is_rest_day(self, day: date) -> bool:
        """Statutory holidays and weekends rest; make-up working days (调休上班) do not; overrides win."""
        if day in self.overrides:
            return self.overrides[day]
        if self.covers(day.year):
            return chinese_calendar.is_holiday(day)
        self.uncovered_years.add(day.year)
        return day.weekday() >= 5

    @staticmethod
    def covers(year: int) -> bool:
        """Whether the statutory calendar knows this year (otherwise only weekends are rest days)."""
        return _statutory(date(year, 6, 1)) is not None


@dataclass(frozen=True)
class CoverageGap:
    """Years the statutory calendar has no data for: their holidays and make-up days are unknown (FZ-04, HW-03)."""

    years: tuple[int, ...]

    @property
    def message_zh(self) -> str:
        """The notice in Chinese."""
        years = "、".join(map(str, self.years))
        return (
            f"节假日日历（chinese-calendar {chinese_calendar.__version__}）没有{years}年的数据："
            "该年法定节假日及调休未知，动火升级（HW-03）仅按周末计算，也不会据此建议冻结；"
            "请升级日历库，或由监管部门逐日调整日历"
        )

    @property
    def message_en(self) -> str:
        """The notice in English."""
        years = ", ".join(map(str, self.years))
        return (
            f"the holiday calendar (chinese-calendar {chinese_calendar.__version__}) has no data for {years}: "
            "its statutory holidays and make-up working days are unknown, the hot-work upgrade (HW-03) counts "
            "weekends only and no holiday freeze is proposed; upgrade chinese-calendar or have a regulator "
            "correct the calendar day by day"
        )


def coverage_gap(first: date, last: date) -> CoverageGap | None:
    """The years of [first, last] the statutory calendar does not cover, or None when it covers them all."""
    missing = tuple(y for y in range(first.year, last.year + 1) if not ChinaHolidayCalendar.covers(y))
    return CoverageGap(missing) if missing else None


def _resting(day: date) -> bool:
    detail = _statutory(day)
    return detail is not None and detail[0]


def holidays_between(start: date, end: date) -> list[HolidayPeriod]:
    """Statutory holiday periods overlapping [start, end]: each named holiday with the rest days around it."""
    periods: list[HolidayPeriod] = []
    day = start
    while day <= end:
        detail = _statutory(day)
        if detail is None:
            day = date(day.year + 1, 1, 1)
            continue
        if detail[1] is None:
            day += timedelta(days=1)
            continue
        # A break is the whole run of rest days around the holiday (weekends joined to it included).
        first = day
        while _resting(first - timedelta(days=1)):
            first -= timedelta(days=1)
        last, names = first, []
        while (detail := _statutory(last)) is not None and detail[0]:
            if detail[1] and detail[1] not in names:
                names.append(detail[1])
            last += timedelta(days=1)
        last -= timedelta(days=1)
        periods.append(HolidayPeriod(first=first, last=last, names_en=tuple(names)))
        day = last + timedelta(days=1)
    return periods


def region_lineage(session: Session, region_id: uuid.UUID | None) -> list[uuid.UUID]:
    """The region and its ancestors, nearest first (a district, then its city)."""
    if region_id is None:
        return []
    parents: dict[uuid.UUID, uuid.UUID | None] = session.info.get("region_parents") or {}
    if region_id not in parents:
        # Regions are few and change rarely: one query per session serves every lookup in it.
        parents = dict(session.execute(sa.select(Region.id, Region.parent_id)).all())
        session.info["region_parents"] = parents
    lineage: list[uuid.UUID] = []
    current: uuid.UUID | None = region_id
    while current is not None and current not in lineage:
        lineage.append(current)
        current = parents.get(current)
    return lineage


def _overrides(session: Session, lineage: list[uuid.UUID]) -> Iterator[tuple[date, bool]]:
    rows = session.execute(
        sa.select(CalendarOverride.region_id, CalendarOverride.day, CalendarOverride.rest_day).where(
            CalendarOverride.region_id.in_(lineage)
        )
    ).all()
    rank = {rid: i for i, rid in enumerate(lineage)}
    # Farthest region first so that a district's correction overrides its city's.
    for _region, day, rest in sorted(rows, key=lambda r: -rank[r.region_id]):
        yield day, rest


def get_calendar(session: Session, region_id: uuid.UUID | None) -> ChinaHolidayCalendar:
    """The calendar of a region: its own and its ancestors' overrides over the statutory calendar (FZ-04)."""
    return ChinaHolidayCalendar(overrides=dict(_overrides(session, region_lineage(session, region_id))))
