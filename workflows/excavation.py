"""Excavation 动土作业 (GB 30871-2022 ch. 11, form A.7)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.base import Workflow
from workflows.facts import Fact
from workflows.forms import Form
from workflows.grading import Grade
from workflows.model import Context, PermitData
from workflows.rules import RuleViolation, Violation, reads_payload
from workflows.rules import general as g

PERMIT_FROM_M = 0.5  # EX-01
# EX-01: who countersigns where the enterprise configured no list (GB A.7: water, power, telecom, fire, safety ...).
DEFAULT_DEPARTMENTS = ("water", "power", "telecom", "fire", "safety")
LINKED_CONFINED_FROM_M = 1.2  # EX-02
FOUND_OBJECT = "found_object"  # EX-03 suspension reason code


def needs_permit(facts: Mapping[str, Any]) -> None:
    """EX-01: digging deeper than 0.5 m needs a permit, and so does levelling or filling with machines at any depth
    (ungraded type)."""
    depth = facts.get("depth_m")
    if not isinstance(depth, int | float) or isinstance(depth, bool):
        raise RuleViolation(
            Violation("EX-01", "须填写动土深度(m)", "the digging depth in metres is required")
        )
    if depth <= PERMIT_FROM_M and not facts.get("machine_levelling"):
        raise RuleViolation(
            Violation(
                "EX-01",
                "动土深度不超过0.5m且不使用机械平整或填土，不需要办理动土作业票",
                "up to 0.5 m deep, without machine levelling or filling, no excavation permit is needed",
            )
        )


def linked_confined_space(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """EX-02: deeper than 1.2 m in a hazardous area with buried flammable/toxic lines needs a confined-space permit."""
    area = permit.area
    hazardous = area.flammable or area.toxic or area.fire_explosion_area
    deep = (permit.facts.get("depth_m") or 0) > LINKED_CONFINED_FROM_M
    if not (deep and hazardous and permit.facts.get("buried_hazardous_lines")) or g.has_linked(
        permit, "confined_space"
    ):
        return None
    return Violation(
        "EX-02",
        "深度超过1.2m且有可燃或有毒管线，须关联受限空间作业票",
        "deeper than 1.2 m near buried flammable or toxic lines: link a confined-space permit",
    )


@reads_payload
def found_object_described(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """EX-03: a stop for exposed cables, pipes or unknown objects names what was found."""
    if payload.get("reason_code") != FOUND_OBJECT or g.filled(payload.get("found_object")):
        return None
    return Violation(
        "EX-03", "须说明发现的电缆、管道或不明物", "describe the exposed cable, pipe or unknown object"
    )


@reads_payload
def found_object_disposed(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """EX-03: after such a stop, work resumes only once the find has been reported and dealt with."""
    stops = g.signed(permit, "suspension")
    if (
        not stops
        or stops[-1].evidence.get("reason_code") != FOUND_OBJECT
        or g.filled(payload.get("found_object_disposal"))
    ):
        return None
    return Violation(
        "EX-03", "须记录发现物的报告和处置情况", "record how the found object was reported and handled"
    )


def report_found_object(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> tuple[str, ...]:
    """EX-03: a stop for a found object is reported."""
    return ("report_found_object",) if payload.get("reason_code") == FOUND_OBJECT else ()


WORKFLOW = Workflow(
    type="excavation",
    prefix="DT",
    zh="动土作业",
    en="Excavation",
    form=Form("A.7", "动土安全作业票", "Excavation safety permit"),
    grades=(Grade(None, "—", "—", ("specialist_dept",), 72),),
    validity_policy=True,
    facts=(
        Fact(
            "depth_m",
            "number",
            "动土深度(m)",
            "digging depth (m)",
            required=True,
            rule="EX-01",
            minimum=0,
            maximum=500,
        ),
        Fact(
            "machine_levelling",
            "bool",
            "使用推土机、压路机等施工机械填土或平整场地",
            "levelling or filling with machines (bulldozers, rollers ...)",
            rule="EX-01",
        ),
        Fact(
            "buried_hazardous_lines",
            "bool",
            "地下有可燃或有毒管线",
            "buried flammable or toxic lines",
            rule="EX-02",
        ),
        Fact("extent", "text", "动土范围", "extent of the excavation"),
    ),
    base_grade=needs_permit,
    grade_rule="EX-01",
    countersign_rule="EX-01",
    default_departments=DEFAULT_DEPARTMENTS,
    guards={
        "submit": (linked_confined_space,),
        "suspend": (found_object_described,),
        "resume": (found_object_disposed,),
    },
    effects={"suspend": report_found_object},
)
