"""Blind plate insertion and removal 盲板抽堵作业 (GB 30871-2022 ch. 7, form A.3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.base import Workflow
from workflows.facts import Fact
from workflows.forms import Form
from workflows.grading import Grade
from workflows.model import Context, PermitData
from workflows.rules import Violation
from workflows.rules import general as g
from workflows.rules.conflicts import hot_work_conflicts, same_pipeline

ACTIONS = {"insert": ("堵盲板", "insert a blind"), "remove": ("抽盲板", "remove a blind")}  # BP-01
DETECTOR_GASES = frozenset({"H2S", "Cl2", "NH3", "CO", "HCN"})  # BP-03 (HCN: the cyanides)


def one_blind_one_action(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """BP-01: one blind and one action per permit; the blind number is on the blind diagram."""
    facts = permit.facts
    number = facts.get("blind_number")
    if (
        facts.get("action") in ACTIONS
        and g.filled(number)
        and number in (facts.get("diagram_blind_numbers") or ())
    ):
        return None
    return Violation(
        "BP-01",
        "一张作业票只对应一块盲板的一次抽或堵，盲板编号须与盲板位置图一致",
        "one blind and one action (insert or remove) per permit; the blind number must be on the blind diagram",
    )


def portable_detector(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """BP-03: with H2S, Cl2, NH3, CO or cyanides in the line, a portable detector is recorded."""
    if not DETECTOR_GASES & set(permit.facts.get("line_gases") or ()) or g.filled(
        permit.facts.get("portable_detector")
    ):
        return None
    return Violation(
        "BP-03", "介质含有毒气体，须登记便携式检测仪", "toxic gas in the line: record the portable detector"
    )


WORKFLOW = Workflow(
    type="blind_plate",
    prefix="MB",
    zh="盲板抽堵作业",
    en="Blind plate insertion/removal",
    form=Form("A.3", "盲板抽堵安全作业票", "Blind plate insertion/removal safety permit"),
    grades=(Grade(None, "—", "—", ("unit_leader",), 24),),
    validity_policy=True,
    facts=(
        Fact("pipeline_id", "text", "设备/管道名称", "equipment or pipeline", required=True, rule="BP-02"),
        Fact("blind_number", "text", "盲板编号", "blind number", required=True, rule="BP-01"),
        Fact(
            "action",
            "text",
            "抽/堵",
            "action: insert or remove",
            required=True,
            rule="BP-01",
            choices=ACTIONS,
        ),
        Fact(
            "diagram_blind_numbers",
            "list",
            "盲板位置图上的编号",
            "blind numbers on the blind diagram",
            rule="BP-01",
        ),
        Fact("line_gases", "gases", "管道介质所含气体", "gases in the line", rule="BP-03"),
        Fact("portable_detector", "text", "便携式检测仪编号", "portable detector id", rule="BP-03"),
        Fact(
            "medium_temperature_c",
            "number",
            "介质温度(℃)",
            "medium temperature (°C)",
            minimum=-273.15,
            maximum=2000,
        ),
        Fact(
            "medium_pressure_mpa",
            "number",
            "介质压力(MPa)",
            "medium pressure (MPa)",
            minimum=-0.1,
            maximum=1000,
        ),
    ),
    acceptance=(("work_leader", "applicant"), ("unit_leader", "shift_leader", "safety_dept")),
    acceptance_rule="BP-04",
    guards={
        "submit": (one_blind_one_action,),
        "approve": (same_pipeline, hot_work_conflicts, portable_detector),
        "activate": (same_pipeline, hot_work_conflicts, portable_detector),
    },
)
