"""The life of a high-risk job or consent report (HR-01..03): kinds, states, which action leads where for whom.

Pure like the permit workflows: the shell asks `role_violation` whether the caller may take an action at
all and `target_state` where it leads, and writes the state it is told.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from workflows.rules import RuleViolation, Violation, state_conflict

# Plan 27: these four kinds run under the principal-leader system (HR-01/02).
PLAN27_KINDS: dict[str, tuple[str, str]] = {
    "leak_plugging": ("堵漏", "leak plugging"),
    "tank_cleaning": ("清罐", "tank cleaning"),
    "water_draining": ("切水", "water draining"),
    "unplanned_maintenance": ("非计划检维修", "unplanned maintenance"),
}
# Work that is not a Plan-27 job but still needs the regulator's consent: upgraded work under an
# `upgrade` freeze (FZ-02) and any permit of a red-grade enterprise (RG-02). Same report, same consent.
CONSENT_REPORT = "consent_report"
KINDS: dict[str, tuple[str, str]] = {
    **PLAN27_KINDS,
    CONSENT_REPORT: (
        "报备作业（冻结期升级管理或红色企业）",
        "consent report (upgraded work or red-grade enterprise)",
    ),
}


class JobState(StrEnum):
    """A job's state; member names equal their values."""

    draft = "draft"
    reported = "reported"
    consented = "consented"
    refused = "refused"
    principal_confirmed = "principal_confirmed"
    in_progress = "in_progress"
    closed = "closed"
    cancelled = "cancelled"


# The regulator's consent covers the job's permits while the job is open after consent.
CONSENT_HOLDS: frozenset[str] = frozenset(
    {JobState.consented, JobState.principal_confirmed, JobState.in_progress}
)
TERMINAL: frozenset[str] = frozenset({JobState.refused, JobState.closed, JobState.cancelled})
# The principal's on-site confirmation covers the job's permits from then on (HR-02).
CONFIRMATION_HOLDS: frozenset[str] = frozenset({JobState.principal_confirmed, JobState.in_progress})

ENTERPRISE_FILERS = frozenset({"applicant", "enterprise_admin", "principal"})
ENTERPRISE_WORKERS = ENTERPRISE_FILERS | {"work_leader"}
REGULATORS = frozenset({"regulator", "city_regulator"})
PRINCIPAL = frozenset({"principal"})


@dataclass(frozen=True)
class Transition:
    """An action: the states it starts from, where it leads (None: the job is edited in place), who may do it."""

    sources: frozenset[str]
    target: JobState | None
    roles: frozenset[str]


TRANSITIONS: dict[str, Transition] = {
    "update": Transition(frozenset({JobState.draft}), None, ENTERPRISE_FILERS),
    "attach_permit": Transition(frozenset({JobState.draft}), None, ENTERPRISE_FILERS),
    "detach_permit": Transition(frozenset({JobState.draft}), None, ENTERPRISE_FILERS),
    "report": Transition(frozenset({JobState.draft}), JobState.reported, ENTERPRISE_FILERS),
    "consent": Transition(frozenset({JobState.reported}), JobState.consented, REGULATORS),
    "refuse": Transition(frozenset({JobState.reported}), JobState.refused, REGULATORS),
    "confirm_on_site": Transition(frozenset({JobState.consented}), JobState.principal_confirmed, PRINCIPAL),
    # HR-02: confirmed again after a freeze or a red grade stopped the work; the job stays where it is.
    "reconfirm_on_site": Transition(CONFIRMATION_HOLDS, None, PRINCIPAL),
    "start": Transition(frozenset({JobState.principal_confirmed}), JobState.in_progress, ENTERPRISE_WORKERS),
    "close": Transition(frozenset({JobState.in_progress}), JobState.closed, ENTERPRISE_WORKERS),
    "cancel": Transition(
        frozenset(
            {
                JobState.draft,
                JobState.reported,
                JobState.consented,
                JobState.principal_confirmed,
                JobState.in_progress,
            }
        ),
        JobState.cancelled,
        ENTERPRISE_FILERS,
    ),
}

_NOT_THE_PRINCIPAL = Violation(
    "HR-02",
    "只有企业主要负责人本人可以现场安全确认，不得代签",
    "Only the principal leader in person confirms safety on site; nobody signs on their behalf",
)
_NOT_CONSENTED = Violation(
    "HR-01",
    "作业尚未经属地监管部门同意，不能进行现场确认或开始作业",
    "The regulator has not consented to this job yet; it cannot be confirmed on site or started",
)
_NOT_CONFIRMED = Violation(
    "HR-02",
    "主要负责人尚未现场安全确认，不能开始作业",
    "The principal leader has not confirmed safety on site; the job cannot start",
)


def allowed_actions(state: str, roles: Iterable[str]) -> list[str]:
    """The actions a caller holding `roles` may take on a job in `state`."""
    held = set(roles)
    return [action for action, t in TRANSITIONS.items() if state in t.sources and held & t.roles]


def role_violation(action: str, roles: Iterable[str]) -> Violation | None:
    """Why a caller holding `roles` may never take `action` (None: they may); HR-02 names the principal's own act."""
    transition = TRANSITIONS[action]
    if transition.roles & set(roles):
        return None
    if action in ("confirm_on_site", "reconfirm_on_site"):
        return _NOT_THE_PRINCIPAL  # HR-02: no delegate, whatever the delegate's rank
    names = ", ".join(sorted(transition.roles))
    return Violation(
        "ROLE", f"“{action}”需要以下角色之一：{names}", f"'{action}' needs one of the roles: {names}"
    )


def target_state(state: str, action: str, roles: Iterable[str]) -> JobState | None:
    """Where `action` leads from `state`; a refused step raises RuleViolation naming the rule (409)."""
    transition = TRANSITIONS[action]
    if state in transition.sources:
        return transition.target
    allowed = allowed_actions(state, roles)
    if action in ("confirm_on_site", "start") and state in (JobState.draft, JobState.reported):
        # HR-01: nothing happens on site before the regulator's consent.
        raise RuleViolation(_NOT_CONSENTED, allowed_actions=allowed)
    if action == "start" and state == JobState.consented:
        # HR-02: the principal confirms safety on site before the work starts.
        raise RuleViolation(_NOT_CONFIRMED, allowed_actions=allowed)
    raise RuleViolation(state_conflict(state, action), allowed_actions=allowed)
