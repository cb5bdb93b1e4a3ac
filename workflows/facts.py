"""The facts a permit declares on its form (G-01, G-14): their declarations and the facts the records hold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows.model import Context, PermitData
from workflows.rules import Guard, Violation
from workflows.rules.general import filled


@dataclass(frozen=True)
class Fact:
    """A fact the applicant declares on the form (kind: bool, number, text, list, position)."""

    name: str
    kind: str
    zh: str
    en: str
    required: bool = False
    rule: str = "G-01"


COMMON_FACTS: tuple[Fact, ...] = (
    Fact(
        "also_involves",
        "list",
        "同时涉及的其他特殊作业",
        "other special operations in the same job",
        rule="G-03",
    ),
    Fact("cross_operation_coordinator", "text", "交叉作业协调人", "cross-operation coordinator", rule="G-04"),
    Fact(
        "cross_operation_risk_analysis",
        "text",
        "交叉作业风险辨识",
        "cross-operation risk analysis",
        rule="G-04",
    ),
    Fact("position", "position", "作业点厂区坐标(m)", "work point on the plant grid (m)"),
    Fact("activities", "list", "本作业包含的活动", "activities under this permit (conflict checks)"),
)


def absent(value: Any) -> bool:
    """A required fact left out: missing, blank text or an empty list (a 0 or false is an answer, not a gap)."""
    return value is None or (isinstance(value, str | list | tuple | Mapping) and not filled(value))


def required_given(facts: tuple[Fact, ...]) -> Guard:
    """A submit guard: every required fact of the type is answered (G-01, or the fact's own rule)."""

    def facts_given(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        missing = [f for f in facts if f.required and absent(permit.facts.get(f.name))]
        if not missing:
            return None
        names = ", ".join(f.zh for f in missing)
        return Violation(
            missing[0].rule, f"缺少必填信息：{names}", f"missing facts: {', '.join(f.name for f in missing)}"
        )

    return facts_given


def recorded(permit: PermitData) -> dict[str, Any]:
    """The permit's facts, with the area's fire-explosion flag folded in (an area flag is never undone)."""
    facts = dict(permit.facts)
    facts["fire_explosion_area"] = bool(facts.get("fire_explosion_area")) or permit.area.fire_explosion_area
    return facts


def catalogue(facts: tuple[Fact, ...]) -> list[dict[str, Any]]:
    """The facts as the catalogue publishes them."""
    return [{"name": f.name, "kind": f.kind, "zh": f.zh, "en": f.en, "required": f.required} for f in facts]
