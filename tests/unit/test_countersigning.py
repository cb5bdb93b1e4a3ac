"""EX-01, RC-01: the departments that countersign come from the enterprise's configuration, fixed at submission,
and each is signed by a different person of that department."""

from __future__ import annotations

from workflows import get_workflow
from workflows.model import Actor
from workflows.states import State

from .factories import check, ctx, fire, member_of, permit

EX, RC = get_workflow("excavation"), get_workflow("road_closure")


def test_EX_01_submit_fixes_the_default_departments_where_the_enterprise_configured_none() -> None:
    p = fire(permit("excavation"), "submit")
    assert p.countersign_departments == ("water", "power", "telecom", "fire", "safety")


def test_EX_01_submit_fixes_the_enterprises_configured_departments_not_the_applicants() -> None:
    out = EX.fire(permit("excavation"), "submit", ctx(departments_configured=("power", "steam")))
    assert out.departments == ("power", "steam")


def test_RC_01_fire_and_safety_review_every_road_closure_besides_the_configured_departments() -> None:
    assert RC.fire(permit("road_closure"), "submit", ctx()).departments == ("fire", "safety")
    out = RC.fire(permit("road_closure"), "submit", ctx(departments_configured=("telecom", "safety")))
    assert out.departments == ("fire", "safety", "telecom")


def test_EX_01_each_department_by_a_member_then_approval() -> None:
    p = permit("excavation", State.submitted)
    for department in ("water", "power", "telecom", "fire"):
        p = fire(p, "countersign", member_of(department), payload={"department": department})
        assert p.state == State.submitted
    assert "STATE" in check(p, "approve")
    p = fire(p, "countersign", member_of("safety"), payload={"department": "safety"})
    assert p.state == State.countersigned and check(p, "approve") == set()


def test_EX_01_a_countersigner_signs_only_for_a_department_they_belong_to() -> None:
    p = permit("excavation", State.submitted)
    assert "EX-01" in check(p, "countersign", member_of("water"), payload={"department": "power"})
    assert "EX-01" in check(p, "countersign", member_of("process"), payload={"department": "process"})
    assert "countersign" not in EX.allowed_actions(p, ctx(member_of("process")))
    assert "countersign" in EX.allowed_actions(p, ctx(member_of("water")))


def test_EX_01_one_person_cannot_countersign_for_two_departments() -> None:
    both = Actor("p-both", frozenset({"countersigner"}), "ent-1", departments=frozenset({"fire", "safety"}))
    p = fire(permit("excavation", State.submitted), "countersign", both, payload={"department": "fire"})
    violations = EX.check(p, "countersign", ctx(both), {"department": "safety"})
    assert [v.rule_id for v in violations] == ["EX-01"]
    assert "同一人只能为一个部门会签：已代表消防部门会签" in violations[0].zh
    assert "countersign" not in EX.allowed_actions(p, ctx(both))


def test_EX_01_machine_levelling_or_filling_needs_a_permit_at_any_depth() -> None:
    assert "EX-01" in check(permit("excavation", facts={"depth_m": 0.3}), "submit")
    assert "EX-01" not in check(
        permit("excavation", facts={"depth_m": 0.3, "machine_levelling": True}), "submit"
    )


def test_EX_01_the_catalogue_publishes_the_departments() -> None:
    countersigning = EX.catalogue()["countersigning"]
    assert (countersigning["rule"], countersigning["always"]) == ("EX-01", [])
    assert countersigning["default"] == ["water", "power", "telecom", "fire", "safety"]
    assert {"code": "fire", "zh": "消防部门", "en": "fire department"} in countersigning["departments"]
    assert RC.catalogue()["countersigning"]["always"] == ["fire", "safety"]
    assert get_workflow("hot_work").catalogue()["countersigning"] is None
