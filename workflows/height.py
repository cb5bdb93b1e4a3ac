"""Work at height 高处作业 (GB 30871-2022 ch. 8, form A.4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.base import Workflow
from workflows.facts import Fact, wind_level
from workflows.forms import Form
from workflows.grading import Grade
from workflows.model import Context, PermitData
from workflows.rules import RuleViolation, Violation
from workflows.rules import general as g
from workflows.weather import observation_required

LEVELS = ("I", "II", "III", "IV")
BAND_TOPS_M = (5.0, 15.0, 30.0)  # WH-01: 2-5, 5-15, 15-30, >30 m
OBJECTIVE_HAZARDS = {  # WH-01: the nine objective hazards (GB/T 3608), a closed vocabulary
    "strong_wind": ("阵风风力五级以上", "gusts of force 5 or more"),
    "low_temperature": ("平均气温等于或低于5℃", "mean air temperature at or below 5 °C"),
    "cold_water": ("接触冷水温度等于或低于12℃", "contact with water at or below 12 °C"),
    "slippery_surface": ("作业场地有冰、雪、霜、水、油等易滑物", "ice, snow, frost, water or oil underfoot"),
    "poor_visibility": ("作业场所光线不足或能见度差", "poor light or visibility"),
    "near_live_conductor": (
        "作业活动范围与危险电压带电体距离小于规定",
        "closer to live conductors than allowed",
    ),
    "unstable_footing": ("摆动，立足处不是平面或只有很小的平面", "swaying, uneven or very small footing"),
    "toxic_or_low_oxygen": ("存在有毒气体或空气中含氧量低于19.5%", "toxic gas or oxygen below 19.5 %"),
    "disaster_rescue": ("抢救突然发生的各种灾害事故", "rescue in a sudden disaster"),
}
FLOORS = {  # WH-01: circumstances that set a minimum level: fact -> (level, zh label)
    "slope_over_45": ("I", "在坡度大于45°的斜坡上"),
    "near_opening": ("II", "临近孔洞、洞口"),
    "toxic_area": ("II", "在有毒区域内"),
    "inside_tower": ("II", "在塔、釜、炉、罐内"),
    "night_outdoor": ("IV", "夜间露天"),
    "live_work": ("IV", "带电作业"),
    "abnormal_temperature": ("IV", "异温环境"),
    "snow_or_rain": ("IV", "雪天、雨天"),
}
PERMIT_FROM_M = 2.0
COMMUNICATION_FROM_M = 30.0  # WH-03
STOP_WIND_LEVEL = 5  # WH-02


def _refuse(zh: str, en: str) -> RuleViolation:
    return RuleViolation(Violation("WH-01", zh, en))


def base_grade(facts: Mapping[str, Any]) -> str:
    """WH-01: level from the height band, raised by objective hazards and floored by circumstances."""
    height = facts.get("height_m")
    if not isinstance(height, int | float) or isinstance(height, bool):
        raise _refuse("须填写作业高度(m)", "the working height in metres is required")
    if height < PERMIT_FROM_M:
        raise _refuse("作业高度低于2m，不需要办理高处作业票", "below 2 m no work-at-height permit is needed")
    hazards = set(facts.get("objective_hazards") or ())
    if unknown := hazards - set(OBJECTIVE_HAZARDS):
        raise _refuse(
            f"未知的客观危险因素：{', '.join(sorted(unknown))}",
            f"unknown objective hazards: {sorted(unknown)}",
        )
    band = sum(height > top for top in BAND_TOPS_M)
    level = min(band + (1 if hazards else 0), len(LEVELS) - 1)
    floors = [LEVELS.index(lvl) for name, (lvl, _zh) in FLOORS.items() if facts.get(name)]
    return LEVELS[max([level, *floors])]


def weather_allows(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """WH-02: no work at height at wind level 5 or more or in dense fog (as observed on site when reported)."""
    now = permit.facts
    if (now.get("wind_level") or 0) < STOP_WIND_LEVEL and not now.get("dense_fog"):
        return None
    return Violation(
        "WH-02", "五级以上风或浓雾天气禁止高处作业", "no work at height at wind level ≥ 5 or in dense fog"
    )


def communication_recorded(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """WH-03: above 30 m, communication equipment is recorded."""
    if (permit.facts.get("height_m") or 0) <= COMMUNICATION_FROM_M or g.filled(
        permit.facts.get("communication_equipment")
    ):
        return None
    return Violation(
        "WH-03", "30m以上高处作业须配备通信联络工具", "above 30 m record the communication equipment"
    )


WORKFLOW = Workflow(
    type="height",
    prefix="GC",
    zh="高处作业",
    en="Work at height",
    form=Form("A.4", "高处安全作业票", "Work at height safety permit"),
    grades=(
        Grade("I", "Ⅰ级", "level I", ("unit_leader",), 168),
        Grade("II", "Ⅱ级", "level II", ("specialist_dept",), 168),
        Grade("III", "Ⅲ级", "level III", ("specialist_dept",), 168),
        Grade("IV", "Ⅳ级", "level IV", ("plant_manager",), 168),
    ),
    facts=(
        Fact(
            "height_m",
            "number",
            "作业高度(m)",
            "working height (m)",
            required=True,
            rule="WH-01",
            minimum=0,
            maximum=1000,
        ),
        Fact(
            "objective_hazards",
            "list",
            "客观危险因素",
            "objective hazards (nine, GB/T 3608)",
            rule="WH-01",
            choices=OBJECTIVE_HAZARDS,
        ),
        *(
            Fact(name, "bool", zh, name.replace("_", " "), rule="WH-01")
            for name, (_lvl, zh) in FLOORS.items()
        ),
        wind_level("WH-02"),
        Fact("dense_fog", "bool", "浓雾", "dense fog", rule="WH-02"),
        Fact("communication_equipment", "text", "通信联络工具", "communication equipment", rule="WH-03"),
    ),
    base_grade=base_grade,
    grade_rule="WH-01",
    guards={
        "submit": (communication_recorded,),
        "approve": (weather_allows,),
        "activate": (observation_required("WH-02"), weather_allows),
        "resume": (observation_required("WH-02"), weather_allows),  # G-08: the wind or fog must have passed
    },
)
