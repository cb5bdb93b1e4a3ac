"""The rules of the eight types (HW, CS, BP, WH, LF, TE, EX, RC) through the HTTP API: facts reach the core,
gas verdicts come from readings, conflicts are found among the other permits in the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from permit_service.scheduling.jobs import run_confined_space_monitoring
from tests.api.checks import assert_problem
from tests.api.permit_flows import CROSS_OPERATION, HW07_READY, PermitFlow
from tests.integration.scheduler_helpers import run
from tests.plant import give_cards

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def _window(day: str, start: int, hours: int = 6) -> dict[str, str]:
    begin = datetime.fromisoformat(day).replace(hour=start, tzinfo=SHANGHAI)
    return {"valid_from": begin.isoformat(), "valid_until": (begin + timedelta(hours=hours)).isoformat()}


# -- submit-time rules of every type: (facts or body that refuse, facts or body that pass) -----------------

SUBMIT_RULES = [
    ("HW-01", "hot_work", {"grade": "level2"}, {"grade": "special"}),
    ("BP-01", "blind_plate", {"facts": {"blind_number": "B-99"}}, {"facts": {"blind_number": "B-08"}}),
    ("WH-01", "height", {"facts": {"height_m": 1.5}}, {"facts": {"height_m": 2}}),
    (
        "WH-01",
        "height",
        {"facts": {"height_m": 20}, "grade": "I"},
        {"facts": {"height_m": 20}, "grade": "III"},
    ),
    (
        "WH-03",
        "height",
        {"facts": {"height_m": 35}},
        {"facts": {"height_m": 35, "communication_equipment": "对讲机"}},
    ),
    ("LF-01", "lifting", {"facts": {"load_t": 5}}, {"facts": {"load_t": 10}}),
    (
        "LF-02",
        "lifting",
        {"facts": {"load_t": 50}},
        {"facts": {"load_t": 50, "lifting_plan": "吊装方案 DZ-07"}},
    ),
    ("LF-04", "lifting", {"crew": "no_signaller"}, {}),
    ("EX-01", "excavation", {"facts": {"depth_m": 0.5}}, {"facts": {"depth_m": 0.6}}),
    (
        "EX-02",
        "excavation",
        {"facts": {"depth_m": 1.5, "buried_hazardous_lines": True}},
        {"link": "confined_space"},
    ),
    ("RC-01", "road_closure", {"facts": {"fire_access_kept": False}}, {}),
    ("RC-01", "road_closure", {"facts": {"traffic_plan": ""}}, {}),
]


def _file(flow, permit_type, spec):
    spec = dict(spec)
    facts = spec.pop("facts", {})
    if spec.pop("crew", None) == "no_signaller":
        spec["crew"] = [m for m in flow.body(permit_type)["crew"] if m["role"] != "signaller"]
    if (link := spec.pop("link", None)) is not None:
        other = flow.another().file(link)
        facts = {"depth_m": 1.5, "buried_hazardous_lines": True}
        spec["linked_permit_ids"] = [other.id]
    return flow.file(permit_type, facts=facts, **spec)


@pytest.mark.parametrize(
    ("rule", "permit_type", "blocking", "passing"),
    SUBMIT_RULES,
    ids=[f"{r[0]}-{r[1]}-{i}" for i, r in enumerate(SUBMIT_RULES)],
)
def test_type_rule_at_submit_blocks_and_passes(flow, rule, permit_type, blocking, passing):
    _file(flow, permit_type, blocking).refused("submit", rule, by="applicant")
    assert _file(flow, permit_type, passing).submit().state == "submitted"


def test_HW_01_grade_is_derived_from_the_facts(flow):
    assert flow.file("hot_work").submit().permit["grade"] == "level1"  # fire-explosion area
    assert flow.file("hot_work", facts={"on_running_equipment": True}).submit().permit["grade"] == "special"
    assert flow.file("hot_work", facts={"in_major_hazard_dike": True}).submit().permit["grade"] == "special"
    safe = flow.factory.area(
        flow.world.enterprise, running_unit=False, flammable=False, fire_explosion_area=False
    )
    assert flow.file("hot_work", area_id=str(safe.id)).submit().permit["grade"] == "level2"


def shut_down_area(flow) -> str:
    """A fire-explosion area whose record says its unit is shut down (G-14: a permit cannot declare it)."""
    area = flow.factory.area(flow.world.enterprise, running_unit=False)
    flow.factory.session.commit()
    return str(area.id)


def test_HW_02_shut_down_and_isolated_unit_is_level2_approved_by_the_production_or_safety_lead(flow):
    flow.file("hot_work", area_id=shut_down_area(flow), facts={"unit_shutdown_isolated": True}).submit()
    assert flow.permit["grade"] == "level2"
    flow.refused("approve", "HW-02", {"evidence": flow.evidence()}, by="unit_leader")
    assert flow.approve(by="plant_manager").state == "approved"


@pytest.mark.parametrize(
    ("window", "facts", "grade"),
    [
        (_window("2026-06-10", 10), {}, "level1"),  # a working Wednesday, daytime
        (_window("2026-10-01", 10), {}, "special"),  # National Day
        (_window("2026-06-13", 10), {}, "special"),  # a Saturday
        (_window("2026-09-20", 10), {}, "level1"),  # Sunday made a working day (make-up day)
        (_window("2026-06-10", 18, 3), {}, "special"),  # runs past 20:00
        (_window("2026-06-11", 4, 3), {}, "special"),  # starts before 06:00
        (_window("2026-06-10", 10), {"outdoor": True, "wind_level": 5}, "special"),
        (_window("2026-06-10", 10), {"outdoor": True, "wind_level": 4}, "level1"),
        (_window("2026-06-10", 10), {"outdoor": False, "wind_level": 6}, "level1"),
    ],
    ids=[
        "workday",
        "national-day",
        "saturday",
        "make-up-day",
        "evening",
        "early",
        "wind-5",
        "wind-4",
        "indoor",
    ],
)
def test_HW_03_upgrade_from_the_window_in_shanghai_and_the_wind(flow, window, facts, grade):
    assert flow.file("hot_work", facts=facts, **window).submit().permit["grade"] == grade


def test_HW_03_upgraded_special_grade_needs_the_principal(flow):
    flow.file("hot_work", facts={"on_running_equipment": True}, **_window("2026-10-01", 10)).submit()
    flow.refused("approve", "HW-03", {"evidence": flow.evidence()}, by="leader_in_charge")
    assert flow.approve(by="principal").state == "approved"


def test_HW_04_activation_needs_a_passing_gas_test_from_the_last_30_minutes(flow, clock):
    flow.file("hot_work").to_briefed()
    flow.refused("activate", "HW-04", by="work_leader")
    flow.gas_test(ago=timedelta(minutes=31)).refused("activate", "HW-04", by="work_leader")
    assert flow.gas_test(ago=timedelta(minutes=29)).activate().state == "active"


GAS_CASES = [
    ("hot_work", {}, [("CH4", 0.6, "%vol")], "HW-05"),
    ("hot_work", {}, [("CH4", 0.5, "%vol")], None),
    ("hot_work", {}, [("C3H8", 0.3, "%vol")], "HW-05"),  # LEL < 4 %: 0.2 % vol
    ("hot_work", {}, [("C3H8", 0.2, "%vol")], None),
    ("hot_work", {}, [("CH4", 12, "%LEL")], "HW-05"),  # 12 % of LEL 5 % = 0.6 % vol
    ("hot_work", {}, [("CH4", 10, "%LEL")], None),
    ("hot_work", {"oxygen_enriched_equipment": True}, [("O2", 24, "%vol"), ("CH4", 0, "%vol")], "HW-05"),
    ("hot_work", {"oxygen_enriched_equipment": True}, [("O2", 23.5, "%vol"), ("CH4", 0, "%vol")], None),
    ("confined_space", {}, [("O2", 19.0, "%vol"), ("CH4", 0, "%vol")], "CS-02"),
    ("confined_space", {}, [("O2", 21.5, "%vol"), ("CH4", 0, "%vol")], "CS-02"),
    (
        "confined_space",
        {"oxygen_enriched_environment": True},
        [("O2", 21.5, "%vol"), ("CH4", 0, "%vol")],
        None,
    ),
    ("confined_space", {}, [("O2", 20.9, "%vol"), ("H2S", 15, "mg/m3")], "CS-02"),
    ("confined_space", {}, [("O2", 20.9, "%vol"), ("H2S", 5, "ppm")], None),  # 7.1 mg/m3 <= MAC 10
    ("confined_space", {}, [("O2", 20.9, "%vol"), ("CH4", 0.1, "%vol")], None),
]


@pytest.mark.parametrize(
    ("permit_type", "facts", "readings", "rule"),
    GAS_CASES,
    ids=[
        f"{c[3] or ('HW-05' if c[0] == 'hot_work' else 'CS-02')}-{'blocks' if c[3] else 'passes'}-{i}"
        for i, c in enumerate(GAS_CASES)
    ],
)
def test_HW_05_CS_02_gas_verdict_computed_by_the_service_from_the_readings(
    flow, permit_type, facts, readings, rule
):
    flow.file(permit_type, facts=facts).submit()
    flow.gas_test([{"gas": g, "value": v, "unit": u} for g, v, u in readings])
    (test,) = flow.permit["gas_tests"]
    assert test["passed"] is (rule is None)
    assert {f["rule"] for f in test["findings"]} == ({rule} if rule else set())
    stored = flow.client.get(f"{flow.url}/gas-tests", headers=flow.headers("applicant")).get_json()["items"]
    assert stored[0]["passed"] is (rule is None) and stored[0]["readings"][0]["unit"] in ("%vol", "mg/m3")


def test_HW_05_the_client_cannot_send_a_verdict_and_unknown_gases_are_refused(flow):
    flow.file("hot_work").submit()
    lying = {**flow.gas_body([{"gas": "CH4", "value": 3.0, "unit": "%vol"}]), "passed": True}
    assert_problem(flow.attempt("record_gas_test", lying, by="analyst"), 422)
    flow.refused(
        "record_gas_test",
        "HW-05",
        flow.gas_body([{"gas": "XYZ", "value": 0.1, "unit": "%vol"}]),
        by="analyst",
    )
    future = flow.gas_body()
    future["sampled_at"] = flow.at(timedelta(minutes=5))
    flow.refused("record_gas_test", "HW-05", future, by="analyst")
    assert flow.permit["gas_tests"] == []


@pytest.mark.parametrize(
    ("grade_facts", "pause", "rule"),
    [
        ({}, 31, "HW-06"),  # level 1: 30 min
        ({}, 29, None),
        ({"unit_shutdown_isolated": True}, 61, "HW-06"),  # level 2: 60 min
        ({"unit_shutdown_isolated": True}, 59, None),
    ],
)
def test_HW_06_long_interruption_needs_a_new_gas_test_before_resuming(flow, clock, grade_facts, pause, rule):
    flow.file("hot_work", area_id=shut_down_area(flow), facts=grade_facts).submit()
    flow.approve(
        by="plant_manager" if grade_facts else "safety_dept"
    ).brief().shift_check().gas_test().activate()
    flow.suspend("午休")
    clock.advance(timedelta(minutes=pause))
    if rule:
        flow.refused("resume", rule, {"conditions_confirmed": True}, by="work_leader")
        flow.gas_test()
    assert flow.resume().state == "active"


def test_HW_07_special_grade_needs_monitoring_plan_and_video(flow):
    """Asked at submit, where the grade the facts call for is known, not discovered at ignition."""
    lacking = {"on_running_equipment": True, **dict.fromkeys(HW07_READY)}
    flow.file("hot_work", facts=lacking)
    problem = flow.refused("submit", "HW-07", by="applicant")
    assert "video_recording" in problem["message_en"]
    full = {
        "on_running_equipment": True,
        "continuous_gas_monitoring": True,
        "written_plan": "方案",
        "video_recording": True,
    }
    assert flow.file("hot_work", facts={**full, **CROSS_OPERATION}).to_active().state == "active"


def test_HW_08_a_failed_gas_test_during_the_work_stops_it(flow):
    flow.file("hot_work").to_active()
    flow.gas_test([{"gas": "CH4", "value": 0.8, "unit": "%vol"}])
    assert flow.state == "suspended"
    assert flow.permit["signatures"][-1]["role"] == "system"
    flow.refused("resume", "HW-08", {"conditions_confirmed": True}, by="work_leader")
    assert flow.gas_test().resume().state == "active"


def test_HW_08_a_gas_alarm_suspension_needs_a_retest(flow, clock):
    flow.file("hot_work").to_active()
    clock.advance(timedelta(minutes=5))
    flow.suspend("可燃气体报警", kind="gas_alarm")
    flow.refused("resume", "HW-08", {"conditions_confirmed": True}, by="work_leader")
    assert flow.gas_test().resume().state == "active"


def test_HW_09_the_shift_leader_checks_the_permit_before_ignition(flow):
    flow.file("hot_work").to_approved().brief().gas_test()
    flow.refused("activate", "HW-09", by="work_leader")
    assert flow.shift_check().activate().state == "active"


def test_HW_11_no_guardian_no_hot_work(flow):
    crew = [m for m in flow.body("hot_work")["crew"] if m["role"] != "guardian"]
    flow.file("hot_work", crew=crew).to_briefed().gas_test()
    flow.refused("activate", "HW-11", by="work_leader")
    assert flow.file("hot_work", facts=CROSS_OPERATION).to_active().state == "active"


# -- conflicts with other permits in the database ----------------------------------------------------------


def test_HW_10_no_hot_work_near_flammable_gas_venting(flow):
    venting = flow.another().file(
        "height", facts={"activities": ["flammable_gas_venting"], "position": {"x": 0, "y": 0}}
    )
    venting.to_approved()
    near = {**CROSS_OPERATION, "position": {"x": 20, "y": 0}}
    flow.file("hot_work", facts=near).submit()
    problem = flow.refused("approve", "HW-10", {"evidence": flow.evidence()}, by="safety_dept")
    assert venting.number in problem["message_en"]

    far = {**CROSS_OPERATION, "position": {"x": 31, "y": 0}}
    assert flow.file("hot_work", facts=far).to_approved().state == "approved"


def test_HW_10_no_sampling_in_the_same_dike(flow):
    """The dike is the area record's dike_code (G-14), not a declaration. (Water draining is Plan-27 work of its
    own, HR-01: tests/api/test_plan27_asked.py.)"""

    def dike_area(code: str) -> str:
        area = flow.factory.area(flow.world.enterprise, dike_code=code)
        flow.factory.session.commit()
        return str(area.id)

    flow.another().file(
        "height", area_id=dike_area("D-3"), facts={"activities": ["sampling"], **CROSS_OPERATION}
    ).to_approved()
    flow.file("hot_work", area_id=dike_area("D-3"), facts=CROSS_OPERATION).submit()
    flow.refused("approve", "HW-10", {"evidence": flow.evidence()}, by="safety_dept")
    assert (
        flow.file("hot_work", area_id=dike_area("D-4"), facts=CROSS_OPERATION).to_approved().state
        == "approved"
    )


def test_BP_02_no_two_blind_plate_jobs_on_one_pipeline(flow):
    first = flow.another().file("blind_plate", facts=CROSS_OPERATION).to_approved()
    flow.file("blind_plate", facts={"blind_number": "B-08", **CROSS_OPERATION}).submit()
    problem = flow.refused("approve", "BP-02", {"evidence": flow.evidence()}, by="unit_leader")
    assert first.number in problem["message_zh"]
    other_line = {"pipeline_id": "P-202", "blind_number": "B-08", **CROSS_OPERATION}
    assert flow.file("blind_plate", facts=other_line).to_approved().state == "approved"


def test_CS_06_no_painting_in_a_space_while_hot_work_runs_there(flow):
    hot = flow.another().file("hot_work", facts={"space_id": "T-101", **CROSS_OPERATION}).to_active()
    flow.file("confined_space", facts={"activities": ["painting"], **CROSS_OPERATION}).submit()
    problem = flow.refused("approve", "CS-06", {"evidence": flow.evidence()}, by="unit_leader")
    assert hot.number in problem["message_en"]
    other_space = {"activities": ["painting"], "space_id": "T-102", **CROSS_OPERATION}
    assert flow.file("confined_space", facts=other_space).to_approved().state == "approved"


# -- confined space ---------------------------------------------------------------------------------------


def test_CS_01_entry_needs_a_fresh_test_and_a_retest_after_an_hour_away(flow, clock):
    flow.file("confined_space").to_briefed()
    flow.refused("activate", "CS-01", by="work_leader")
    flow.gas_test(ago=timedelta(minutes=31)).refused("activate", "CS-01", by="work_leader")
    flow.gas_test().activate().suspend("午休")
    clock.advance(timedelta(minutes=59))
    flow.resume().suspend("交接班")
    clock.advance(timedelta(minutes=61))
    flow.refused("resume", "CS-01", {"conditions_confirmed": True}, by="work_leader")
    assert flow.gas_test().resume().state == "active"


def _check_in(flow, person):
    give_cards(flow.factory, person)
    resp = flow.client.post(
        f"{flow.url}/presence/check-ins", json={"person_id": str(person.id)}, headers=flow.headers("guardian")
    )
    assert resp.status_code == 201, resp.get_json()


def test_CS_03_no_gas_record_for_two_hours_with_people_inside_suspends(flow, app, clock):
    watched = flow.file("confined_space").to_active()
    _check_in(watched, flow.person("worker"))
    idle = flow.another().file("confined_space", facts={"space_id": "T-102", **CROSS_OPERATION}).to_active()

    run(app, run_confined_space_monitoring, clock.now() + timedelta(hours=2, minutes=1))

    assert watched.reload().state == "suspended" and "CS-03" in watched.permit["status_reason"]
    assert idle.reload().state == "active"  # nobody inside


def test_CS_04_gas_over_the_limit_stops_the_entry_until_a_good_retest(flow):
    flow.file("confined_space").to_active()
    flow.gas_test([{"gas": "O2", "value": 18.0, "unit": "%vol"}, {"gas": "CH4", "value": 0, "unit": "%vol"}])
    assert flow.state == "suspended"
    flow.refused("resume", "CS-04", {"conditions_confirmed": True}, by="work_leader")
    assert flow.gas_test().resume().state == "active"


def test_CS_05_no_completion_while_anyone_is_inside(flow):
    flow.file("confined_space").to_active()
    worker = flow.person("worker")
    _check_in(flow, worker)
    flow.refused("complete", "CS-05", by="work_leader")
    out = flow.client.post(
        f"{flow.url}/presence/check-outs",
        json={"person_id": str(worker.id)},
        headers=flow.headers("guardian"),
    )
    assert out.status_code in (200, 201), out.get_json()
    assert flow.complete().state == "completed"


# -- blind plate, height, lifting ---------------------------------------------------------------------------


def test_BP_03_toxic_line_needs_a_portable_detector(flow):
    flow.file("blind_plate", facts={"line_gases": ["H2S"]}).submit()
    flow.refused("approve", "BP-03", {"evidence": flow.evidence()}, by="unit_leader")
    assert (
        flow.file("blind_plate", facts={"line_gases": ["H2S"], "portable_detector": "PD-12"})
        .to_approved()
        .state
        == "approved"
    )


def test_BP_04_closure_needs_the_work_unit_and_the_enterprise(flow):
    flow.file("blind_plate").to_active().complete().accept("unit_leader")
    flow.refused("close", "BP-04", by="unit_leader")
    assert flow.accept("work_leader").close().state == "closed"


@pytest.mark.parametrize(
    ("facts", "rule"),
    [({"wind_level": 5}, "WH-02"), ({"dense_fog": True}, "WH-02"), ({"wind_level": 4}, None)],
)
def test_WH_02_no_work_at_height_in_strong_wind_or_dense_fog(flow, facts, rule):
    flow.file("height", facts={"height_m": 4, **facts}).submit()
    if rule:
        flow.refused("approve", rule, {"evidence": flow.evidence()}, by="unit_leader")
    else:
        assert flow.approve().state == "approved"


def seen(wind_level: int, *conditions: str) -> dict:
    """The weather the signer observes on site."""
    return {"wind_level": wind_level, "conditions": list(conditions)}


def test_WH_02_the_approver_judges_the_wind_observed_on_site(flow):
    flow.file("height", facts={"height_m": 4, "wind_level": 2}).submit()
    windy = {"evidence": flow.evidence(), "weather": seen(5)}
    problem = flow.refused("approve", "WH-02", windy, by="unit_leader")
    assert "wind level ≥ 5" in problem["message_en"] and flow.reload().state == "submitted"
    calm = {"evidence": flow.evidence(), "weather": seen(3)}
    assert flow.do("approve", calm, by="unit_leader").state == "approved"
    approval = next(s for s in flow.permit["signatures"] if s["kind"] == "approval")
    assert approval["evidence"]["weather"] == seen(3)
    events = flow.client.get(f"{flow.url}/events", headers=flow.headers("applicant")).get_json()["items"]
    approved = next(e for e in events if e["kind"] == "permit.approve")
    assert approved["data"]["signature"]["weather"] == seen(3)


def test_WH_02_a_forecast_of_wind_gives_way_to_calm_weather_seen_at_the_start(flow):
    flow.file("height", facts={"height_m": 4}).to_briefed()
    flow.refused("activate", "WH-02", {"weather": seen(0, "dense_fog")}, by="work_leader")
    assert flow.do("activate", {"weather": seen(4, "heavy_fog")}, by="work_leader").state == "active"
    activation = next(s for s in flow.permit["signatures"] if s["kind"] == "activation")
    assert activation["evidence"]["weather"] == seen(4, "heavy_fog")


def test_LF_03_outdoor_lifting_stops_for_the_weather_seen_at_the_start(flow):
    flow.file("lifting").to_briefed()
    for weather in (seen(6), seen(2, "heavy_fog"), seen(2, "rainstorm"), seen(2, "heavy_snow")):
        flow.refused("activate", "LF-03", {"weather": weather}, by="work_leader")
    assert flow.do("activate", {"weather": seen(5, "rain")}, by="work_leader").state == "active"


def test_WH_02_work_at_height_stopped_by_the_wind_resumes_only_in_calm_weather(flow):
    flow.file("height", facts={"height_m": 4}).to_active().suspend("五级大风 / wind level 5")
    flow.refused("resume", "WH-02", {"conditions_confirmed": True}, by="work_leader")  # the weather unsaid
    flow.refused("resume", "WH-02", {"conditions_confirmed": True, "weather": seen(5)}, by="work_leader")
    assert flow.reload().state == "suspended"
    assert flow.resume(weather=seen(3)).state == "active"
    resumption = next(s for s in flow.permit["signatures"] if s["kind"] == "resumption")
    assert resumption["evidence"]["weather"] == seen(3)


def test_HW_03_outdoor_hot_work_in_a_level_5_wind_is_approved_one_grade_up(flow):
    flow.file("hot_work", facts={"outdoor": True, "wind_level": 1, **CROSS_OPERATION}).submit()
    assert flow.permit["grade"] == "level1"
    windy = {"evidence": flow.evidence(), "weather": seen(5)}
    flow.refused("approve", "G-10", windy, by="safety_dept")
    assert flow.do("approve", windy, by="leader_in_charge").permit["grade"] == "special"


@pytest.mark.parametrize(
    ("weather", "field"),
    [
        ({"wind_level": 18}, "weather.wind_level"),
        ({"wind_level": -1}, "weather.wind_level"),
        ({"wind_level": "5"}, "weather.wind_level"),
        ({"conditions": []}, "weather.wind_level"),
        ({"wind_level": 3, "conditions": ["hail"]}, "weather.conditions.0"),
        ({"wind_level": 3, "dense_fog": True}, "weather.dense_fog"),
    ],
)
def test_an_observation_that_is_no_weather_is_a_422(flow, weather, field):
    flow.file("height", facts={"height_m": 4}).submit()
    resp = flow.attempt("approve", {"evidence": flow.evidence(), "weather": weather}, by="unit_leader")
    assert_problem(resp, 422, fields={field})


def test_weather_is_refused_on_actions_that_do_not_observe_it(flow):
    flow.file("height", facts={"height_m": 4})
    assert_problem(flow.attempt("submit", {"weather": seen(3)}, by="applicant"), 422, fields={"weather"})


def test_WH_01_level_from_height_band_and_hazards(flow):
    assert flow.file("height", facts={"height_m": 4}).submit().permit["grade"] == "I"
    assert (
        flow.file("height", facts={"height_m": 4, "objective_hazards": ["strong_wind"]})
        .submit()
        .permit["grade"]
        == "II"
    )
    assert flow.file("height", facts={"height_m": 4, "night_outdoor": True}).submit().permit["grade"] == "IV"


@pytest.mark.parametrize(
    ("facts", "rule"),
    [
        ({"outdoor": True, "wind_level": 6}, "LF-03"),
        ({"outdoor": True, "rainstorm": True}, "LF-03"),
        ({"cranes": [{"rated_t": 25, "load_t": 12}, {"rated_t": 25, "load_t": 21}]}, "LF-03"),
        ({"cranes": [{"rated_t": 25, "load_t": 12}, {"rated_t": 25, "load_t": 20}]}, None),
        ({"outdoor": False, "wind_level": 6}, None),
    ],
)
def test_LF_03_no_outdoor_lifting_in_severe_weather_and_shared_loads_within_80_percent(flow, facts, rule):
    flow.file("lifting", facts={"load_t": 20, **facts}).submit()
    if rule:
        flow.refused("approve", rule, {"evidence": flow.evidence()}, by="specialist_dept")
    else:
        assert flow.approve().state == "approved"


def test_LF_04_the_signaller_signs_the_briefing_first(flow):
    flow.file("lifting").submit().approve()
    flow.refused("brief", "LF-04", by="work_leader")
    assert flow.brief().state == "briefed"
    assert next(s["role"] for s in flow.permit["signatures"] if s["kind"] == "briefing") == "signaller"


# -- temporary power ----------------------------------------------------------------------------------------


def test_TE_01_validity_15_days_or_30_with_a_reason(flow):
    body = flow.body("temporary_power", valid_until=flow.at(timedelta(days=16)))
    problem = assert_problem(
        flow.client.post("/api/v1/permits", json=body, headers=flow.headers("applicant")), 409
    )
    assert problem["rule"] == "TE-01"
    body["facts"]["extended_validity_reason"] = "检修周期 20 天"
    assert (
        flow.client.post("/api/v1/permits", json=body, headers=flow.headers("applicant")).status_code == 201
    )
    body["valid_until"] = flow.at(timedelta(days=31))
    assert_problem(flow.client.post("/api/v1/permits", json=body, headers=flow.headers("applicant")), 409)


def test_TE_01_power_is_cancelled_when_its_hot_work_is_cancelled(flow):
    parent = flow.file("hot_work", facts=CROSS_OPERATION)
    power = (
        flow.another()
        .file("temporary_power", linked_permit_ids=[parent.id], facts=CROSS_OPERATION)
        .to_approved()
    )
    parent.do("cancel", {"reason": "计划取消"}, by="applicant")
    assert power.reload().state == "cancelled"
    unlinked = flow.another().file("temporary_power", facts=CROSS_OPERATION).to_approved()
    assert unlinked.reload().state == "approved"


def test_TE_02_gas_test_first_only_in_a_fire_explosion_area(flow, factory):
    flow.file("temporary_power").to_briefed()
    flow.refused("activate", "TE-02", by="work_leader")
    quiet = factory.area(
        flow.world.enterprise, running_unit=False, flammable=False, fire_explosion_area=False
    )
    assert flow.file("temporary_power", area_id=str(quiet.id)).to_briefed().activate().state == "active"


def test_TE_03_closure_is_a_cancellation_by_the_power_supplier(flow):
    flow.file("temporary_power").to_active().complete().accept()
    flow.refused("close", "TE-03", by="unit_leader")
    assert flow.close(by="power_supplier").state == "closed"


# -- excavation, road closure ------------------------------------------------------------------------------


def test_EX_01_countersignatures_from_each_department_before_approval(flow):
    flow.file("excavation").submit()
    flow.refused("countersign", "EX-01", {"department": "process"}, by=flow.member("process"))
    flow.countersign("water", "power", "telecom", "fire")
    flow.refused("approve", "STATE", {"evidence": flow.evidence()}, by="specialist_dept")
    assert flow.countersign("safety").approve().state == "approved"


def test_EX_03_a_found_object_stops_the_work_until_reported_and_handled(flow):
    flow.file("excavation").to_active()
    flow.refused("suspend", "EX-03", {"reason": "发现不明物", "kind": "found_object"}, by="work_leader")
    flow.suspend("发现不明电缆", by="work_leader", kind="found_object", found_object="未标注的 10kV 电缆")
    events = flow.client.get(f"{flow.url}/events", headers=flow.headers("applicant")).get_json()["items"]
    assert "report_found_object" in events[-1]["data"]["effects"]
    flow.refused("resume", "EX-03", {"conditions_confirmed": True}, by="work_leader")
    assert flow.resume(found_object_disposal="已报电力部门，改线保护").state == "active"


def test_RC_01_fire_and_safety_review_before_approval(flow):
    flow.file("road_closure").submit()
    flow.refused("countersign", "RC-01", {"department": "traffic"}, by=flow.member("fire"))
    flow.countersign("fire")
    flow.refused("approve", "STATE", {"evidence": flow.evidence()}, by="specialist_dept")
    assert flow.countersign("safety").approve().state == "approved"


def test_RC_02_acceptance_needs_traffic_restored(flow):
    flow.file("road_closure").to_active().complete()
    flow.refused("accept", "RC-02", {"site_restored": True, "traffic_restored": False}, by="safety_dept")
    assert flow.accept().close().state == "closed"
