"""Working hours (HW-03, HW-06): only the working periods at night or on a rest day upgrade hot work, periods are
well formed and inside the validity, and the permit is at work only within them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from workflows import get_workflow, working_hours
from workflows.model import WorkingPeriod
from workflows.states import State

from .factories import LEADER, FakeCalendar, actor, check, ctx, gas_test, permit

HW = get_workflow("hot_work")
TUESDAY_8 = datetime(2025, 3, 4, 0, 0, tzinfo=UTC)  # 08:00 Shanghai, a working Tuesday
THREE_DAYS = {"valid_from": TUESDAY_8, "valid_until": TUESDAY_8 + timedelta(hours=72)}  # to Friday 08:00


def periods(*spans: str) -> tuple[WorkingPeriod, ...]:
    """ "08:00-12:00" -> a WorkingPeriod."""
    out = []
    for span in spans:
        start, end = (time.fromisoformat(t) for t in span.split("-"))
        out.append(WorkingPeriod(start, end))
    return tuple(out)


DAY_SHIFT = periods("08:00-12:00", "13:30-17:30")


def grade(window: dict, stated: tuple[WorkingPeriod, ...], **kw) -> str | None:
    return HW.grading.derive({}, ctx(**kw), window["valid_from"], window["valid_until"], stated)


def test_HW_03_a_day_shift_over_three_days_stays_level_2_for_its_72_hours() -> None:
    assert grade(THREE_DAYS, DAY_SHIFT) == "level2"
    p = permit(working_periods=DAY_SHIFT, **THREE_DAYS)
    assert check(p, "submit", now=TUESDAY_8 - timedelta(hours=1)) == set()
    assert HW.fire(p, "submit", ctx(now=TUESDAY_8 - timedelta(hours=1))).grade == "level2"


def test_HW_03_without_stated_periods_the_whole_validity_is_working_time_as_before() -> None:
    assert grade(THREE_DAYS, ()) == "level1"  # its nights count
    assert "G-12" in check(permit(**THREE_DAYS), "submit")  # level 1 runs 8 h at most


@pytest.mark.parametrize(
    ("stated", "upgraded"),
    [
        (("20:00-04:00",), True),  # a night shift
        (("05:00-12:00",), True),  # starts before 06:00
        (("14:00-21:00",), True),  # runs past 20:00
        (("06:00-20:00",), False),  # from the night's end to its start
        (("08:00-12:00", "13:30-17:30", "19:00-22:00"), True),  # a late period beside the day shift
    ],
)
def test_HW_03_only_working_periods_at_night_upgrade(stated: tuple[str, ...], upgraded: bool) -> None:
    assert (grade(THREE_DAYS, periods(*stated)) == "level1") is upgraded


def test_HW_03_the_night_follows_the_policy() -> None:
    early = periods("06:30-17:00")
    assert grade(THREE_DAYS, early) == "level2"
    assert grade(THREE_DAYS, early, policy={"night_start": "19:00", "night_end": "07:00"}) == "level1"


def test_HW_03_a_working_period_on_a_rest_day_upgrades_and_a_rest_day_without_one_does_not() -> None:
    thursday = FakeCalendar({date(2025, 3, 6)})
    assert grade(THREE_DAYS, DAY_SHIFT, calendar=thursday) == "level1"
    # Friday is a rest day, but the validity ends at 08:00 that morning, before its first period.
    assert grade(THREE_DAYS, DAY_SHIFT, calendar=FakeCalendar({date(2025, 3, 7)})) == "level2"
    # A night shift starting on Wednesday evening reaches into a Thursday holiday: rest day and night.
    assert working_hours.upgrades(
        THREE_DAYS["valid_from"], THREE_DAYS["valid_until"], periods("20:00-04:00"), ctx(calendar=thursday)
    ) == ("rest_day", "night")


def test_HW_03_working_time_is_each_period_on_each_day_cut_to_the_validity() -> None:
    start = TUESDAY_8 + timedelta(hours=2)  # 10:00 Tuesday
    spans = working_hours.working_time(
        start, start + timedelta(days=1), periods("08:00-12:00", "22:00-02:00")
    )
    local = [(a.astimezone(working_hours.SHANGHAI), b.astimezone(working_hours.SHANGHAI)) for a, b in spans]
    assert [f"{a:%d %H:%M}-{b:%d %H:%M}" for a, b in local] == [
        "04 10:00-04 12:00",  # cut at the validity's start
        "04 22:00-05 02:00",  # the night shift runs past midnight
        "05 08:00-05 10:00",  # cut at the validity's end
    ]


@pytest.mark.parametrize(
    ("stated", "words"),
    [
        (("08:00-08:00",), "cannot start and end at once"),
        (("08:00-12:00", "11:00-14:00"), "overlap"),
        (("08:00-12:00", "08:00-09:00"), "overlap"),
        (("22:00-02:00", "01:00-03:00"), "overlap"),  # past midnight
        (("20:00-06:00", "05:00-07:00"), "overlap"),
    ],
)
def test_HW_03_malformed_or_overlapping_periods_are_refused_at_submit(
    stated: tuple[str, ...], words: str
) -> None:
    p = permit(working_periods=periods(*stated), **THREE_DAYS)
    assert "HW-03" in check(p, "submit", now=TUESDAY_8 - timedelta(hours=1))
    found = working_hours.misstated(p.valid_from, p.valid_until, p.working_periods, "HW-03")
    assert found is not None and words in found.en


def test_HW_03_a_period_that_never_falls_in_the_validity_is_refused_and_touching_periods_are_not() -> None:
    day = {"valid_from": TUESDAY_8, "valid_until": TUESDAY_8 + timedelta(hours=10)}  # 08:00-18:00
    evening = working_hours.misstated(day["valid_from"], day["valid_until"], periods("20:00-23:00"), "HW-03")
    assert evening is not None and evening.en == "working periods outside the validity: 20:00-23:00"
    touching = periods("08:00-12:00", "12:00-16:00")
    assert working_hours.misstated(day["valid_from"], day["valid_until"], touching, "HW-03") is None


def test_HW_03_only_hot_work_states_working_periods() -> None:
    assert HW.catalogue()["working_periods_rule"] == "HW-03"
    assert get_workflow("confined_space").catalogue()["working_periods_rule"] is None


# -- at work only within its working periods ----------------------------------------------------------


def starting(p, now: datetime) -> list:
    """What the work leader's activation meets at `now`."""
    return HW.check(p, "activate", ctx(actor("work_leader", person_id=LEADER), now=now))


