"""Plan 27 on a permit: HR-01 asks every permit whether it is Plan-27 work and derives the obvious cases; HR-02's
on-site confirmation by the principal leader gates the work of a Plan-27 job's permits.

The job's confirmation comes before any of its permits goes active, and again after a freeze (FZ-03) or a red
grade (RG-02) stopped the work: a confirmation older than that stop no longer covers resuming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.high_risk_job import PLAN27_KINDS
from workflows.model import Context, PermitData
from workflows.rules import Violation

NOT_PLAN27 = "none"  # the answer "this is no Plan-27 work" (high_risk_kind)
SPACE_KINDS: dict[str, tuple[str, str]] = {  # what a confined space is (the fact space_kind)
    "tank": ("储罐", "tank"),
    "tower": ("塔", "tower"),
    "reactor": ("反应釜", "reactor"),
    "vessel": ("容器", "vessel"),
    "pit": ("地坑、池", "pit or basin"),
    "well": ("井", "well or shaft"),
    "pipe": ("管道", "pipe"),
    "other": ("其他", "other"),
}
ENTRY_PURPOSES: dict[str, tuple[str, str]] = {  # why people enter it (the fact purpose)
    "cleaning": ("清洗、清罐", "cleaning"),
    "inspection": ("检查", "inspection"),
    "maintenance": ("检修", "maintenance"),
    "installation": ("安装", "installation"),
    "other": ("其他", "other"),
}


def derived_kind(permit_type: str, facts: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """HR-01: the Plan-27 kind the work obviously is, whatever the applicant answered: (kind, why zh, why en)."""
    if facts.get("leaking_line"):
        return "leak_plugging", "在泄漏的设备、管线上作业", "work on a leaking line or equipment"
    if (
        permit_type == "confined_space"
        and facts.get("space_kind") == "tank"
        and facts.get("purpose") == "cleaning"
    ):
        return "tank_cleaning", "进入储罐清洗", "entering a tank to clean it"
    if "water_draining" in (facts.get("activities") or ()):
        return "water_draining", "作业包含切水", "the work includes water draining"
    return None


def plan27_answered(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """HR-01 at submit: the permit answered whether it is Plan-27 work, and work that obviously is one is not
    answered away."""
    answer = permit.high_risk_answer
    if answer is None:
        return Violation(
            "HR-01",
            "须回答本作业是否属于堵漏、清罐、切水或非计划检维修作业（high_risk_kind；不属于时填 none）",
            "answer whether this is leak plugging, tank cleaning, water draining or unplanned maintenance "
            "(high_risk_kind; none when it is not)",
        )
    derived = derived_kind(permit.type, permit.facts)
    if answer != NOT_PLAN27 or derived is None:
        return None
    kind, why_zh, why_en = derived
    kind_zh, kind_en = PLAN27_KINDS[kind]
    return Violation(
        "HR-01",
        f"本作业属于{kind_zh}作业（{why_zh}），须申报 high_risk_kind={kind} 并纳入报备的高风险作业",
        f"this is {kind_en} work ({why_en}): declare high_risk_kind={kind} and carry it in a reported high-risk job",
    )


# Suspensions that the principal must answer by confirming safety on site again before the work resumes.
RECONFIRM_AFTER = frozenset({"freeze", "red_grade"})


def principal_confirmed(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """HR-02: a Plan-27 permit goes to work only after its job's on-site confirmation, renewed after a stop."""
    if permit.job_kind is None:
        return None
    confirmed = permit.principal_confirmed_at
    if confirmed is None:
        return Violation(
            "HR-02",
            "主要负责人尚未对本高风险作业进行现场安全确认，作业票不得开始作业",
            "the principal leader has not confirmed the high-risk job on site: its permits cannot go to work",
        )
    stops = [
        s.at
        for s in permit.signatures
        if s.kind == "suspension" and s.evidence.get("reason_code") in RECONFIRM_AFTER
    ]
    if stops and confirmed < max(stops):
        return Violation(
            "HR-02",
            "作业因冻结期或红色等级被停止后，须由主要负责人再次现场安全确认方可恢复",
            "the work was stopped by a freeze or a red grade: the principal leader must confirm the job on site "
            "again before it resumes",
        )
    return None
