"""HR-02: the principal leader's on-site confirmation of a Plan-27 job gates the work of its permits.

The job's confirmation comes before any of its permits goes active, and again after a freeze (FZ-03) or a red
grade (RG-02) stopped the work: a confirmation older than that stop no longer covers resuming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.model import Context, PermitData
from workflows.rules import Violation

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