def test_HW_03_activation_outside_the_working_periods_is_refused_naming_the_next_period() -> None:
    p = permit(state=State.briefed, working_periods=DAY_SHIFT, **THREE_DAYS)  # briefed at 10:00 Tuesday
    lunch = TUESDAY_8 + timedelta(hours=4, minutes=30)  # 12:30
    p = replace(p, gas_tests=(gas_test(at=lunch),))
    violations = starting(p, lunch)
    assert [v.rule_id for v in violations] == ["HW-03"]
    assert violations[0].en == (
        "now is outside the permit's working periods; the next is 2025-03-04 13:30-17:30 (Asia/Shanghai)"
    )
    assert "2025-03-04 13:30-17:30" in violations[0].zh
    assert "activate" not in HW.allowed_actions(p, ctx(actor("work_leader", person_id=LEADER), now=lunch))
    afternoon = lunch + timedelta(hours=1)
    assert starting(replace(p, gas_tests=(gas_test(at=afternoon),)), afternoon) == []


def test_HW_03_after_the_last_period_nothing_is_left_to_work() -> None:
    p = permit(state=State.briefed, working_periods=DAY_SHIFT, **THREE_DAYS)
    last_evening = TUESDAY_8 + timedelta(
        days=2, hours=12
    )  # Thursday 20:00; the validity runs to Friday 08:00
    p = replace(p, gas_tests=(gas_test(at=last_evening),))
    assert [v.en for v in starting(p, last_evening)] == ["none of the permit's working periods is left"]


def test_HW_03_HW_06_resuming_waits_for_the_next_period_and_then_for_a_fresh_gas_test() -> None:
    """Suspended at 12:00 when the morning period ended: not before 13:30, and then (level 2, over 60 min) only
    with a gas test sampled since the suspension."""
    noon = TUESDAY_8 + timedelta(hours=4)
    p = permit(state=State.suspended, working_periods=DAY_SHIFT, suspended_at=noon, **THREE_DAYS)
    assert p.grade == "level2"
    assert "HW-03" in check(p, "resume", now=noon + timedelta(minutes=30))
    half_past_one = noon + timedelta(minutes=90)
    assert check(p, "resume", now=half_past_one) == {"HW-06"}
    retested = replace(p, gas_tests=(*p.gas_tests, gas_test(at=half_past_one - timedelta(minutes=5))))
    assert check(retested, "resume", now=half_past_one) == set()
