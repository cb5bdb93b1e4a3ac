"""G-14: facts typed by the catalogue and taken from the area's record; TE-01/TE-02 and WH-01 from the record."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest

from workflows import get_workflow
from workflows.facts import recorded
from workflows.gas import DEFAULT_GASES
from workflows.model import Area, LinkedPermit
from workflows.states import State

from .factories import NOW, check, ctx, permit


def problems(permit_type: str, facts: dict) -> dict:
    return get_workflow(permit_type).fact_problems(facts, DEFAULT_GASES)


@pytest.mark.parametrize("value", ["6", True, -1, 18, 5.5, 1e300, math.nan, math.inf])
def test_G_14_wind_level_is_an_integer_force_0_to_17(value: object) -> None:
    assert "wind_level" in problems("hot_work", {"wind_level": value})


@pytest.mark.parametrize("value", [0, 5, 17, None])
def test_G_14_wind_level_accepts_forces_and_null(value: object) -> None:
    assert problems("hot_work", {"wind_level": value}) == {}


@pytest.mark.parametrize(
    ("permit_type", "facts"),
    [
        ("hot_work", {"fire_explosion_area": "yes"}),
        ("hot_work", {"fire_explosion_area": 1}),
        ("height", {"height_m": math.nan}),
        ("height", {"height_m": "3"}),
        ("height", {"height_m": -2}),
        ("height", {"objective_hazards": ["sunshine"]}),
        ("height", {"objective_hazards": "strong_wind"}),
        ("lifting", {"cranes": [{"rated_t": 50}]}),
        ("lifting", {"cranes": [{"rated_t": 50, "load_t": -1}]}),
        ("blind_plate", {"action": "insert_and_remove"}),
        ("blind_plate", {"line_gases": ["unobtainium"]}),
        ("hot_work", {"position": {"x": 1}}),
        ("hot_work", {"position": {"x": 1, "y": math.inf}}),
        ("hot_work", {"activities": ["picnic"]}),
        ("hot_work", {"media": ["O2"]}),
        ("hot_work", {"dike_id": "D-1"}),  # the dike is the area record's now
        ("height", {"media": ["CH4"]}),  # a type that tests no gas takes no media
        ("road_closure", {"traffic_plan": "x" * 2001}),
    ],
)
def test_G_14_a_value_that_does_not_fit_its_type_is_named(permit_type: str, facts: dict) -> None:
    assert set(problems(permit_type, facts)) == set(facts)


@pytest.mark.parametrize(
    "text", ["D-7\n盲板", "D-7\r", "D-7\t盲板", "D-7\u2028盲板"], ids=["LF", "CR", "TAB", "LS"]
)
def test_G_14_text_facts_are_one_line_but_a_plan(text: str) -> None:
    one_line = ("须为单行文本，不含换行符或制表符", "must be one line: no line breaks or tabs")
    assert problems("blind_plate", {"blind_number": text}) == {"blind_number": one_line}
    assert problems("confined_space", {"medium": text}) == {"medium": one_line}
    assert problems("hot_work", {"written_plan": text}) == {}  # a plan runs over lines
    assert problems("road_closure", {"traffic_plan": text}) == {}
    assert problems("lifting", {"lifting_plan": text}) == {}


def test_G_14_problems_carry_chinese_and_english() -> None:
    zh, en = problems("hot_work", {"wind_level": "6"})["wind_level"]
    assert zh == "须为整数" and en == "must be an integer"
    zh, en = problems("hot_work", {"nonsense": 1})["nonsense"]
    assert "不是该作业类型的事实" in zh and "not a fact" in en


def test_G_14_catalogue_publishes_each_fact_schema() -> None:
    facts = {f["name"]: f for f in get_workflow("hot_work").catalogue()["facts"]}
    assert facts["wind_level"]["schema"] == {"type": ["integer", "null"], "minimum": 0, "maximum": 17}
    assert facts["media"]["kind"] == "gases" and facts["media"]["rule"] == "G-14"
    height = {f["name"]: f for f in get_workflow("height").catalogue()["facts"]}
    assert "toxic_or_low_oxygen" in height["objective_hazards"]["schema"]["items"]["enum"]
    assert {"code": "strong_wind", "zh": "阵风风力五级以上", "en": "gusts of force 5 or more"} in height[
        "objective_hazards"
    ]["choices"]


def test_G_14_the_area_record_is_folded_in_and_never_undone() -> None:
    area = Area("a", fire_explosion_area=True, toxic=True, major_hazard=True, dike_code="D-2", media=("CH4",))
    p = permit(
        area=area, facts={"fire_explosion_area": False, "in_major_hazard_dike": False, "media": ["H2"]}
    )
    facts = recorded(p)
    assert facts["fire_explosion_area"] and facts["toxic_area"] and facts["in_major_hazard_dike"]
    assert facts["dike_code"] == "D-2" and facts["media"] == ["CH4", "H2"]
    assert not recorded(permit(area=replace(area, dike_code=None)))["in_major_hazard_dike"]


def test_G_14_a_permit_may_add_a_hazard_the_record_lacks() -> None:
    assert recorded(permit(facts={"fire_explosion_area": True}))["fire_explosion_area"]


def test_G_14_submit_refuses_stored_facts_that_do_not_fit() -> None:
    assert "G-14" in check(permit(facts={"wind_level": "6"}), "submit")


def test_WH_01_three_metres_in_a_toxic_area_on_record_is_at_least_II() -> None:
    toxic = Area("a", toxic=True, fire_explosion_area=True, running_unit=True)
    height = get_workflow("height")
    assert height.fire(permit("height", area=toxic), "submit", ctx()).grade == "II"
    assert height.fire(permit("height"), "submit", ctx()).grade == "I"


def test_TE_02_gas_test_in_any_fire_explosion_area_running_or_not() -> None:
    shut_down = Area("a", fire_explosion_area=True, running_unit=False)
    p = permit("temporary_power", State.briefed, area=shut_down, gas_tests=())
    assert "TE-02" in check(p, "activate")
    assert "TE-02" not in check(permit("temporary_power", State.briefed, gas_tests=()), "activate")


def _parent(until_hours: float) -> LinkedPermit:
    return LinkedPermit(
        "hw-1", "DH-1", "hot_work", State.approved, "area-1", {}, NOW, NOW + timedelta(hours=until_hours)
    )


def test_TE_01_temporary_power_cannot_outlast_the_permit_it_serves() -> None:
    p = permit("temporary_power", linked=(_parent(2),))  # the power runs 4 h
    te01 = [v for v in get_workflow("temporary_power").check(p, "submit", ctx(), {}) if v.rule_id == "TE-01"]
    assert te01 and "DH-1" in te01[0].en and "DH-1" in te01[0].zh
    assert "TE-01" not in check(permit("temporary_power", linked=(_parent(6),)), "submit")
