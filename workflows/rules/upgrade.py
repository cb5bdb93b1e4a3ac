"""Upgraded management: HW-03 grade upgrade, freezes (FZ-02), consent and principal approval (HR-01/02, RG-02)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from workflows import working_hours
from workflows.model import Context, Freeze, PermitData, WorkingPeriod
from workflows.rules import Violation

UPGRADE_WIND_LEVEL = 5  # GB 5.2.15: outdoors at wind level 5 or more
NOTIFY_GRADES = frozenset({"special", "level1"})  # RG-02 orange: special-grade and level-1 permits


def freezes(ctx: Context, permit_type: str, mode: str) -> tuple[Freeze, ...]:
    """Freezes of one mode covering a type (the shell already keeps only those overlapping the window, FZ-04)."""
    return tuple(f for f in ctx.freezes if f.mode == mode and permit_type in f.types)


def hot_work_upgrade(
    facts: Mapping[str, Any],
    ctx: Context,
    valid_from: datetime | None,
    valid_until: datetime | None,
    periods: Sequence[WorkingPeriod] = (),
) -> tuple[str, ...]:
    """HW-03 / FZ-02: the reasons to raise hot work one grade (working time on a rest day or at night, wind,
    an upgrade freeze)."""
    reasons = []
    if valid_from and valid_until:
        reasons += working_hours.upgrades(valid_from, valid_until, periods, ctx)
    if facts.get("outdoor") and (facts.get("wind_level") or 0) >= UPGRADE_WIND_LEVEL:
        reasons.append("wind")
    if freezes(ctx, "hot_work", "upgrade"):
        reasons.append("freeze")
    return tuple(reasons)


def consent_required(permit: PermitData, ctx: Context) -> bool:
    """HR-01 / RG-02 / FZ-02: high-risk jobs, red enterprises and upgrade freezes wait for the regulator."""
    return bool(permit.job_kind or ctx.enterprise_risk_grade == "red" or freezes(ctx, permit.type, "upgrade"))


def principal_required(permit: PermitData, ctx: Context) -> bool:
    """HR-02 / FZ-02: high-risk jobs and upgraded work are approved by the principal leader on site."""
    return bool(permit.job_kind or freezes(ctx, permit.type, "upgrade"))


def consent_given(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """HR-01: no approval or start before the regulator's consent where consent is required."""
    if permit.consented or not consent_required(permit, ctx):
        return None
    return Violation(
        "HR-01",
        "须先向属地监管部门报备并取得同意",
        "report to the local regulator and wait for its consent first",
    )


def no_strict_freeze(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """FZ-02: under a strict freeze nothing of a frozen type is approved or active."""
    frozen = freezes(ctx, permit.type, "strict")
    if not frozen:
        return None
    why = "; ".join(f.reason or f.id for f in frozen)
    return Violation("FZ-02", f"冻结期间一律暂停该类作业：{why}", f"this operation type is frozen: {why}")


def notify_regulator(permit: PermitData, ctx: Context, grade: str | None) -> bool:
    """RG-02: an orange enterprise's special-grade, level-1 and high-risk permits are notified to the regulator."""
    return ctx.enterprise_risk_grade == "orange" and (grade in NOTIFY_GRADES or bool(permit.job_kind))
