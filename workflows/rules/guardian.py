"""HC-04: no guardian, no work. A permit whose guardian checked out resumes only once a guardian is back in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.model import Context, PermitData
from workflows.rules import Violation


def guardian_back(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """HC-04: after the guardian checked out, resuming waits for a guardian registered inside again."""
    if not permit.guardian_left:
        return None
    return Violation(
        "HC-04",
        "监护人已登记离开作业区域：须监护人重新登记进入后方可恢复作业（无监护不作业）",
        "the guardian checked out of the risk area: the work resumes only once a guardian has checked back in "
        "(no guardian, no work)",
    )
