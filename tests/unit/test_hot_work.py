"""Hot work: grades (HW-01..03), gas before ignition (HW-04..06, HW-08), HW-07, HW-09..11."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from workflows import get_workflow
from workflows.model import Area
from workflows.states import State

from .factories import (
    BAD_AIR,
    NOW,
    FakeCalendar,
    actor,
    actor_for,
    check,
    ctx,
    fire,
    gas_test,
    neighbour,
    permit,
)

HW = get_workflow("hot_work")
DAY = {"valid_from": NOW, "valid_until": NOW + timedelta(hours=4)}  # 10:00-14:00 Shanghai, Tuesday
SPECIAL = {"fire_explosion_area": True, "on_running_equipment": True}
HW07 = {"continuous_gas_monitoring": True, "written_plan": "plan-7", "video_recording": True}
SPECIAL_READY = {**SPECIAL, **HW07}  # special grade with what HW-07 asks at submit


def grade(facts: dict, **kw) -> str | None:
    window = kw.pop("window", DAY)
    return HW.grading.derive(facts, ctx(**kw), window["valid_from"], window["valid_until"])


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({}, "level2"),
        ({"fire_explosion_area": True}, "level1"),
        (SPECIAL, "special"),
        ({"fire_explosion_area": True, "pressurised_without_purge": True}, "special"),
        ({"in_major_hazard_dike": True}, "special"),
        ({"on_running_equipment": True}, "level2"),
    ],
)
def test_HW_01_grade_from_facts(facts: dict, expected: str) -> None:
    assert grade(facts) == expected


def test_HW_01_blocks_lower_declared_grade() -> None:
    assert "HW-01" in check(permit(grade="level2", facts={"fire_explosion_area": True}), "submit")
    assert "HW-01" in check(permit(grade="level2", area=Area("area-1", fire_explosion_area=True)), "submit")


def test_HW_01_accepts_equal_or_higher_declared_grade_and_submit_returns_it() -> None:
    assert "HW-01" not in check(permit(grade="level1", facts={"fire_explosion_area": True}), "submit")
    out = HW.fire(permit(grade="level1"), "submit", ctx())
    assert out.grade == "level1"
    assert (
        HW.fire(permit(facts=SPECIAL_READY, valid_until=NOW + timedelta(hours=7)), "submit", ctx()).grade
        == "special"
    )


def test_HW_02_shut_down_unit_is_level2_approved_by_production_or_safety_lead() -> None:
    facts = {"fire_explosion_area": True, "unit_shutdown_isolated": True}
    assert grade(facts) == "level2"
    p = permit(state=State.submitted, facts=facts)
    assert "HW-02" in check(p, "approve", actor("unit_leader"))
    assert check(p, "approve", actor("safety_dept")) == set()
    assert check(p, "approve", actor("plant_manager")) == set()


@pytest.mark.parametrize(
    "facts",
    [
        {"in_major_hazard_dike": True},  # inside a major-hazard tank-farm dike
        {"fire_explosion_area": True, "on_running_equipment": True},  # on other running equipment
        {"fire_explosion_area": True, "pressurised_without_purge": True},
        {"fire_explosion_area": True, "unit_running": True},  # G-14: the area record says the unit runs
    ],
)
def test_HW_02_relief_never_lowers_dike_running_equipment_or_a_running_unit(facts: dict) -> None:
    relieved = grade({**facts, "unit_shutdown_isolated": True})
    assert relieved == grade(facts) != "level2"


def test_HW_02_G_14_dike_on_the_area_record_keeps_hot_work_special() -> None:
    dike = Area("tank-farm", fire_explosion_area=True, major_hazard=True, dike_code="D-1")
    p = permit(grade="level2", area=dike, facts={"unit_shutdown_isolated": True, **HW07})
    assert "HW-01" in check(p, "submit")
    assert HW.fire(replace(p, grade=None), "submit", ctx()).grade == "special"


def test_G_14_shutdown_cannot_be_declared_in_an_area_on_record_as_running() -> None:
    running = Area("unit", fire_explosion_area=True, running_unit=True)
    p = permit(area=running, facts={"unit_shutdown_isolated": True})
    assert "G-14" in check(p, "submit")
    assert "G-14" not in check(replace(p, area=replace(running, running_unit=False)), "submit")


def test_HW_03_upgrade_on_rest_day_via_calendar() -> None:
    holiday = FakeCalendar({date(2025, 3, 4)})
    assert grade({}, calendar=holiday) == "level1"
    assert grade({"fire_explosion_area": True}, calendar=holiday) == "special"
    assert grade({}, calendar=FakeCalendar({date(2025, 3, 5)})) == "level2"


def test_HW_03_upgrade_when_window_crosses_midnight_into_holiday() -> None:
    # 22:00 Shanghai on the 4th to 01:00 on the 5th: the 5th is a holiday (and it is night)
    window = {
        "valid_from": datetime(2025, 3, 4, 14, tzinfo=UTC),
        "valid_until": datetime(2025, 3, 4, 17, tzinfo=UTC),
    }
    assert grade({}, calendar=FakeCalendar({date(2025, 3, 5)}), window=window) == "level1"


@pytest.mark.parametrize(
    ("start_h", "end_h", "upgraded"),
    [(10, 14, False), (10, 20, False), (10, 21, True), (5, 9, True), (6, 19, False), (23, 24, True)],
)
def test_HW_03_night_window_in_shanghai(start_h: int, end_h: int, upgraded: bool) -> None:
    base = datetime(2025, 3, 4, tzinfo=UTC) - timedelta(hours=8)  # midnight Shanghai
    window = {"valid_from": base + timedelta(hours=start_h), "valid_until": base + timedelta(hours=end_h)}
    assert (grade({}, window=window) == "level1") is upgraded


def test_HW_03_night_window_follows_policy() -> None:
    base = datetime(2025, 3, 4, tzinfo=UTC) - timedelta(hours=8)
    window = {"valid_from": base + timedelta(hours=19), "valid_until": base + timedelta(hours=20)}
    assert grade({}, window=window) == "level2"
    assert grade({}, window=window, policy={"night_start": "19:00", "night_end": "07:00"}) == "level1"


def test_HW_03_wind_level_5_outdoors_upgrades() -> None:
    assert grade({"outdoor": True, "wind_level": 5}) == "level1"
    assert grade({"outdoor": True, "wind_level": 4}) == "level2"
    assert grade({"outdoor": False, "wind_level": 7}) == "level2"


def test_HW_03_wind_observed_on_site_upgrades_at_approval() -> None:
    """HW-03: filed for a calm day, approved in a level-5 wind outdoors: the grade and its approver go up."""
    p = permit(state=State.submitted, facts={"outdoor": True, "wind_level": 2})
    assert p.grade == "level2"
    windy = {"area_id": p.area.id, "weather": {"wind_level": 5, "conditions": []}}
    assert "G-10" in check(p, "approve", actor("unit_leader"), payload=windy)
    out = HW.fire(p, "approve", ctx(actor("safety_dept")), windy)
    assert out.grade == "level1" and out.signature.evidence["weather"] == windy["weather"]
    calm = {"area_id": p.area.id, "weather": {"wind_level": 4, "conditions": []}}
    assert check(p, "approve", actor("unit_leader"), payload=calm) == set()


def test_HW_03_a_calm_observation_keeps_a_grade_declared_for_wind() -> None:
    p = permit(state=State.submitted, facts={"outdoor": True, "wind_level": 6})
    assert p.grade == "level1"
    calm = {"area_id": p.area.id, "weather": {"wind_level": 1, "conditions": []}}
    assert "G-10" in check(p, "approve", actor("unit_leader"), payload=calm)
    assert HW.fire(p, "approve", ctx(actor("safety_dept")), calm).grade is None  # stays level1


def test_HW_03_wind_observed_at_activation_beyond_the_approved_grade_stops_the_start() -> None:
    p = fire(permit(state=State.approved, facts={"outdoor": True}), "record_gas_test")
    p = fire(fire(fire(p, "brief"), "brief"), "shift_check")
    assert p.state == State.briefed and p.grade == "level2"
    assert "SD-01" in check(p, "activate", payload={"weather": {"wind_level": 5, "conditions": []}})
    assert check(p, "activate", payload={"weather": {"wind_level": 4, "conditions": ["rain"]}}) == set()


def test_HW_03_special_upgraded_needs_principal() -> None:
    facts = {**SPECIAL_READY, "outdoor": True, "wind_level": 6}
    p = permit(state=State.submitted, facts=facts, valid_until=NOW + timedelta(hours=7))
    assert p.grade == "special"
    assert "HW-03" in check(p, "approve", actor("leader_in_charge"))
    assert check(p, "approve", actor("principal")) == set()


def test_HW_03_upgraded_grade_shortens_max_validity() -> None:
    p = permit(valid_until=NOW + timedelta(hours=9))
    assert "G-12" not in check(p, "submit")
    assert "G-12" in check(p, "submit", calendar=FakeCalendar({date(2025, 3, 4)}))


def test_HW_04_blocks_ignition_without_fresh_passing_gas_test() -> None:
    p = permit(state=State.briefed)
    assert "HW-04" in check(p, "activate", now=NOW + timedelta(minutes=31))
    assert "HW-04" in check(replace(p, gas_tests=()), "activate")
    assert "HW-04" in check(replace(p, gas_tests=(gas_test(passed=False),)), "activate")


def test_HW_04_passes_with_test_within_30_minutes_and_policy_age() -> None:
    p = permit(state=State.briefed)
    assert "HW-04" not in check(p, "activate", now=NOW + timedelta(minutes=30))
    assert "HW-04" not in check(
        p, "activate", now=NOW + timedelta(minutes=40), policy={"gas_test_max_age_minutes": 45}
    )


def test_HW_04_daily_retest_watch() -> None:
    p = permit(state=State.active)
    assert HW.watch(p, ctx()) == []
    assert HW.watch(permit(state=State.briefed), ctx(now=NOW + timedelta(days=1))) == []  # only active work
    assert [v.rule_id for v in HW.watch(p, ctx(now=NOW + timedelta(days=1)))] == ["HW-04"]


def test_HW_05_blocks_methane_over_half_percent() -> None:
    p = fire(permit(state=State.briefed), "record_gas_test", payload={"readings": list(BAD_AIR)})
    assert p.gas_tests[-1].passed is False
    assert "HW-04" in check(p, "activate")


def test_HW_05_record_gas_test_computes_verdict_and_findings() -> None:
    p = permit(state=State.briefed)
    out = HW.fire(
        p,
        "record_gas_test",
        ctx(actor("analyst")),
        {"readings": [{"gas": "C3H8", "value": 12, "unit": "%LEL"}]},
    )
    assert out.state == State.briefed and out.gas_test is not None and out.gas_test.passed is False
    assert out.signature.kind == "gas_test" and out.signature.evidence["passed"] is False
    assert out.signature.evidence["findings"][0]["rule"] == "HW-05"
    ok = HW.fire(
        p,
        "record_gas_test",
        ctx(actor("analyst")),
        {"readings": [{"gas": "CH4", "value": 8, "unit": "%LEL"}]},
    )
    assert ok.gas_test.passed is True and ok.gas_test.readings[0].unit == "%vol"


def test_HW_05_refuses_invalid_readings_and_wrong_role() -> None:
    p = permit(state=State.briefed)
    for bad in (
        {"gas": "CH4", "value": float("nan"), "unit": "%vol"},
        {"gas": "CH4", "value": -1, "unit": "%vol"},
        {"gas": "XX", "value": 1, "unit": "%vol"},
    ):
        assert "HW-05" in check(p, "record_gas_test", payload={"readings": [bad]})
    assert "HW-05" in check(p, "record_gas_test", payload={"readings": []})
    future = {
        "readings": [{"gas": "CH4", "value": 0.1, "unit": "%vol"}],
        "sampled_at": NOW + timedelta(hours=1),
    }
    assert "HW-05" in check(p, "record_gas_test", payload=future)
    assert "ROLE" in check(p, "record_gas_test", actor("worker"))


def test_HW_06_interruption_over_30_min_needs_retest_for_level1() -> None:
    p = permit(state=State.suspended, grade="level1", suspended_at=NOW)
    assert "HW-06" in check(p, "resume", now=NOW + timedelta(minutes=31))
    assert "HW-06" not in check(p, "resume", now=NOW + timedelta(minutes=20))


def test_HW_06_level2_allows_60_min_and_fresh_test_passes() -> None:
    p = permit(state=State.suspended, suspended_at=NOW)
    assert "HW-06" not in check(p, "resume", now=NOW + timedelta(minutes=50))
    assert "HW-06" in check(p, "resume", now=NOW + timedelta(minutes=61))
    retested = replace(p, gas_tests=(*p.gas_tests, gas_test(at=NOW + timedelta(minutes=60))))
    assert "HW-06" not in check(retested, "resume", now=NOW + timedelta(minutes=61))


def test_HW_07_blocks_special_grade_without_monitoring_plan_video() -> None:
    ready = permit(
        state=State.briefed, grade="special", facts=SPECIAL_READY, valid_until=NOW + timedelta(hours=7)
    )
    assert "HW-07" in check(replace(ready, facts=SPECIAL), "activate")


def test_HW_07_passes_with_monitoring_plan_video() -> None:
    p = permit(state=State.briefed, facts=SPECIAL_READY, valid_until=NOW + timedelta(hours=7))
    assert "HW-07" not in check(p, "activate")
    assert check(p, "activate") == set()


def test_HW_08_failed_test_during_work_suspends_and_blocks_resume_until_retest() -> None:
    p = permit(state=State.active)
    out = HW.fire(p, "record_gas_test", ctx(actor("analyst")), {"readings": list(BAD_AIR)})
    assert "suspend_permit" in out.effects
    p = fire(
        replace(p, gas_tests=(*p.gas_tests, out.gas_test)),
        "suspend",
        payload={"reason": "gas alarm", "reason_code": "gas_alarm"},
    )
    assert "HW-08" in check(p, "resume", now=NOW + timedelta(minutes=5))
    p = fire(p, "record_gas_test", now=NOW + timedelta(minutes=5))
    assert "HW-08" not in check(p, "resume", now=NOW + timedelta(minutes=6))


def test_HW_09_blocks_ignition_before_shift_leader_check() -> None:
    p = permit(state=State.briefed)
    unchecked = replace(p, signatures=tuple(s for s in p.signatures if s.kind != "shift_check"))
    assert "HW-09" in check(unchecked, "activate")
    assert "ROLE" in check(unchecked, "shift_check", actor("worker"))


def test_HW_09_shift_check_is_in_place_and_then_passes() -> None:
    p = permit(state=State.briefed)
    unchecked = replace(p, signatures=tuple(s for s in p.signatures if s.kind != "shift_check"))
    checked = fire(unchecked, "shift_check")
    assert checked.state == State.briefed
    assert "HW-09" not in check(checked, "activate")


@pytest.mark.parametrize(
    ("other", "facts"),
    [
        (neighbour("hot_work", activities=["flammable_gas_venting"], distance_m=25), {}),
        (neighbour("hot_work", activities=["flammable_liquid_discharge"], distance_m=12), {}),
        (neighbour("hot_work", activities=["painting"], distance_m=8), {}),
        (
            neighbour("confined_space", area_id="tank-farm", activities=["water_draining"], dike_code="D1"),
            {"area": Area("area-1", dike_code="D1")},  # G-14: the dike is the area record's
        ),
    ],
)
def test_HW_10_blocks_conflicting_activities_nearby(other, facts: dict) -> None:
    p = permit(state=State.submitted, **facts)
    found = HW.check(p, "approve", ctx(actor("unit_leader"), nearby=(other,)), {"area_id": "area-1"})
    hw10 = [v for v in found if v.rule_id == "HW-10"]
    assert hw10 and other.number in hw10[0].en and other.number in hw10[0].zh


def test_HW_10_blocks_hot_work_within_30_m_of_blind_plate_in_fire_area_both_ways() -> None:
    fire_area = Area("area-1", fire_explosion_area=True)
    hot = permit(state=State.submitted, area=fire_area, facts={"position": {"x": 0, "y": 0}})
    blind = neighbour("blind_plate", position={"x": 20, "y": 20})
    assert "HW-10" in check(hot, "approve", nearby=(blind,))
    bp = permit("blind_plate", State.submitted, area=fire_area)
    assert "HW-10" in check(bp, "approve", nearby=(neighbour("hot_work"),))


def test_HW_10_passes_when_far_enough_or_not_live() -> None:
    p = permit(
        state=State.submitted,
        area=Area("area-1", fire_explosion_area=True),
        facts={"position": {"x": 0, "y": 0}},
    )
    far = (
        neighbour("hot_work", activities=["flammable_gas_venting"], position={"x": 40, "y": 0}),
        neighbour("blind_plate", position={"x": 31, "y": 0}),
        neighbour("hot_work", state=State.closed, activities=["painting"]),
    )
    assert "HW-10" not in check(p, "approve", nearby=far)


def test_HW_11_blocks_hot_work_without_guardian() -> None:
    p = permit(state=State.briefed)
    assert "HW-11" in check(replace(p, crew=tuple(m for m in p.crew if m.role != "guardian")), "activate")


def test_HW_11_passes_with_guardian() -> None:
    assert "HW-11" not in check(permit(state=State.briefed), "activate")


def test_TE_01_hot_work_completion_ends_linked_temporary_power() -> None:
    from workflows.model import LinkedPermit

    linked = (LinkedPermit("ld-1", "LD-1", "temporary_power", State.active),)
    out = HW.fire(
        permit(state=State.active, linked=linked), "complete", ctx(actor("work_leader", person_id="p-leader"))
    )
    assert out.effects == ("end_linked_temporary_power",)
    plain = HW.fire(permit(state=State.active), "complete", ctx(actor("work_leader", person_id="p-leader")))
    assert plain.effects == ()


def test_signature_kinds_and_persons_follow_the_actor() -> None:
    p = permit(state=State.closed)
    assert [s.kind for s in p.signatures] == [
        "application",
        "approval",
        "gas_test",
        "briefing",
        "briefing",
        "shift_check",
        "activation",
        "completion",
        "acceptance",
        "closure",
    ]
    assert p.signatures[3].role == "work_leader" and p.signatures[4].role == "worker"


def test_HW_07_is_asked_at_submit_where_the_grade_is_known() -> None:
    draft = permit(facts=SPECIAL, valid_until=NOW + timedelta(hours=7))
    assert "HW-07" in check(draft, "submit")
    assert "HW-07" not in check(replace(draft, facts=SPECIAL_READY), "submit")


def test_HW_07_names_what_is_missing_in_chinese_and_by_code_in_english() -> None:
    draft = permit(
        facts={**SPECIAL, "written_plan": "特级动火作业方案"}, valid_until=NOW + timedelta(hours=7)
    )
    wf = get_workflow("hot_work")
    found = [
        v for v in wf.check(draft, "submit", ctx(actor_for(wf, draft, "submit")), {}) if v.rule_id == "HW-07"
    ]
    assert [(v.zh, v.en) for v in found] == [
        (
            "特级动火缺少：连续气体监测、全程视频监控",
            "special-grade hot work lacks: continuous_gas_monitoring, video_recording",
        )
    ]
