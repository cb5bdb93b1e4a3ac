"""The high-risk job lifecycle in the core: every (state, action) pair, who may act, HR-01/HR-02 named."""

from __future__ import annotations

import pytest

from workflows.high_risk_job import (
    KINDS,
    PLAN27_KINDS,
    TERMINAL,
    TRANSITIONS,
    JobState,
    allowed_actions,
    role_violation,
    target_state,
)
from workflows.rules import RuleViolation

S = JobState
OPEN = (S.draft, S.reported, S.consented, S.principal_confirmed, S.in_progress)
IN_PLACE = "in place"  # an edit of the draft: the state stays

# Written out by hand from HR-01..03, not derived from TRANSITIONS: (action, from) -> where it leads.
LEADS: dict[tuple[str, JobState], JobState | str] = {
    ("update", S.draft): IN_PLACE,
    ("attach_permit", S.draft): IN_PLACE,
    ("detach_permit", S.draft): IN_PLACE,
    ("report", S.draft): S.reported,
    ("consent", S.reported): S.consented,
    ("refuse", S.reported): S.refused,
    ("confirm_on_site", S.consented): S.principal_confirmed,
    # HR-02: confirmed again (after a freeze or a red grade stopped the work) where the job stands
    ("reconfirm_on_site", S.principal_confirmed): IN_PLACE,
    ("reconfirm_on_site", S.in_progress): IN_PLACE,
    ("start", S.principal_confirmed): S.in_progress,
    ("close", S.in_progress): S.closed,
    **{("cancel", state): S.cancelled for state in OPEN},
}
# The refusals that name a Plan-27 rule instead of the plain state conflict.
NAMED_REFUSALS: dict[tuple[str, JobState], str] = {
    ("confirm_on_site", S.draft): "HR-01",
    ("confirm_on_site", S.reported): "HR-01",
    ("start", S.draft): "HR-01",
    ("start", S.reported): "HR-01",
    ("start", S.consented): "HR-02",
}
FILERS = {"applicant", "enterprise_admin", "principal"}
WHO: dict[str, set[str]] = {
    "update": FILERS,
    "attach_permit": FILERS,
    "detach_permit": FILERS,
    "report": FILERS,
    "consent": {"regulator", "city_regulator"},
    "refuse": {"regulator", "city_regulator"},
    "confirm_on_site": {"principal"},
    "reconfirm_on_site": {"principal"},
    "start": FILERS | {"work_leader"},
    "close": FILERS | {"work_leader"},
    "cancel": FILERS,
}
EVERY_ROLE = (
    "applicant", "work_leader", "worker", "guardian", "analyst", "shift_leader", "unit_leader", "specialist_dept",
    "safety_dept", "plant_manager", "leader_in_charge", "principal", "power_supplier", "countersigner",
    "enterprise_admin", "regulator", "city_regulator", "integration", "system",
)  # fmt: skip


def test_the_table_names_every_action() -> None:
    assert set(TRANSITIONS) == set(WHO) == {action for action, _ in LEADS}


@pytest.mark.parametrize("state", list(JobState))
@pytest.mark.parametrize("action", list(WHO))
def test_HR_01_HR_02_STATE_every_state_action_pair(state: JobState, action: str) -> None:
    roles = WHO[action]
    if (action, state) in LEADS:
        expected = LEADS[(action, state)]
        assert target_state(state, action, roles) == (None if expected == IN_PLACE else expected)
        assert action in allowed_actions(state, roles)
        return
    with pytest.raises(RuleViolation) as refused:
        target_state(state, action, roles)
    assert refused.value.rule == NAMED_REFUSALS.get((action, state), "STATE")
    assert refused.value.violations[0].zh and refused.value.violations[0].en
    assert action not in refused.value.allowed_actions
    assert refused.value.allowed_actions == allowed_actions(state, roles)


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_a_refused_closed_or_cancelled_job_takes_no_action(state: str) -> None:
    assert allowed_actions(state, EVERY_ROLE) == []


@pytest.mark.parametrize("action", list(WHO))
@pytest.mark.parametrize("role", EVERY_ROLE)
def test_HR_02_ROLE_who_may_take_each_action(action: str, role: str) -> None:
    violation = role_violation(action, {role})
    if role in WHO[action]:
        assert violation is None
        return
    assert violation is not None
    assert violation.rule_id == ("HR-02" if action in ("confirm_on_site", "reconfirm_on_site") else "ROLE")
    assert violation.zh and violation.en


def test_HR_02_no_rank_confirms_on_the_principals_behalf() -> None:
    everyone_else = set(EVERY_ROLE) - {"principal"}
    violation = role_violation("confirm_on_site", everyone_else)
    assert violation is not None and violation.rule_id == "HR-02"
    assert role_violation("confirm_on_site", {"principal", "worker"}) is None


def test_HR_03_the_regulator_sees_consent_and_refuse_on_a_report_only() -> None:
    assert allowed_actions(S.reported, {"regulator"}) == ["consent", "refuse"]
    assert allowed_actions(S.reported, {"city_regulator"}) == ["consent", "refuse"]
    for state in set(JobState) - {S.reported}:
        assert allowed_actions(state, {"regulator", "city_regulator"}) == []


def test_the_enterprise_sees_its_next_steps() -> None:
    assert allowed_actions(S.draft, {"applicant"}) == [
        "update", "attach_permit", "detach_permit", "report", "cancel",
    ]  # fmt: skip
    assert allowed_actions(S.consented, {"principal"}) == ["confirm_on_site", "cancel"]
    assert allowed_actions(S.consented, {"applicant"}) == ["cancel"]
    assert allowed_actions(S.principal_confirmed, {"work_leader"}) == ["start"]
    assert allowed_actions(S.in_progress, {"work_leader"}) == ["close"]


def test_HR_01_the_four_plan_27_kinds_and_the_consent_report() -> None:
    assert set(PLAN27_KINDS) == {"leak_plugging", "tank_cleaning", "water_draining", "unplanned_maintenance"}
    assert set(KINDS) == {*PLAN27_KINDS, "consent_report"}
    assert all(zh and en for zh, en in KINDS.values())
