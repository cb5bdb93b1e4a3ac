"""What the OpenAPI document says of each action comes from the workflows: the roles that may fire it and the rules
that may refuse it."""

from __future__ import annotations

import pytest

from workflows import WORKFLOWS
from workflows.contract import roles_for, rules_for


def test_approval_is_for_the_approvers_of_every_grade_and_the_principal():
    hot_work = WORKFLOWS["hot_work"]
    approvers = {role for grade in hot_work.grades for role in grade.approvers}  # GB B.1, G-10
    assert set(roles_for(hot_work, "approve")) == approvers | {"principal"}  # HR-02


def test_approval_names_the_rules_its_guards_and_signers_refuse_with():
    rules = rules_for(WORKFLOWS["hot_work"], "approve")
    assert {"G-02", "G-06", "G-10", "HR-02", "SD-02"} <= set(rules)
    assert "STATE" not in rules and "ROLE" not in rules


def test_type_specific_rules_stay_with_their_type():
    assert "EX-01" in rules_for(WORKFLOWS["excavation"], "countersign")
    assert "BP-04" in rules_for(WORKFLOWS["blind_plate"], "close")
    assert "TE-03" in rules_for(WORKFLOWS["temporary_power"], "close")
    assert "BP-04" not in rules_for(WORKFLOWS["hot_work"], "close")
    assert "HW-09" in rules_for(WORKFLOWS["hot_work"], "activate")  # the shift check before ignition
    assert "HW-09" not in rules_for(WORKFLOWS["height"], "activate")


@pytest.mark.parametrize(
    ("event", "roles"),
    [
        ("submit", ["applicant"]),
        ("record_gas_test", ["analyst"]),
        ("brief", ["work_leader", "worker"]),
        ("complete", ["work_leader"]),
    ],
)
def test_fixed_signers(event, roles):
    assert roles_for(WORKFLOWS["hot_work"], event) == roles


def test_the_system_actor_is_no_role_a_client_can_hold():
    assert roles_for(WORKFLOWS["hot_work"], "expire") == []
    assert "system" not in roles_for(WORKFLOWS["hot_work"], "suspend")
