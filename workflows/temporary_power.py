"""Temporary electricity 临时用电作业 (GB 30871-2022 ch. 10, form A.6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows import gas
from workflows.base import Workflow
from workflows.certificates import Need
from workflows.facts import Fact, recorded
from workflows.forms import Form
from workflows.grading import Grade
from workflows.model import Context, PermitData
from workflows.rules import Violation
from workflows.rules.general import aware, parents
from workflows.working_hours import SHANGHAI


def in_fire_area(permit: PermitData) -> bool:
    """TE-02: in a fire-explosion area, running or not (tank farms included), the surroundings pass a gas test
    first; the area's record counts as well as the permit's declaration (G-14)."""
    return bool(recorded(permit)["fire_explosion_area"])


def within_parent(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """TE-01: power that serves a hot-work or confined-space permit cannot outlast it."""
    for parent in parents(permit):
        if parent.valid_until is not None and aware(permit.valid_until) > aware(parent.valid_until):
            until = aware(parent.valid_until).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            return Violation(
                "TE-01",
                f"临时用电有效期不得超过所服务的作业票{parent.number}（至{until}）",
                f"temporary power cannot outlast the permit it serves, {parent.number} (until {until})",
            )
    return None


WORKFLOW = Workflow(
    type="temporary_power",
    prefix="LD",
    zh="临时用电作业",
    en="Temporary electricity",
    form=Form("A.6", "临时用电安全作业票", "Temporary electricity safety permit"),
    grades=(Grade(None, "—", "—", ("power_supplier",), 15 * 24),),
    certificates=(Need("worker", "electrician"),),  # G-13
    validity_rule="TE-01",
    extended_validity_hours=30 * 24,
    facts=(
        Fact(
            "extended_validity_reason",
            "text",
            "有效期超过15天的理由",
            "reason for validity beyond 15 days",
            rule="TE-01",
        ),
        Fact("parent_permit_number", "text", "服务的作业票编号", "permit this power serves", rule="TE-01"),
        Fact("voltage_v", "number", "电压(V)", "voltage (V)", minimum=0, maximum=1_000_000),
        Fact("load_kw", "number", "用电设备功率(kW)", "connected load (kW)", minimum=0, maximum=1_000_000),
        Fact("connection_point", "text", "电源接入点", "connection point"),
    ),
    gas_plan=gas.GasPlan(
        limits=gas.HOT_WORK,
        fresh_rule="TE-02",
        resume_rule="G-08",
        breach_rule="G-08",
        resume_after_minutes={None: 0},
        applies=in_fire_area,
    ),
    guards={"submit": (within_parent,), "approve": (within_parent,)},
    close_roles=("power_supplier",),
    close_rule="TE-03",
)
