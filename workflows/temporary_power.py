"""Temporary electricity 临时用电作业 (GB 30871-2022 ch. 10, form A.6)."""

from __future__ import annotations

from workflows import gas
from workflows.base import Workflow
from workflows.facts import Fact
from workflows.forms import Form
from workflows.grading import Grade
from workflows.model import PermitData


def in_running_fire_area(permit: PermitData) -> bool:
    """TE-02: only in a running fire-explosion area must the surroundings pass a gas test first."""
    area = permit.area
    return area.running_unit and (area.fire_explosion_area or bool(permit.facts.get("fire_explosion_area")))


WORKFLOW = Workflow(
    type="temporary_power",
    prefix="LD",
    zh="临时用电作业",
    en="Temporary electricity",
    form=Form("A.6", "临时用电安全作业票", "Temporary electricity safety permit"),
    grades=(Grade(None, "—", "—", ("power_supplier",), 15 * 24),),
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
        Fact("voltage_v", "number", "电压(V)", "voltage (V)"),
        Fact("load_kw", "number", "用电设备功率(kW)", "connected load (kW)"),
        Fact("connection_point", "text", "电源接入点", "connection point"),
    ),
    gas_plan=gas.GasPlan(
        limits=gas.HOT_WORK,
        fresh_rule="TE-02",
        resume_rule="G-08",
        breach_rule="G-08",
        resume_after_minutes={None: 0},
        applies=in_running_fire_area,
    ),
    close_roles=("power_supplier",),
    close_rule="TE-03",
)
