"""Every permit type lives from draft to closed through the HTTP API, by the roles GB 30871-2022 names;
a wrong role is refused (403 ROLE) and each reader sees their own next actions."""

from __future__ import annotations

import pytest

from tests.api.checks import assert_problem
from tests.api.permit_flows import ACCEPTORS, CLOSER, TYPE_FACTS, PermitFlow


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


@pytest.mark.parametrize("permit_type", sorted(TYPE_FACTS))
def test_full_life_draft_to_closed_by_the_right_roles(flow, permit_type):
    flow.file(permit_type)
    assert (flow.state, flow.number[:2]) == ("draft", flow.permit["number"][:2])

    flow.to_closed()

    assert flow.state == "closed"
    signed = [(s["kind"], s["role"]) for s in flow.permit["signatures"]]
    assert signed[0] == ("application", "applicant")
    assert ("approval", flow.approver()) in signed
    assert signed[-1] == ("closure", CLOSER.get(permit_type, "unit_leader"))
    for role in ACCEPTORS.get(permit_type, ("unit_leader",)):
        assert ("acceptance", role) in signed
    assert ("briefing", "work_leader") in signed and ("briefing", "worker") in signed
    events = flow.client.get(f"{flow.url}/events", headers=flow.headers("applicant")).get_json()["items"]
    assert events[0]["kind"] == "permit.filed" and events[-1]["kind"] == "permit.close"
    assert flow.permit["allowed_actions"] == []


def test_full_life_excavation_countersigned_by_each_department_before_approval(flow):
    flow.file("excavation").submit()
    assert flow.permit["countersign_departments"] == [
        "water",
        "power",
        "telecom",
        "fire",
        "safety",
    ]  # the default
    flow.countersign("power", "water", "telecom", "safety")
    assert flow.state == "submitted"  # EX-01: still waiting for the fire department
    flow.countersign("fire")
    assert flow.state == "countersigned"
    flow.approve().brief().activate().complete().accept().close()
    signed = [
        (s["evidence"]["department"], s["person_id"])
        for s in flow.permit["signatures"]
        if s["kind"] == "countersign"
    ]
    assert [d for d, _ in signed] == [
        "power",
        "water",
        "telecom",
        "safety",
        "fire",
    ] and flow.state == "closed"
    assert len({p for _, p in signed}) == 5  # each by a different person of that department


def test_full_life_road_closure_reviewed_by_fire_and_safety(flow):
    flow.file("road_closure").submit().countersign("fire", "safety")
    assert flow.state == "countersigned"
    flow.approve().brief().activate().complete().accept("safety_dept").close()
    assert flow.state == "closed"


def test_full_life_temporary_power_serving_hot_work_ends_with_its_parent(flow):
    parent, power = flow.hot_work_with_its_power()
    parent.complete()
    power.reload()

    assert power.state == "completed"  # TE-01: the power ends with the hot work it serves
    assert power.permit["signatures"][-1]["role"] == "system"
    power.accept().close()
    parent.accept().close()
    assert (power.state, parent.state) == ("closed", "closed")
    assert {link["number"] for link in power.permit["links"]} == {parent.number}


@pytest.mark.parametrize(
    ("step", "wrong_role"),
    [
        ("submit", "work_leader"),
        ("record_gas_test", "guardian"),
        ("shift_check", "worker"),
        ("activate", "applicant"),
        ("complete", "guardian"),
        ("close", "worker"),
    ],
)
def test_wrong_role_gets_403(flow, step, wrong_role):
    flow.file("hot_work")
    body = {}
    if step != "submit":
        flow.submit().approve()
    if step in ("shift_check", "activate"):
        flow.brief()
    if step == "activate":
        flow.shift_check().gas_test()
    if step in ("complete", "close"):
        flow.brief().shift_check().gas_test().activate()
    if step == "close":
        flow.complete().accept()
    if step == "record_gas_test":
        body = flow.gas_body()
    problem = flow.refused(step, "ROLE", body, by=wrong_role, status=403)
    assert step not in problem["allowed_actions"]


def test_allowed_actions_differ_for_applicant_and_approver(flow):
    flow.file("hot_work").submit()

    as_applicant = flow.reload("applicant").permit["allowed_actions"]
    as_approver = flow.reload("safety_dept").permit["allowed_actions"]
    as_analyst = flow.reload("analyst").permit["allowed_actions"]

    assert "approve" not in as_applicant and {"cancel", "void"} <= set(as_applicant)
    assert {"approve", "reject"} <= set(as_approver) and "void" in as_approver
    assert as_analyst == ["record_gas_test"]


def test_allowed_actions_follow_the_life(flow):
    flow.file("hot_work")
    assert flow.permit["allowed_actions"] == ["submit", "cancel"]
    flow.to_briefed()
    assert "activate" not in flow.reload("work_leader").permit["allowed_actions"]  # HW-04: no gas test yet
    flow.gas_test()
    assert "activate" in flow.reload("work_leader").permit["allowed_actions"]


def test_another_enterprise_cannot_see_or_act_on_the_permit(flow):
    flow.file("hot_work")
    stranger = flow.world.other_people["applicant"]
    assert_problem(flow.client.get(flow.url, headers=flow.headers(stranger)), 404)
    assert_problem(flow.attempt("submit", by=stranger), 404)
