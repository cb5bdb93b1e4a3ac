"""Type rules: confined space, blind plate, height, lifting, temporary power, excavation, road closure."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from workflows import get_workflow
from workflows.model import Area, LinkedPermit
from workflows.rules import RuleViolation
from workflows.states import State

from .factories import NOW, actor, check, ctx, fire, gas_test, member_of, neighbour, permit

# -- confined space -----------------------------------------------------------------------------------------


def test_CS_01_blocks_entry_without_fresh_gas_test() -> None:
    assert "CS-01" in check(
        permit("confined_space", State.briefed), "activate", now=NOW + timedelta(minutes=31)
    )


def test_CS_01_passes_with_test_within_30_min() -> None:
    assert (
        check(permit("confined_space", State.briefed), "activate", now=NOW + timedelta(minutes=29)) == set()
    )


def test_CS_01_retest_after_interruption_over_60_min() -> None:
    p = permit("confined_space", State.suspended, suspended_at=NOW)
    assert "CS-01" in check(p, "resume", now=NOW + timedelta(minutes=61))
    assert "CS-01" not in check(p, "resume", now=NOW + timedelta(minutes=59))


def test_CS_02_failing_test_blocks_entry() -> None:
    p = fire(
        permit("confined_space", State.briefed),
        "record_gas_test",
        payload={
            "readings": [
                {"gas": "O2", "value": 18, "unit": "%vol"},
                {"gas": "CH4", "value": 0, "unit": "%vol"},
            ]
        },
    )
    assert p.gas_tests[-1].passed is False
    assert "CS-01" in check(p, "activate")


def test_CS_02_passing_test_lets_entry() -> None:
    p = fire(permit("confined_space", State.briefed), "record_gas_test")
    assert p.gas_tests[-1].passed is True and "CS-01" not in check(p, "activate")


def test_CS_03_monitoring_gap_with_people_inside() -> None:
    wf = get_workflow("confined_space")
    p = permit("confined_space", State.active, people_inside=2)
    assert [v.rule_id for v in wf.watch(p, ctx(now=NOW + timedelta(hours=2, minutes=1)))] == ["CS-03"]


def test_CS_03_no_gap_within_2_hours_or_when_empty() -> None:
    wf = get_workflow("confined_space")
    assert (
        wf.watch(permit("confined_space", State.active, people_inside=2), ctx(now=NOW + timedelta(hours=2)))
        == []
    )
    assert wf.watch(permit("confined_space", State.active), ctx(now=NOW + timedelta(hours=3))) == []


def test_CS_04_breach_needs_a_passing_retest_and_evacuates() -> None:
    wf = get_workflow("confined_space")
    p = permit("confined_space", State.active)
    out = wf.fire(
        p,
        "record_gas_test",
        ctx(actor("analyst")),
        {
            "readings": [
                {"gas": "O2", "value": 17, "unit": "%vol"},
                {"gas": "CH4", "value": 0, "unit": "%vol"},
            ]
        },
    )
    assert out.effects == ("suspend_permit", "evacuate")
    p = fire(replace(p, gas_tests=(*p.gas_tests, out.gas_test)), "suspend", payload={"reason": "O2 low"})
    assert "CS-04" in check(p, "resume", now=NOW + timedelta(minutes=2))


def test_CS_04_passes_after_passing_retest() -> None:
    p = permit(
        "confined_space",
        State.suspended,
        gas_tests=(gas_test(False, NOW - timedelta(minutes=1)),),
        suspended_at=NOW - timedelta(minutes=1),
    )
    p = fire(p, "record_gas_test")
    assert "CS-04" not in check(p, "resume")


def test_CS_05_blocks_completion_with_people_inside() -> None:
    assert "CS-05" in check(permit("confined_space", State.active, people_inside=1), "complete")


def test_CS_05_blocks_completion_with_tools_inside() -> None:
    blocked = check(permit("confined_space", State.active, tools_inside=2), "complete")
    assert "CS-05" in blocked


def test_CS_05_passes_when_everyone_is_out() -> None:
    assert check(permit("confined_space", State.active), "complete") == set()


def test_CS_06_blocks_painting_while_hot_work_runs_in_the_space() -> None:
    p = permit("confined_space", State.submitted, facts={"activities": ["painting"], "space_id": "T-1"})
    other = neighbour("hot_work", space_id="T-1")
    found = get_workflow("confined_space").check(
        p, "approve", ctx(actor("unit_leader"), nearby=(other,)), {"area_id": "area-1"}
    )
    assert [v for v in found if v.rule_id == "CS-06" and "X-hot_work" in v.en]
    hot = permit("hot_work", State.submitted, facts={"space_id": "T-1"})
    assert "CS-06" in check(
        hot, "approve", nearby=(neighbour("confined_space", activities=["coating"], space_id="T-1"),)
    )


def test_CS_06_passes_in_another_space() -> None:
    p = permit("confined_space", State.submitted, facts={"activities": ["painting"], "space_id": "T-1"})
    assert "CS-06" not in check(p, "approve", nearby=(neighbour("hot_work", space_id="T-2"),))


# -- blind plate --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "facts",
    [{"action": "insert_and_remove"}, {"blind_number": "B-9"}, {"diagram_blind_numbers": []}],
)
def test_BP_01_blocks_mismatched_blind_or_two_actions(facts: dict) -> None:
    assert "BP-01" in check(permit("blind_plate", facts=facts), "submit")


def test_BP_01_passes_one_blind_on_the_diagram() -> None:
    assert check(permit("blind_plate"), "submit") == set()


def test_BP_02_blocks_second_blind_job_on_same_pipeline() -> None:
    p = permit("blind_plate", State.submitted)
    assert "BP-02" in check(p, "approve", nearby=(neighbour("blind_plate", pipeline_id="L-101"),))


def test_BP_02_passes_on_another_pipeline() -> None:
    p = permit("blind_plate", State.submitted)
    assert "BP-02" not in check(p, "approve", nearby=(neighbour("blind_plate", pipeline_id="L-102"),))


def test_BP_03_blocks_toxic_line_without_portable_detector() -> None:
    assert "BP-03" in check(permit("blind_plate", State.submitted, facts={"line_gases": ["H2S"]}), "approve")


def test_BP_03_passes_with_detector_or_non_toxic_line() -> None:
    facts = {"line_gases": ["H2S"], "portable_detector": "PD-3"}
    assert "BP-03" not in check(permit("blind_plate", State.submitted, facts=facts), "approve")
    assert "BP-03" not in check(
        permit("blind_plate", State.submitted, facts={"line_gases": ["N2"]}), "approve"
    )


def test_BP_04_close_needs_work_unit_and_enterprise() -> None:
    p = fire(permit("blind_plate", State.completed), "accept", actor("work_leader"))
    assert "BP-04" in check(p, "close")
    assert "BP-04" in check(p, "accept", actor("applicant"))  # the work unit has already confirmed


def test_BP_04_passes_after_joint_confirmation() -> None:
    p = fire(permit("blind_plate", State.completed), "accept", actor("work_leader"))
    p = fire(p, "accept", actor("safety_dept"))
    assert check(p, "close") == set()


# -- work at height -----------------------------------------------------------------------------------------

HEIGHT = get_workflow("height")


@pytest.mark.parametrize(
    ("height", "hazards", "expected"),
    [
        (2, False, "I"),
        (5, False, "I"),
        (5.1, False, "II"),
        (15, False, "II"),
        (15.5, False, "III"),
        (30, False, "III"),
        (31, False, "IV"),
        (2, True, "II"),
        (10, True, "III"),
        (20, True, "IV"),
        (40, True, "IV"),
    ],
)
def test_WH_01_full_band_table(height: float, hazards: bool, expected: str) -> None:
    facts = {"height_m": height, "objective_hazards": ["strong_wind"] if hazards else []}
    assert HEIGHT.grading.derive(facts, ctx()) == expected


@pytest.mark.parametrize(
    ("floor", "expected"),
    [
        ("slope_over_45", "I"),
        ("near_opening", "II"),
        ("toxic_area", "II"),
        ("inside_tower", "II"),
        ("night_outdoor", "IV"),
        ("live_work", "IV"),
        ("abnormal_temperature", "IV"),
        ("snow_or_rain", "IV"),
    ],
)
def test_WH_01_floors(floor: str, expected: str) -> None:
    assert HEIGHT.grading.derive({"height_m": 3, floor: True}, ctx()) == expected


def test_WH_01_below_2_m_needs_no_permit_and_lower_grade_refused() -> None:
    with pytest.raises(RuleViolation) as exc:
        HEIGHT.grading.derive({"height_m": 1.5}, ctx())
    assert exc.value.rule == "WH-01" and "2 m" in exc.value.violations[0].en
    assert "WH-01" in check(permit("height", facts={"height_m": 1.5}), "submit")
    assert "WH-01" in check(permit("height", grade="I", facts={"height_m": 10}), "submit")
    assert "WH-01" in check(
        permit("height", facts={"height_m": 3, "objective_hazards": ["aliens"]}), "submit"
    )


def test_WH_01_passes_with_matching_grade() -> None:
    assert check(permit("height", grade="II", facts={"height_m": 10}), "submit") == set()


def weather(wind_level: int = 0, *conditions: str) -> dict:
    """An observation on site as the approve and activate bodies carry it."""
    return {"weather": {"wind_level": wind_level, "conditions": list(conditions)}}


def test_WH_02_blocks_wind_5_or_dense_fog() -> None:
    assert "WH-02" in check(permit("height", State.submitted, facts={"wind_level": 5}), "approve")
    assert "WH-02" in check(permit("height", State.briefed), "activate", payload=weather(0, "dense_fog"))


def test_WH_02_passes_in_calm_weather() -> None:
    assert "WH-02" not in check(permit("height", State.briefed, facts={"wind_level": 4}), "activate")
    assert "WH-02" not in check(permit("height", State.briefed), "activate", payload=weather(4, "heavy_fog"))


def test_WH_02_judges_the_weather_observed_on_site_over_the_forecast_declared() -> None:
    calm_forecast = permit("height", State.submitted, facts={"wind_level": 2})
    windy = {"area_id": "area-1", **weather(5)}
    assert "WH-02" in check(calm_forecast, "approve", payload=windy)
    briefed = permit("height", State.briefed)
    windy_forecast = replace(briefed, facts={**briefed.facts, "wind_level": 6, "dense_fog": True})
    assert "WH-02" in check(windy_forecast, "activate", payload={})
    assert "WH-02" not in check(windy_forecast, "activate", payload=weather(3))


def test_WH_02_LF_03_resuming_judges_the_weather_seen_on_site() -> None:
    """G-08: work stopped for the wind resumes only once the wind has dropped."""
    height = permit("height", State.suspended)
    assert "WH-02" in check(height, "resume", payload={"conditions_confirmed": True, **weather(5)})
    assert "WH-02" not in check(height, "resume", payload={"conditions_confirmed": True, **weather(3)})
    lifting = replace(permit("lifting", State.suspended), facts={**permit("lifting").facts, "outdoor": True})
    assert "LF-03" in check(lifting, "resume", payload={"conditions_confirmed": True, **weather(6)})
    assert "LF-03" not in check(lifting, "resume", payload={"conditions_confirmed": True, **weather(5)})


def test_WH_02_LF_03_weather_bound_work_starts_and_resumes_only_with_the_weather_reported() -> None:
    """A calm forecast at filing or a calm approval yesterday says nothing of the wind now."""
    for state, event, payload in (
        (State.briefed, "activate", {}),
        (State.suspended, "resume", {"conditions_confirmed": True}),
    ):
        height = permit("height", state)
        assert check(height, event, payload=payload) == {"WH-02"}
        assert check(height, event, payload={**payload, **weather(2)}) == set()
        outdoor = permit("lifting", state, facts={"outdoor": True})
        assert check(outdoor, event, payload=payload) == {"LF-03"}
        assert (
            check(permit("lifting", state), event, payload=payload) == set()
        )  # indoors: the weather is no matter


def test_WH_02_the_observation_is_kept_on_the_signature() -> None:
    rain = {"area_id": "area-1", **weather(3, "rain")}
    p = fire(permit("height", State.submitted), "approve", actor("plant_manager"), payload=rain)
    approval = [s for s in p.signatures if s.kind == "approval"][-1]
    assert approval.evidence["weather"] == {"wind_level": 3, "conditions": ["rain"]}
    assert p.grade == "IV"  # WH-01: rain seen on site sets the floor at level IV


def test_WH_01_rain_or_snow_observed_at_approval_needs_the_level_IV_approver() -> None:
    p = permit("height", State.submitted)
    assert p.grade == "I"
    assert "G-10" in check(
        p, "approve", actor("unit_leader"), payload={"area_id": "area-1", **weather(2, "snow")}
    )
    assert (
        check(p, "approve", actor("plant_manager"), payload={"area_id": "area-1", **weather(2, "snow")})
        == set()
    )


def test_WH_03_blocks_above_30_m_without_communication() -> None:
    assert "WH-03" in check(permit("height", facts={"height_m": 31}), "submit")


def test_WH_03_passes_with_communication() -> None:
    assert "WH-03" not in check(
        permit("height", facts={"height_m": 31, "communication_equipment": "radio"}), "submit"
    )


# -- lifting ------------------------------------------------------------------------------------------------

LIFT = get_workflow("lifting")


@pytest.mark.parametrize(
    ("load", "expected"),
    [(10, "level3"), (39.9, "level3"), (40, "level2"), (100, "level2"), (100.5, "level1")],
)
def test_LF_01_grade_by_load(load: float, expected: str) -> None:
    assert LIFT.grading.derive({"load_t": load}, ctx()) == expected


def test_LF_01_below_10_t_needs_no_permit() -> None:
    with pytest.raises(RuleViolation) as exc:
        LIFT.grading.derive({"load_t": 9.5}, ctx())
    assert exc.value.rule == "LF-01" and "no lifting permit is needed" in exc.value.violations[0].en
    assert "LF-01" in check(permit("lifting", facts={"load_t": 9.5}), "submit")
    assert "LF-01" in check(permit("lifting", facts={"load_t": None}), "submit")


def test_LF_01_lower_declared_grade_refused() -> None:
    assert "LF-01" in check(
        permit("lifting", grade="level3", facts={"load_t": 50, "lifting_plan": "p"}), "submit"
    )
    assert (
        check(permit("lifting", grade="level2", facts={"load_t": 50, "lifting_plan": "p"}), "submit") == set()
    )


def test_LF_02_blocks_level1_and_2_without_plan() -> None:
    assert "LF-02" in check(permit("lifting", facts={"load_t": 60}), "submit")


def test_LF_02_passes_with_plan_or_level3() -> None:
    assert "LF-02" not in check(permit("lifting", facts={"load_t": 60, "lifting_plan": "plan"}), "submit")
    assert "LF-02" not in check(permit("lifting"), "submit")


def test_LF_03_blocks_weather_and_overloaded_cranes() -> None:
    p = permit("lifting", State.briefed, facts={"outdoor": True})
    for seen in (weather(6), *(weather(0, c) for c in ("heavy_snow", "rainstorm", "heavy_fog", "dense_fog"))):
        assert "LF-03" in check(p, "activate", payload=seen), seen
    assert "LF-03" not in check(p, "activate", payload=weather(5, "rain", "snow"))
    forecast_storm = replace(p, facts={**p.facts, "wind_level": 7, "rainstorm": True})
    assert "LF-03" in check(forecast_storm, "activate", payload={})
    assert "LF-03" not in check(forecast_storm, "activate", payload=weather(3))
    cranes = [{"rated_t": 20, "load_t": 17}, {"rated_t": 20, "load_t": 10}]
    assert "LF-03" in check(permit("lifting", State.submitted, facts={"cranes": cranes}), "approve")


def test_LF_03_passes_indoors_and_within_80_percent() -> None:
    assert "LF-03" not in check(permit("lifting", State.briefed, facts={"wind_level": 7}), "activate")
    assert "LF-03" not in check(permit("lifting", State.briefed), "activate", payload=weather(8, "rainstorm"))
    cranes = [{"rated_t": 20, "load_t": 16}, {"rated_t": 20, "load_t": 10}]
    assert "LF-03" not in check(permit("lifting", State.submitted, facts={"cranes": cranes}), "approve")


def test_LF_04_signaller_signs_first() -> None:
    p = permit("lifting", State.approved)
    with pytest.raises(RuleViolation) as exc:
        fire(p, "brief", actor("work_leader", person_id="p-leader"))
    assert exc.value.rule == "LF-04"
    assert "LF-04" in check(permit("lifting", crew=permit("hot_work").crew), "submit")


def test_LF_04_passes_when_signaller_signs_first() -> None:
    p = fire(permit("lifting", State.approved), "brief", actor("worker", person_id="p-signaller"))
    assert p.signatures[-1].role == "signaller"
    assert check(p, "brief", actor("work_leader", person_id="p-leader")) == set()


# -- temporary electricity ----------------------------------------------------------------------------------

TE = get_workflow("temporary_power")


def test_TE_01_blocks_over_15_days_without_reason() -> None:
    v = TE.grading.validate_window(NOW, NOW + timedelta(days=16), None, {})
    assert v is not None and v.rule_id == "TE-01"
    assert TE.grading.validate_window(
        NOW, NOW + timedelta(days=31), None, {"extended_validity_reason": "long outage"}
    )


def test_TE_01_passes_30_days_with_stated_reason() -> None:
    assert TE.grading.validate_window(NOW, NOW + timedelta(days=15), None, {}) is None
    assert (
        TE.grading.validate_window(
            NOW, NOW + timedelta(days=30), None, {"extended_validity_reason": "turnaround"}
        )
        is None
    )


def test_TE_02_running_fire_area_needs_gas_test_before_power() -> None:
    area = Area("area-1", running_unit=True, fire_explosion_area=True)
    p = permit("temporary_power", State.briefed, area=area)
    assert "TE-02" in check(replace(p, gas_tests=()), "activate")


def test_TE_02_passes_outside_running_fire_area_or_with_test() -> None:
    assert "TE-02" not in check(replace(permit("temporary_power", State.briefed), gas_tests=()), "activate")
    area = Area("area-1", running_unit=True, fire_explosion_area=True)
    assert "TE-02" not in check(permit("temporary_power", State.briefed, area=area), "activate")


def test_TE_03_only_power_supplier_closes() -> None:
    p = fire(permit("temporary_power", State.completed), "accept")
    assert "TE-03" in check(p, "close", actor("unit_leader"))


def test_TE_03_power_supplier_closes() -> None:
    p = fire(permit("temporary_power", State.completed), "accept")
    assert check(p, "close", actor("power_supplier")) == set()


# -- excavation ---------------------------------------------------------------------------------------------

EX = get_workflow("excavation")


def test_EX_01_shallow_digging_needs_no_permit_and_countersign_comes_first() -> None:
    assert "EX-01" in check(permit("excavation", facts={"depth_m": 0.5}), "submit")
    p = permit("excavation", State.submitted)
    assert "STATE" in check(p, "approve", actor("specialist_dept"))
    assert "EX-01" in check(p, "countersign", payload={"department": "finance"})


def test_EX_01_a_required_fact_of_zero_is_judged_not_called_missing() -> None:
    violations = EX.check(permit("excavation", facts={"depth_m": 0}), "submit", ctx())
    assert [v.en for v in violations if v.rule_id == "EX-01"] == [
        "up to 0.5 m deep, without machine levelling or filling, no excavation permit is needed"
    ]


def test_EX_02_deep_digging_near_buried_lines_needs_confined_space_permit() -> None:
    facts = {"depth_m": 1.5, "buried_hazardous_lines": True}
    assert "EX-02" in check(permit("excavation", facts=facts, area=Area("area-1", flammable=True)), "submit")


def test_EX_02_passes_with_linked_confined_space_permit() -> None:
    facts = {"depth_m": 1.5, "buried_hazardous_lines": True}
    linked = (LinkedPermit("cs", "SX-1", "confined_space", State.submitted),)
    assert (
        check(permit("excavation", facts=facts, area=Area("area-1", toxic=True), linked=linked), "submit")
        == set()
    )
    assert "EX-02" not in check(
        permit("excavation", facts={"depth_m": 1.1, "buried_hazardous_lines": True}), "submit"
    )


def test_EX_03_found_object_must_be_described_and_disposed() -> None:
    p = permit("excavation", State.active)
    assert "EX-03" in check(p, "suspend", payload={"reason": "cable", "reason_code": "found_object"})
    out = EX.fire(
        p,
        "suspend",
        ctx(actor("guardian")),
        {"reason": "cable", "reason_code": "found_object", "found_object": "power cable"},
    )
    assert out.effects == ("report_found_object",)
    suspended = replace(p, state=State.suspended, signatures=(*p.signatures, out.signature), suspended_at=NOW)
    assert "EX-03" in check(suspended, "resume")


def test_EX_03_passes_after_disposal_recorded() -> None:
    p = fire(
        permit("excavation", State.active),
        "suspend",
        payload={"reason": "pipe", "reason_code": "found_object", "found_object": "old pipe"},
    )
    assert (
        check(
            p, "resume", payload={"conditions_confirmed": True, "found_object_disposal": "reported, removed"}
        )
        == set()
    )


# -- road closure -------------------------------------------------------------------------------------------


def test_RC_01_fire_and_safety_review_and_fire_access() -> None:
    assert "RC-01" in check(permit("road_closure", facts={"fire_access_kept": False}), "submit")
    assert "RC-01" in check(permit("road_closure", facts={"traffic_plan": ""}), "submit")
    p = fire(permit("road_closure", State.submitted), "countersign", payload={"department": "fire"})
    assert p.state == State.submitted and "STATE" in check(p, "approve")


def test_RC_01_passes_after_fire_and_safety_review() -> None:
    p = fire(permit("road_closure", State.submitted), "countersign", payload={"department": "fire"})
    p = fire(p, "countersign", member_of("safety"), payload={"department": "safety"})
    assert p.state == State.countersigned and check(p, "approve") == set()


def test_RC_02_close_needs_enterprise_check_and_traffic_restored() -> None:
    p = permit("road_closure", State.completed)
    assert "RC-02" in check(p, "accept", payload={"site_restored": True})
    assert "RC-02" in check(p, "close")


def test_RC_02_passes_with_traffic_restored() -> None:
    p = fire(permit("road_closure", State.completed), "accept", actor("safety_dept"))
    assert check(p, "close") == set()
