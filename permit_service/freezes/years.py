"""The State Council's yearly holiday notice, entered by a city's regulator in one step (FZ-04): checked,
previewed against the year the city has now, then confirmed and used over every package."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service.audit import service as audit
from permit_service.auth.principal import Principal
from permit_service.calendar import ZH_NAMES, ChinaHolidayCalendar, YearSchedule, confirmed_year, get_calendar
from permit_service.directory.models import Region
from permit_service.errors import Forbidden, ValidationProblem
from permit_service.freezes.models import CalendarYear

# The notice names the festivals in Chinese, with or without 节; English follows the calendar packages.
_EN_NAMES = {zh: en for en, zh in ZH_NAMES.items()} | {
    "清明节": "Tomb-sweeping Day",
    "端午节": "Dragon Boat Festival",
    "中秋节": "Mid-autumn Festival",
}


def _city(session: Session, principal: Principal) -> Region:
    """The city whose year the caller confirms: only a regulator of a city (not of a district) confirms it."""
    region = session.get(Region, principal.region_id) if principal.region_id else None
    if region is None or region.level != "city":
        raise Forbidden(
            "只有市级监管部门可以确认全市的年度节假日安排",
            "Only the city's regulator confirms the city's yearly holiday schedule",
            rule="FZ-04",
        )
    return region


def _check(year: int, periods: Sequence[Mapping[str, Any]], workdays: Sequence[date]) -> None:
    """422 naming each field that breaks the notice: outside the year, overlapping, a make-up day in a break."""
    errors: dict[str, list[str]] = {}
    outside = f"须在 {year} 年内 / must be in {year}"
    if not 2000 <= year <= 2100:
        errors["year"] = ["须在 2000 至 2100 之间 / must be between 2000 and 2100"]
    for i, period in enumerate(periods):
        for end in ("first", "last"):
            if period[end].year != year:
                errors.setdefault(f"periods.{i}.{end}", []).append(outside)
        if period["last"] < period["first"]:
            errors.setdefault(f"periods.{i}.last", []).append("不得早于 first / must not be before first")
        for j, other in enumerate(periods[:i]):
            if period["first"] <= other["last"] and other["first"] <= period["last"]:
                errors.setdefault(f"periods.{i}", []).append(f"与 periods.{j} 重叠 / overlaps periods.{j}")
    for i, day in enumerate(workdays):
        if day.year != year:
            errors.setdefault(f"workdays.{i}", []).append(outside)
        if day.weekday() < 5:
            errors.setdefault(f"workdays.{i}", []).append(
                "调休上班日须为周六或周日 / a make-up working day is a Saturday or Sunday"
            )
        for j, period in enumerate(periods):
            if period["first"] <= day <= period["last"]:
                errors.setdefault(f"workdays.{i}", []).append(
                    f"在假期 periods.{j} 之内 / falls inside the holiday periods.{j}"
                )
    if errors:
        raise ValidationProblem(
            errors,
            "年度节假日安排有误，未作任何更改",
            "The holiday schedule is invalid; nothing changed",
            rule="FZ-04",
        )


def _stored(year: int, data: Mapping[str, Any]) -> tuple[list[dict[str, str]], list[str]]:
    periods = sorted(data["periods"], key=lambda p: p["first"])
    _check(year, data["periods"], data["workdays"])
    return (
        [
            {
                "first": p["first"].isoformat(),
                "last": p["last"].isoformat(),
                "name_zh": p["name_zh"],
                "name_en": p.get("name_en") or _EN_NAMES.get(p["name_zh"], p["name_zh"]),
            }
            for p in periods
        ],
        sorted({d.isoformat() for d in data["workdays"]}),
    )


def _changes(before: YearSchedule, after: YearSchedule) -> list[dict[str, Any]]:
    """The days whose rest or holiday name differ between two schedules of a year."""
    changes = []
    day = date(before.year, 1, 1)
    while day.year == before.year:
        was, now = (before.is_rest_day(day), before.name(day)), (after.is_rest_day(day), after.name(day))
        if was != now:
            changes.append(
                {
                    "day": day,
                    "rest_day_before": was[0],
                    "rest_day_after": now[0],
                    "holiday_before": was[1][0] if was[1] else None,
                    "holiday_after": now[1][0] if now[1] else None,
                }
            )
        day += timedelta(days=1)
    return changes


def _answer(
    city: Region,
    year: int,
    before: ChinaHolidayCalendar,
    after: YearSchedule,
    notice: str,
    *,
    confirmed: bool,
) -> dict[str, Any]:
    """The notice's year as it would be (or now is) used, and what it changes against the year before."""
    # Without the region's one-day corrections: they stay on top of whatever the year becomes.
    calendar = ChinaHolidayCalendar(confirmed={**before.confirmed, year: after})
    return {
        "year": year,
        "region_id": city.id,
        "source_before": before.source(year),
        "confirmed": confirmed,
        "notice": notice,
        "changes": _changes(before.year(year), after),
        "items": calendar.holidays_between(date(year, 1, 1), date(year, 12, 31)),
        "workdays": sorted(after.workdays),
    }


def preview_year(
    session: Session, *, principal: Principal, year: int, data: Mapping[str, Any]
) -> dict[str, Any]:
    """What confirming the notice would change against the year the city has now; nothing is stored."""
    city = _city(session, principal)
    periods, workdays = _stored(year, data)
    after = confirmed_year(year, periods, workdays)
    return _answer(city, year, get_calendar(session, city.id), after, data["notice"], confirmed=False)


def confirm_year(
    session: Session, *, principal: Principal, year: int, data: Mapping[str, Any], now: datetime
) -> tuple[dict[str, Any], bool]:
    """Confirm the city's year from the notice (replacing an earlier confirmation), audited; True if new."""
    city = _city(session, principal)
    periods, workdays = _stored(year, data)
    before = get_calendar(session, city.id)
    record = session.scalar(
        sa.select(CalendarYear)
        .where(CalendarYear.region_id == city.id, CalendarYear.year == year)
        .with_for_update()
    )
    created = record is None
    if record is None:
        record = CalendarYear(id=uuid.uuid4(), region_id=city.id, year=year)
        session.add(record)
    record.periods, record.workdays, record.notice = periods, workdays, data["notice"]
    record.confirmed_by, record.confirmed_at = principal.id, now
    session.flush()
    result = _answer(
        city, year, before, confirmed_year(year, periods, workdays), data["notice"], confirmed=True
    )
    audit.record(
        session,
        kind="calendar.year_confirmed",
        actor=principal,
        subject_type="calendar_year",
        subject_id=record.id,
        region_id=city.id,
        data={
            "year": year,
            "source_before": result["source_before"],
            "notice": record.notice,
            "periods": periods,
            "workdays": workdays,
            "changed_days": [c["day"].isoformat() for c in result["changes"]],
        },
    )
    return result, created
