"""HR-02 in the core: a Plan-27 permit goes to work only after its job's on-site confirmation by the principal,
renewed after a freeze (FZ-03) or a red grade (RG-02) stopped it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from workflows.model import Signature
from workflows.rules.plan27 import principal_confirmed
from workflows.states import State

from .factories import NOW, check, ctx, permit


def _stopped(code: str, at=NOW - timedelta(minutes=30)) -> Signature:
    return Signature("suspension", "system", "system", at, {"reason": "x", "reason_code": code})


def test_HR_02_work_outside_plan_27_needs_no_confirmation() -> None:
    assert principal_confirmed(permit(state=State.briefed), ctx(), {}) is None


def test_HR_02_a_plan_27_permit_does_not_activate_before_the_confirmation() -> None:
    p = replace(permit("confined_space", state=State.briefed), job_kind="tank_cleaning")
    assert principal_confirmed(p, ctx(), {}).rule_id == "HR-02"
    assert "HR-02" in check(p, "activate")
    confirmed = replace(p, principal_confirmed_at=NOW - timedelta(hours=1))
    assert principal_confirmed(confirmed, ctx(), {}) is None


@pytest.mark.parametrize("code", ["freeze", "red_grade"])
def test_HR_02_after_a_freeze_or_a_red_grade_only_a_later_confirmation_resumes(code: str) -> None:
    p = replace(
        permit("confined_space", state=State.suspended),
        job_kind="tank_cleaning",
        principal_confirmed_at=NOW - timedelta(hours=1),
    )
    p = replace(p, signatures=(*p.signatures, _stopped(code)))
    violation = principal_confirmed(p, ctx(), {})
    assert violation is not None and "again" in violation.en
    assert (
        principal_confirmed(replace(p, principal_confirmed_at=NOW - timedelta(minutes=5)), ctx(), {}) is None
    )


def test_HR_02_other_stops_need_no_new_confirmation() -> None:
    p = replace(
        permit("confined_space", state=State.suspended),
        job_kind="tank_cleaning",
        principal_confirmed_at=NOW - timedelta(hours=1),
    )
    p = replace(p, signatures=(*p.signatures, _stopped("gas_alarm")))
    assert principal_confirmed(p, ctx(), {}) is None
