"""Messages in plain Chinese: every state, role and action a message can name has its Chinese name."""

from __future__ import annotations

import pytest

from workflows import WORKFLOWS
from workflows.high_risk_job import TRANSITIONS, JobState
from workflows.rules import Violation, state_conflict
from workflows.states import State
from workflows.vocabulary import ACTION_NAMES, DEPARTMENT_NAMES, ROLE_NAMES, STATE_NAMES, plain_zh
from workflows.weather import CONDITION_NAMES, CONDITIONS

# rules.md §0: the enterprise, regulator and machine roles
RULES_ROLES = [
    "applicant",
    "work_leader",
    "worker",
    "guardian",
    "analyst",
    "shift_leader",
    "unit_leader",
    "specialist_dept",
    "safety_dept",
    "plant_manager",
    "leader_in_charge",
    "principal",
    "power_supplier",
    "countersigner",
    "enterprise_admin",
    "regulator",
    "city_regulator",
    "integration",
]


def test_every_state_role_and_action_has_a_chinese_name():
    assert set(State) | set(JobState) <= set(STATE_NAMES)
    assert set(RULES_ROLES) <= set(ROLE_NAMES)
    events = {name for workflow in WORKFLOWS.values() for name in workflow.machine.events}
    assert events | set(TRANSITIONS) <= set(ACTION_NAMES)


def test_a_state_conflict_names_the_state_and_action_in_chinese():
    assert state_conflict("submitted", "approve").zh == "作业票处于“已提交”状态，不能执行“审批”"
    assert state_conflict("submitted", "approve").en == "event 'approve' is not allowed in state 'submitted'"


@pytest.mark.parametrize(
    ("zh", "plain"),
    [
        ("该作业票须由以下角色审批：leader_in_charge", "该作业票须由以下角色审批：主管领导"),
        (
            "缺少：safety_dept, plant_manager; leader_in_charge；审批后不能补签",
            "缺少：安全管理部门、主管厂长或总工程师；主管领导；审批后不能补签",
        ),
        ("会签部门须为待会签部门之一：—", "会签部门须为待会签部门之一：—"),
        ("监管部门不同意报备：the worker was absent", "监管部门不同意报备：the worker was absent"),
        ("“some_unknown_code”不变", "“some_unknown_code”不变"),
    ],
)
def test_quoted_and_listed_codes_get_their_chinese_names_and_nothing_else_changes(zh, plain):
    assert plain_zh(zh) == plain
    assert Violation("G-10", zh, "en").zh == plain


def test_every_weather_condition_and_the_road_closures_departments_have_chinese_names():
    assert set(CONDITION_NAMES) == set(CONDITIONS)  # WH-02, LF-03: what an observation may name, on the form
    assert set(WORKFLOWS["road_closure"].signatures.departments) <= set(DEPARTMENT_NAMES)  # RC-01
