"""Working hours 作业时段 (HW-03, HW-06; GB 5.1.1, 5.2.15): when the work is done, not how long the permit is valid.

A permit may state its daily working periods in local time (Asia/Shanghai), e.g. 08:00-12:00 and 13:30-17:30 for
a day shift, or 20:00-04:00 for a night shift (a period ending at or before its start runs past midnight). Each
period applies on every day of the validity and is cut to it. Only working time that falls at night (policy
night_start/night_end, default 20:00-06:00) or on a rest day upgrades hot work; outside its working time the permit
is not active (the scheduler suspends it at a period's end and resuming re-tests the gas after the interruption,
HW-06). A permit that states no period works its whole validity.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from workflows.model import Context, HolidayCalendar, PermitData, WorkingPeriod
from workflows.rules import Guard, Violation
from workflows.rules.general import aware

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY_MINUTES = 24 * 60
Span = tuple[datetime, datetime]  # [start, end), aware


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _length(period: WorkingPeriod) -> int:
    """The period's length in minutes (0 for a period that starts and ends at the same time)."""
    return (_minutes(period.end) - _minutes(period.start)) % DAY_MINUTES


def label(period: WorkingPeriod) -> str:
    """08:00-12:00."""
    return f"{period.start:%H:%M}-{period.end:%H:%M}"


def overnight(period: WorkingPeriod) -> bool:
    """Whether the period runs past midnight into the next day (a night shift)."""
    return _minutes(period.end) <= _minutes(period.start)


def _local_days(start: datetime, end: datetime) -> Iterator[date]:
    """Every Asia/Shanghai day that [start, end) touches."""
    day, last = (
        start.astimezone(SHANGHAI).date(),
        (end - timedelta(microseconds=1)).astimezone(SHANGHAI).date(),
    )
    while day <= last:
        yield day
        day += timedelta(days=1)


def _cut(start: datetime, end: datetime, period: WorkingPeriod) -> Iterator[Span]:
    """The period on each day, cut to [start, end); yesterday's night shift may reach into it."""
    for day in _local_days(start - timedelta(days=1), end):
        begin = datetime.combine(day, period.start, SHANGHAI)
        finish = begin + timedelta(minutes=_length(period))
        if max(begin, start) < min(finish, end):
            yield max(begin, start), min(finish, end)


def working_time(
    valid_from: datetime, valid_until: datetime, periods: Sequence[WorkingPeriod]
) -> tuple[Span, ...]:
    """The spans the permit is worked in, in order: each period on each day, cut to the validity (the whole
    validity when no period is stated)."""
    start, end = aware(valid_from), aware(valid_until)
    if not periods:
        return ((start, end),)
    return tuple(sorted(span for period in periods for span in _cut(start, end, period)))


def misstated(
    valid_from: datetime, valid_until: datetime, periods: Sequence[WorkingPeriod], rule: str
) -> Violation | None:
    """HW-03: each period has a length, no two overlap, and each falls within the validity at least once."""
    empty = [label(p) for p in periods if _length(p) == 0]
    if empty:
        names = ", ".join(empty)
        return Violation(
            rule,
            f"作业时段的开始与结束不能相同：{names}",
            f"a working period cannot start and end at once: {names}",
        )
    for i, first in enumerate(periods):
        for second in periods[i + 1 :]:
            # On the 24-hour clock face: one starts inside the other.
            gap = (_minutes(second.start) - _minutes(first.start)) % DAY_MINUTES
            if gap < _length(first) or (DAY_MINUTES - gap) % DAY_MINUTES < _length(second):
                pair = f"{label(first)} / {label(second)}"
                return Violation(rule, f"作业时段重叠：{pair}", f"working periods overlap: {pair}")
    outside = [label(p) for p in periods if not any(_cut(aware(valid_from), aware(valid_until), p))]
    if outside:
        names = ", ".join(outside)
        return Violation(
            rule, f"作业时段不在有效期内：{names}", f"working periods outside the validity: {names}"
        )
    return None


def periods_stated_well(rule: str) -> Guard:
    """A submit guard: the stated working periods are well formed and within the validity (HW-03)."""

    def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        return misstated(permit.valid_from, permit.valid_until, permit.working_periods, rule)

    return guard


# --- when the work is done: night and rest days (HW-03) -------------------------------------------


def _clock(policy: Mapping[str, Any], key: str, default: str) -> time:
    hours, minutes = str(policy.get(key, default)).split(":")
    return time(int(hours), int(minutes))


def at_night(start: datetime, end: datetime, policy: Mapping[str, Any]) -> bool:
    """Whether [start, end) overlaps the night (policy night_start/night_end, default 20:00-06:00)."""
    night = WorkingPeriod(_clock(policy, "night_start", "20:00"), _clock(policy, "night_end", "06:00"))
    if _length(night) == 0:
        return False
    return any(_cut(aware(start), aware(end), night))


def on_rest_day(start: datetime, end: datetime, calendar: HolidayCalendar) -> bool:
    """Whether any Asia/Shanghai day of [start, end) is a holiday or rest day per the calendar."""
    return any(calendar.is_rest_day(day) for day in _local_days(aware(start), aware(end)))


def upgrades(
    valid_from: datetime, valid_until: datetime, periods: Sequence[WorkingPeriod], ctx: Context
) -> tuple[str, ...]:
    """HW-03: "rest_day" and "night" when some working time falls on a rest day or at night."""
    spans = working_time(valid_from, valid_until, periods)
    reasons = []
    if any(on_rest_day(start, end, ctx.calendar) for start, end in spans):
        reasons.append("rest_day")
    if any(at_night(start, end, ctx.policy) for start, end in spans):
        reasons.append("night")
    return tuple(reasons)


# --- at work only in working time (HW-03) ---------------------------------------------------------


def working_at(
    valid_from: datetime, valid_until: datetime, periods: Sequence[WorkingPeriod], moment: datetime
) -> bool:
    """Whether `moment` falls in the working time."""
    return any(start <= moment < end for start, end in working_time(valid_from, valid_until, periods))


def outside_working_time(
    valid_from: datetime, valid_until: datetime, periods: Sequence[WorkingPeriod], moment: datetime, rule: str
) -> Violation | None:
    """HW-03: why a permit with stated periods is not at work at `moment`, naming its next period (None inside its
    working time, and always for a permit that states none)."""
    if not periods or working_at(valid_from, valid_until, periods, moment):
        return None
    spans = working_time(valid_from, valid_until, periods)
    coming = next(((start, end) for start, end in spans if start > moment), None)
    if coming is None:
        return Violation(rule, "作业票的作业时段已全部结束", "none of the permit's working periods is left")
    start, end = (at.astimezone(SHANGHAI) for at in coming)
    when = f"{start:%Y-%m-%d %H:%M}-{end:%H:%M}"
    return Violation(
        rule,
        f"当前不在作业时段内，下一作业时段：{when}",
        f"now is outside the permit's working periods; the next is {when} (Asia/Shanghai)",
    )


def in_working_time(rule: str) -> Guard:
    """An activate and resume guard: a permit with stated working periods works only in them (HW-03)."""

    def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        return outside_working_time(
            permit.valid_from, permit.valid_until, permit.working_periods, ctx.now, rule
        )

    return guard
