"""Hot work 动火作业 (GB 30871-2022 ch. 5, form A.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows import gas
from workflows.base import Workflow
from workflows.certificates import Need
from workflows.facts import Fact, recorded, wind_level
from workflows.forms import Form
from workflows.grading import Grade
from workflows.model import Context, PermitData
from workflows.rules import Violation
from workflows.rules import general as g
from workflows.rules.conflicts import hot_work_conflicts, painting_near_hot_work
from workflows.rules.gas_tests import daily_gas_test
from workflows.rules.upgrade import hot_work_upgrade

GRADES = (
    Grade("level2", "二级", "level 2", ("unit_leader",), 72),
    Grade("level1", "一级", "level 1", ("safety_dept",), 8),
    Grade("special", "特级", "special", ("leader_in_charge",), 8),
)
HW02_APPROVERS = ("plant_manager", "safety_dept")  # HW-02: "the production or safety lead"
# 动火方式 (GB 3.1: electric and gas welding and cutting, blowtorches, drills, grinders, sandblasters ...).
METHODS = {
    "electric_welding": ("电焊", "electric (arc) welding"),
    "gas_welding": ("气焊", "gas welding"),
    "gas_cutting": ("气割", "gas cutting"),
    "plasma_cutting": ("等离子切割", "plasma cutting"),
    "arc_gouging": ("碳弧气刨", "carbon-arc gouging"),
    "brazing": ("钎焊", "brazing"),
    "blowtorch": ("喷灯", "blowtorch"),
    "grinding": ("砂轮打磨、切割", "grinding and abrasive cutting"),
    "electric_drilling": ("电钻", "electric drilling"),
    "sandblasting": ("喷砂", "sandblasting"),
}
# G-13: welding and thermal cutting, the work of the 焊接与热切割作业 certificate.
WELDING_AND_CUTTING = frozenset(
    {"electric_welding", "gas_welding", "gas_cutting", "plasma_cutting", "arc_gouging", "brazing"}
)


def relieved(facts: Mapping[str, Any]) -> bool:
    """HW-02: a unit shut down, purged, analysed and isolated (and not on record as running, G-14) is managed as
    level 2, except work inside a major-hazard tank-farm dike or on other running equipment."""
    return (
        bool(facts.get("unit_shutdown_isolated"))
        and not facts.get("unit_running")
        and not facts.get("in_major_hazard_dike")
        and not (facts.get("on_running_equipment") or facts.get("pressurised_without_purge"))
    )


def base_grade(facts: Mapping[str, Any]) -> str:
    """HW-01 / HW-02: the grade before any upgrade, from the facts with the area's record folded in (G-14)."""
    fire_area = facts.get("fire_explosion_area")
    running = facts.get("on_running_equipment") or facts.get("pressurised_without_purge")
    if (fire_area and running) or facts.get("in_major_hazard_dike"):
        return "special"
    if relieved(facts):
        return "level2"
    return "level1" if fire_area else "level2"


def approvers(permit: PermitData, ctx: Context, grade: str | None) -> tuple[tuple[str, ...], str] | None:
    """HW-02 and HW-03 approver exceptions to the B.1 table."""
    facts = recorded(permit)
    if (
        grade == "special"
        and base_grade(facts) == "special"
        and hot_work_upgrade(facts, ctx, permit.valid_from, permit.valid_until, permit.working_periods)
    ):
        return ("principal",), "HW-03"
    if grade == "level2" and facts.get("fire_explosion_area") and relieved(facts):
        return HW02_APPROVERS, "HW-02"
    return None


def special_measures(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """HW-07: special-grade hot work has continuous gas monitoring, a written plan and full video: asked at submit,
    where the grade the facts call for is known, and again before ignition."""
    if WORKFLOW.grading.effective(permit, ctx) != "special":
        return None
    needed = {f.name: f for f in WORKFLOW.facts}
    missing = [
        needed[n]
        for n in ("continuous_gas_monitoring", "written_plan", "video_recording")
        if not g.filled(permit.facts.get(n))
    ]
    if not missing:
        return None
    return Violation(
        "HW-07",
        f"特级动火缺少：{'、'.join(f.zh for f in missing)}",
        f"special-grade hot work lacks: {', '.join(f.name for f in missing)}",
    )


WORKFLOW = Workflow(
    type="hot_work",
    prefix="DH",
    zh="动火作业",
    en="Hot work",
    form=Form("A.1", "动火安全作业票", "Hot work safety permit"),
    grades=GRADES,
    facts=(
        Fact(
            "fire_explosion_area", "bool", "火灾爆炸危险场所", "in a fire-explosion hazard area", rule="HW-01"
        ),
        Fact(
            "on_running_equipment",
            "bool",
            "在运行设备、管线、容器上",
            "on running equipment, pipes or tanks",
            rule="HW-01",
        ),
        Fact(
            "pressurised_without_purge",
            "bool",
            "带压不置换动火",
            "pressurised work without purging",
            rule="HW-01",
        ),
        Fact(
            "in_major_hazard_dike",
            "bool",
            "重大危险源罐区防火堤内",
            "inside a major-hazard tank-farm dike",
            rule="HW-01",
        ),
        Fact(
            "unit_shutdown_isolated",
            "bool",
            "装置已停车、置换、分析合格并隔离",
            "unit shut down, purged, analysed, isolated",
            rule="HW-02",
        ),
        Fact("outdoor", "bool", "露天作业", "outdoors", rule="HW-03"),
        wind_level("HW-03"),
        Fact("oxygen_enriched_equipment", "bool", "富氧设备", "oxygen-enriched equipment", rule="HW-05"),
        Fact("continuous_gas_monitoring", "bool", "连续气体监测", "continuous gas monitoring", rule="HW-07"),
        Fact(
            "written_plan",
            "text",
            "特级动火作业方案",
            "written plan for special-grade work",
            rule="HW-07",
            multiline=True,
        ),
        Fact("video_recording", "bool", "全程视频监控", "full video recording", rule="HW-07"),
        Fact("methods", "list", "动火方式", "hot-work methods", required=True, rule="G-13", choices=METHODS),
        Fact("space_id", "text", "所在受限空间名称/编号", "the confined space it is done in", rule="CS-06"),
    ),
    certificates=(Need("worker", "welder", "methods", WELDING_AND_CUTTING),),
    base_grade=base_grade,
    grade_rule="HW-01",
    approvers=approvers,
    upgrade=hot_work_upgrade,
    gas_plan=gas.GasPlan(
        limits=gas.HOT_WORK,
        fresh_rule="HW-04",
        resume_rule="HW-06",
        breach_rule="HW-08",
        resume_after_minutes={"special": 30, "level1": 30, "level2": 60},
    ),
    guardian_rule="HW-11",
    shift_check_rule="HW-09",
    working_hours_rule="HW-03",
    guards={
        "submit": (special_measures,),
        "approve": (hot_work_conflicts, painting_near_hot_work),
        "activate": (special_measures, hot_work_conflicts, painting_near_hot_work),
    },
    watches=(daily_gas_test("HW-04"),),
    ends_linked_power=True,
)
