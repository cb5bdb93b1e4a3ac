"""Issue 11, say what blocks early: a permit lists, next to allowed_actions, what the caller's role could do but a
rule blocks, with the rule IDs and what is missing (G-02, HW-04, SD-01)."""

from __future__ import annotations

import pytest

from tests.api.permit_flows import PermitFlow


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def blocked(flow: PermitFlow, who: str) -> dict[str, list[dict]]:
    permit = flow.reload(who).permit
    return {b["action"]: b["violations"] for b in permit["blocked_actions"]}


def test_G_02_the_approver_sees_approve_blocked_by_the_unconfirmed_lines(flow):
    flow.file("hot_work").submit(confirm=False)
    approve = blocked(flow, "safety_dept")["approve"]
    g02 = next(v for v in approve if v["rule"] == "G-02")
    assert "A1-" in g02["message_en"] and g02["message_zh"]
    assert "approve" not in flow.permit["allowed_actions"]
    flow.confirm_measures()
    assert "approve" not in blocked(flow, "safety_dept")
    assert "approve" in flow.permit["allowed_actions"]


def test_an_action_outside_the_callers_role_is_not_listed(flow):
    flow.file("hot_work").submit(confirm=False)
    assert "approve" not in blocked(flow, "worker")
    assert "approve" in blocked(flow, "safety_dept")


def test_HW_04_activation_waits_for_a_fresh_gas_test_and_says_so(flow):
    flow.file("hot_work").to_briefed()
    activate = blocked(flow, "work_leader")["activate"]
    assert [v["rule"] for v in activate] == ["HW-04"]
    flow.gas_test()
    assert "activate" in flow.reload("work_leader").permit["allowed_actions"]
    assert "activate" not in blocked(flow, "work_leader")
