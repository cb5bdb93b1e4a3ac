"""Issue 11, say what blocks early: next to the allowed actions, those the actor's role could take but rules block."""

from __future__ import annotations

from dataclasses import replace

from workflows import get_workflow
from workflows.model import Measure
from workflows.states import State

from .factories import actor, ctx, permit

HW = get_workflow("hot_work")


def test_an_approver_sees_approve_blocked_by_the_open_measure_lines() -> None:
    submitted = permit(state=State.submitted)
    open_line = replace(submitted, measures=(Measure("M1", "isolate and purge", True, None),))
    allowed, blocked = HW.next_actions(open_line, ctx(actor("unit_leader")))
    assert "approve" not in allowed
    (approve,) = [b for b in blocked if b.action == "approve"]
    assert [v.rule_id for v in approve.violations] == ["G-02"]
    allowed, blocked = HW.next_actions(submitted, ctx(actor("unit_leader")))
    assert "approve" in allowed and "approve" not in [b.action for b in blocked]


def test_an_action_the_role_cannot_take_is_neither_allowed_nor_blocked() -> None:
    open_line = replace(permit(state=State.submitted), measures=(Measure("M1", "x", True, None),))
    allowed, blocked = HW.next_actions(open_line, ctx(actor("worker")))
    assert "approve" not in allowed and "approve" not in [b.action for b in blocked]


def test_allowed_actions_are_the_first_half_of_next_actions() -> None:
    p = permit(state=State.briefed)
    who = ctx(actor("work_leader"))
    assert HW.allowed_actions(p, who) == HW.next_actions(p, who)[0]
    blocked = {
        b.action: {v.rule_id for v in b.violations} for b in HW.next_actions(replace(p, gas_tests=()), who)[1]
    }
    assert "HW-04" in blocked["activate"]
