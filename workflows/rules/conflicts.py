"""Conflicts with other permits nearby: HW-10, BP-02, CS-06 (GB 5.2.8-5.2.9, 7.6, 7.10, 6.7)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from workflows.model import Context, LinkedPermit, PermitData
from workflows.rules import Violation
from workflows.rules.general import aware, live_neighbours

HOT_WORK_RADII_M = {  # HW-10: activities forbidden within these distances of hot work
    "flammable_gas_venting": 30.0,
    "flammable_liquid_discharge": 15.0,
    "solvent_cleaning": 10.0,
    "painting": 10.0,
    "dust_sweeping": 10.0,
}
DIKE_ACTIVITIES = frozenset({"water_draining", "sampling"})
DIKE_JOB_KINDS = frozenset({"water_draining"})  # Plan-27 jobs that are a dike activity of their own
BLIND_PLATE_RADIUS_M = 30.0
PAINTING = frozenset({"painting", "coating"})
ACTIVITIES: dict[str, tuple[str, str]] = {  # the closed vocabulary of the `activities` fact (G-14)
    "flammable_gas_venting": ("排放可燃气体", "flammable gas venting"),
    "flammable_liquid_discharge": ("排放可燃液体", "flammable liquid discharge"),
    "solvent_cleaning": ("用溶剂清洗", "solvent cleaning"),
    "painting": ("喷漆", "painting"),
    "coating": ("涂装", "coating"),
    "dust_sweeping": ("清扫可燃粉尘", "sweeping combustible dust"),
    "water_draining": ("切水", "water draining"),
    "sampling": ("取样", "sampling"),
}


def activities(facts: Mapping[str, Any]) -> frozenset[str]:
    """The activities a permit declares (fact `activities`)."""
    return frozenset(facts.get("activities") or ())


def distance_m(permit: PermitData, other: LinkedPermit) -> float | None:
    """Metres between two work points.

    From both facts' `position` {x, y} on the plant grid, else the shell's `distance_m` on the neighbour,
    else 0 when in the same area (conservative), else unknown.
    """
    here, there = permit.facts.get("position"), other.facts.get("position")
    if isinstance(here, Mapping) and isinstance(there, Mapping):
        return math.hypot(here["x"] - there["x"], here["y"] - there["y"])
    if other.facts.get("distance_m") is not None:
        return float(other.facts["distance_m"])
    return 0.0 if other.area_id == permit.area.id else None


def _within(permit: PermitData, other: LinkedPermit, radius: float) -> bool:
    d = distance_m(permit, other)
    return d is not None and d <= radius


def _conflict(rule: str, other: LinkedPermit, zh: str, en: str) -> Violation:
    number = other.number or other.id
    return Violation(rule, f"与作业票{number}冲突：{zh}", f"conflicts with permit {number}: {en}")


def _hot_work_vs(permit: PermitData, other: LinkedPermit) -> Violation | None:
    dike = permit.area.dike_code  # G-14: the dike is the area record's, not a free-text declaration
    if dike and other.dike_code == dike and activities(other.facts) & DIKE_ACTIVITIES:
        return _conflict(
            "HW-10", other, "同一防火堤内有切水或取样作业", "water draining or sampling in the same dike"
        )
    for activity in sorted(activities(other.facts) & HOT_WORK_RADII_M.keys()):
        if _within(permit, other, HOT_WORK_RADII_M[activity]):
            radius = HOT_WORK_RADII_M[activity]
            return _conflict("HW-10", other, f"{radius:g}m内有{activity}", f"{activity} within {radius:g} m")
    return None


def _dike_job_conflict(permit: PermitData, ctx: Context) -> Violation | None:
    """HW-10 / HR-01: water draining in the same dike is an operation there whether or not it carries a permit."""
    if permit.type != "hot_work" or not permit.area.dike_code:
        return None
    start, end = aware(permit.valid_from), aware(permit.valid_until)
    for job in ctx.dike_jobs:
        if job.kind in DIKE_JOB_KINDS and aware(job.starts_at) < end and start < aware(job.ends_at):
            return Violation(
                "HW-10",
                f"同一防火堤（{permit.area.dike_code}）内有切水作业“{job.title}”，不得动火",
                f"water draining job {job.title!r} is under way in the same dike ({permit.area.dike_code}): no hot work",
            )
    return None


def hot_work_conflicts(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """HW-10: forbidden activities near hot work (a 切水 job in its dike included), and hot work within 30 m of
    blind-plate work in a fire area."""
    if found := _dike_job_conflict(permit, ctx):
        return found
    for other in live_neighbours(permit, ctx):
        if permit.type == "hot_work" and (found := _hot_work_vs(permit, other)):
            return found
        pair = {permit.type, other.type}
        if (
            pair == {"hot_work", "blind_plate"}
            and permit.area.fire_explosion_area
            and _within(permit, other, BLIND_PLATE_RADIUS_M)
        ):
            return _conflict(
                "HW-10", other, "30m内动火与盲板抽堵同时作业", "hot work within 30 m of blind-plate work"
            )
    return None


def same_pipeline(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """BP-02: no two blind-plate operations on the same pipeline at the same time."""
    line = permit.facts.get("pipeline_id")
    for other in live_neighbours(permit, ctx):
        if other.type == "blind_plate" and line and other.facts.get("pipeline_id") == line:
            return _conflict(
                "BP-02", other, "同一管道上已有盲板抽堵作业", "another blind-plate job on the same pipeline"
            )
    return None


def _same_space(permit: PermitData, other: LinkedPermit) -> bool:
    mine, theirs = permit.facts.get("space_id"), other.facts.get("space_id")
    return mine == theirs if mine and theirs else other.area_id == permit.area.id


def painting_near_hot_work(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """CS-06: no painting or coating in the same space while hot work runs there (checked from either side)."""
    painting_here = bool(activities(permit.facts) & PAINTING)
    for other in live_neighbours(permit, ctx):
        if not _same_space(permit, other):
            continue
        if (painting_here and other.type == "hot_work") or (
            permit.type == "hot_work" and activities(other.facts) & PAINTING
        ):
            return _conflict(
                "CS-06", other, "同一受限空间内动火与涂装同时进行", "painting and hot work in the same space"
            )
    return None
