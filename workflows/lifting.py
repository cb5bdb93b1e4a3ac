"""Lifting 吊装作业 (GB 30871-2022 ch. 9, form A.5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.base import Workflow
from workflows.certificates import Need
from workflows.facts import Fact, wind_level
from workflows.forms import Form
from workflows.grading import Grade
from workflows.model import Context, PermitData
from workflows.rules import RuleViolation, Violation
from workflows.rules import general as g
from workflows.weather import observation_required

NO_PERMIT_BELOW_T = 10.0
STOP_WIND_LEVEL = 6  # LF-03
CRANE_SHARE = 0.8  # LF-03: with several cranes each carries at most 80 % of its rating


def base_grade(facts: Mapping[str, Any]) -> str:
    """LF-01: > 100 t level 1, 40-100 t level 2, < 40 t level 3; below 10 t no permit is needed."""
    load = facts.get("load_t")
    if not isinstance(load, int | float) or isinstance(load, bool):
        raise RuleViolation(Violation("LF-01", "须填写吊装质量(t)", "the load in tonnes is required"))
    if load < NO_PERMIT_BELOW_T:
        raise RuleViolation(
            Violation(
                "LF-01", "吊装质量小于10t，不需要办理吊装作业票", "below 10 t no lifting permit is needed"
            )
        )
    if load > 100:
        return "level1"
    return "level2" if load >= 40 else "level3"


def plan_attached(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """LF-02: levels 1 and 2 carry a lifting plan."""
    try:
        derived = base_grade(permit.facts)
    except RuleViolation:
        return None  # LF-01 answers for the missing or too small load
    if {permit.grade, derived}.isdisjoint({"level1", "level2"}) or g.filled(permit.facts.get("lifting_plan")):
        return None
    return Violation(
        "LF-02", "一级、二级吊装须附吊装作业方案", "level 1 and 2 lifting needs an attached lifting plan"
    )


def weather_and_cranes(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """LF-03: no outdoor lifting in wind ≥ 6, heavy snow, rainstorm or heavy fog (as observed on site when
    reported); shared loads ≤ 80 % per crane."""
    now = permit.facts
    if now.get("outdoor") and (
        (now.get("wind_level") or 0) >= STOP_WIND_LEVEL
        or any(now.get(k) for k in ("heavy_snow", "rainstorm", "heavy_fog"))
    ):
        return Violation(
            "LF-03", "六级以上风、大雪、暴雨、大雾禁止露天吊装", "no outdoor lifting in this weather"
        )
    cranes = permit.facts.get("cranes") or ()
    if len(cranes) > 1 and any(c["load_t"] > CRANE_SHARE * c["rated_t"] for c in cranes):
        return Violation(
            "LF-03",
            "多机抬吊时单机载荷不得超过额定的80%",
            "with several cranes each carries ≤ 80 % of its rating",
        )
    return None


_weather_reported = observation_required("LF-03", lambda permit: bool(permit.facts.get("outdoor")))

WORKFLOW = Workflow(
    type="lifting",
    prefix="DZ",
    zh="吊装作业",
    en="Lifting",
    form=Form("A.5", "吊装安全作业票", "Lifting safety permit"),
    grades=(
        Grade("level3", "三级", "level 3", ("specialist_dept",), 72),
        Grade("level2", "二级", "level 2", ("specialist_dept",), 72),
        Grade("level1", "一级", "level 1", ("plant_manager",), 72),
    ),
    validity_policy=True,
    facts=(
        Fact(
            "load_t",
            "number",
            "吊物质量(t)",
            "load (t)",
            required=True,
            rule="LF-01",
            minimum=0,
            maximum=100000,
        ),
        Fact("lifting_plan", "text", "吊装作业方案", "lifting plan", rule="LF-02", multiline=True),
        Fact("outdoor", "bool", "露天作业", "outdoors", rule="LF-03"),
        wind_level("LF-03"),
        Fact("heavy_snow", "bool", "大雪", "heavy snow", rule="LF-03"),
        Fact("rainstorm", "bool", "暴雨", "rainstorm", rule="LF-03"),
        Fact("heavy_fog", "bool", "大雾", "heavy fog", rule="LF-03"),
        Fact(
            "cranes",
            "list",
            "起重机械(额定/分担载荷t)",
            "cranes: [{rated_t, load_t}]",
            rule="LF-03",
            item_fields=("rated_t", "load_t"),
        ),
    ),
    certificates=(Need("worker", "crane_operator"), Need("signaller", "crane_signaller")),  # G-13
    base_grade=base_grade,
    grade_rule="LF-01",
    briefing_order=("signaller", "work_leader", "worker"),
    briefing_rule="LF-04",
    guards={
        "submit": (
            g.crew_includes("signaller", "LF-04", "吊装作业须指定作业指挥", "name the signaller (作业指挥)"),
            plan_attached,
        ),
        "approve": (weather_and_cranes,),
        "activate": (_weather_reported, weather_and_cranes),
        "resume": (
            _weather_reported,
            weather_and_cranes,
        ),  # G-08: the wind, snow, rain or fog must have passed
    },
)
