"""Confined space 受限空间作业 (GB 30871-2022 ch. 6, form A.2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows import gas
from workflows.base import Workflow
from workflows.facts import Fact
from workflows.forms import Form
from workflows.grading import Grade
from workflows.model import Context, PermitData
from workflows.rules import Violation
from workflows.rules.conflicts import painting_near_hot_work
from workflows.rules.gas_tests import monitoring_gap
from workflows.rules.plan27 import ENTRY_PURPOSES, SPACE_KINDS


def nobody_inside(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """CS-05: the permit cannot complete while any person or tool is registered inside."""
    people, tools = permit.people_inside, permit.tools_inside
    if people <= 0 and tools <= 0:
        return None
    return Violation(
        "CS-05",
        f"受限空间内仍登记有{people}人、{tools}件工具，不能完工",
        f"{people} people and {tools} tools are still registered inside: the permit cannot complete",
    )


WORKFLOW = Workflow(
    type="confined_space",
    prefix="SX",
    zh="受限空间作业",
    en="Confined space entry",
    form=Form("A.2", "受限空间安全作业票", "Confined space entry safety permit"),
    grades=(Grade(None, "—", "—", ("unit_leader",), 24),),
    facts=(
        Fact("space_id", "text", "受限空间名称/编号", "confined space name or number", rule="CS-06"),
        Fact("oxygen_enriched_environment", "bool", "富氧环境", "oxygen-enriched environment", rule="CS-02"),
        Fact("medium", "text", "原有介质", "former contents"),
        Fact("space_kind", "text", "受限空间类别", "what the space is", rule="HR-01", choices=SPACE_KINDS),
        Fact("purpose", "text", "进入目的", "why people enter it", rule="HR-01", choices=ENTRY_PURPOSES),
    ),
    gas_plan=gas.GasPlan(
        limits=gas.CONFINED_SPACE,
        fresh_rule="CS-01",
        resume_rule="CS-01",
        breach_rule="CS-04",
        resume_after_minutes={None: 60},
        breach_effects=("suspend_permit", "evacuate"),
    ),
    guards={
        "approve": (painting_near_hot_work,),
        "activate": (painting_near_hot_work,),
        "complete": (nobody_inside,),
    },
    watches=(monitoring_gap("CS-03"),),
    ends_linked_power=True,
)
