"""The general rules G-01..G-13 through the HTTP API: each blocks with its rule ID and lets the right case pass."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from permit_service.auth.principal import SYSTEM
from permit_service.db import transaction
from permit_service.permits import service
from tests.api.checks import assert_problem
from tests.api.permit_flows import CROSS_OPERATION, POSITION_INSIDE, PermitFlow
from workflows.rules import RuleViolation


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def _crew(flow, *, guardian="guardian", worker="worker"):
    people = flow.world.people
    crew = [
        {"person_id": str(people["work_leader"].id), "role": "work_leader"},
        {"person_id": str(flow.person(worker).id), "role": "worker"},
    ]
    return [*crew, {"person_id": str(flow.person(guardian).id), "role": "guardian"}] if guardian else crew


# (rule, what the draft gets to be refused at submit, what fixes it)
SUBMIT_CASES = {
    "G-01": (lambda f: {"risk_analysis": ""}, lambda f: {"risk_analysis": "可燃气体泄漏"}),
    "G-02": (lambda f: {"measures": []}, lambda f: {}),  # submission asks every Appendix A line answered
    "G-13": (  # a welder whose record holds no welder's certificate
        lambda f: {"crew": _crew(f, worker=f.extra("uncertified", "worker"))},
        lambda f: {"crew": _crew(f)},
    ),
    "G-03": (
        lambda f: {"facts": {"also_involves": ["temporary_power"]}},
        lambda f: {
            "facts": {"also_involves": ["height"]},
            "linked_permit_ids": [f.another().file("height").id],
        },
    ),
}


@pytest.mark.parametrize("case", sorted(SUBMIT_CASES))
def test_G_01_G_02_G_03_G_13_submit_guards_block_and_pass(flow, case):
    blocking, fixing = SUBMIT_CASES[case]
    body = blocking(flow)
    facts = body.pop("facts", None)
    flow.file("hot_work", facts=facts, **body).refused("submit", case, by="applicant")

    body = fixing(flow)
    facts = body.pop("facts", None)
    assert flow.file("hot_work", facts=facts, **body).submit().state == "submitted"


def test_G_04_cross_operation_needs_a_coordinator_naming_the_other_permit(flow):
    first = flow.file("hot_work").to_approved()
    second = flow.another().file("height").submit()

    problem = second.refused("approve", "G-04", {"evidence": second.evidence()}, by="unit_leader")
    assert first.number in problem["message_en"] and first.number in problem["message_zh"]

    third = flow.another().file("height", facts=CROSS_OPERATION).submit().approve()
    assert third.state == "approved"


def test_G_05_briefing_signed_by_the_briefer_first_then_every_worker_before_work(flow):
    flow.file("height").submit().approve()
    flow.refused("brief", "G-05", by="worker")  # the work leader briefs first
    flow.do("brief", by="work_leader")
    assert flow.state == "approved"  # every worker still has to sign
    flow.do("brief", by="worker").activate()
    assert flow.state == "active"


def test_G_05_no_work_without_a_worker_briefed(flow):
    leader_only = [m for m in flow.body("height")["crew"] if m["role"] != "worker"]
    flow.file("height", crew=leader_only).submit().approve().do("brief", by="work_leader")
    flow.refused("activate", "G-05", by="work_leader")


@pytest.mark.parametrize(
    ("evidence", "passes"),
    [
        ({}, False),
        ({"card_id": "CARD-1"}, False),
        ("other_area", False),
        ("own_area", False),  # an area id alone proves nothing
        ({"position": {"x": 12.5, "y": 40.0, "accuracy_m": 1}}, False),  # outside the area's boundary
        ({"position": POSITION_INSIDE}, True),
    ],
)
def test_G_06_approval_records_on_site_evidence(flow, factory, evidence, passes):
    flow.file("height").submit()
    if evidence == "other_area":
        evidence = {"area_id": str(factory.area(flow.world.enterprise).id)}
    elif evidence == "own_area":
        evidence = {"area_id": flow.permit["area_id"]}
    if not passes:
        flow.refused("approve", "G-06", {"evidence": evidence}, by="unit_leader")
        return
    flow.approve(evidence=evidence)
    approval = next(s for s in flow.permit["signatures"] if s["kind"] == "approval")
    assert approval["evidence"].items() >= evidence.items()


def test_G_07_a_submitted_permit_is_never_edited_but_voided_and_reissued(flow):
    flow.file("hot_work")
    draft_edit = flow.client.patch(
        flow.url, json={"title": "改为更换阀门"}, headers=flow.headers("applicant", **{"If-Match": '"1"'})
    )
    assert draft_edit.status_code == 200 and draft_edit.get_json()["title"] == "改为更换阀门"
    flow.submit()

    etag = flow.client.get(flow.url, headers=flow.headers("applicant")).headers["ETag"]
    problem = assert_problem(
        flow.client.patch(
            flow.url, json={"title": "x"}, headers=flow.headers("applicant", **{"If-Match": etag})
        ),
        409,
    )
    assert problem["rule"] == "G-07"

    resp = flow.client.post(
        f"{flow.url}/reissue", json={"reason": "作业范围变更"}, headers=flow.headers("applicant")
    )
    assert resp.status_code == 201, resp.get_json()
    new = resp.get_json()
    assert (new["state"], new["reissued_from_id"], new["title"]) == ("draft", flow.id, "改为更换阀门")
    assert new["number"] != flow.number
    assert flow.reload().state == "voided"


def test_G_07_a_drafts_crew_is_replaced_keeping_members_that_stay(flow):
    flow.file("hot_work")
    work_leader, worker, guardian = flow.permit["crew"]
    new_guardian = flow.extra("second_guardian", "guardian")
    crew = [
        {"person_id": str(new_guardian.id), "role": "guardian"},
        {k: worker[k] for k in ("person_id", "role")},
        {"person_id": work_leader["person_id"], "role": "work_leader"},
    ]
    edited = flow.client.patch(
        flow.url, json={"crew": crew}, headers=flow.headers("applicant", **{"If-Match": '"1"'})
    )
    assert edited.status_code == 200, edited.get_json()
    stored = [(c["person_id"], c["role"]) for c in flow.reload().permit["crew"]]
    assert stored == [(c["person_id"], c["role"]) for c in crew]
    assert guardian["person_id"] not in {person for person, _ in stored}


def test_an_action_with_if_match_star_is_428_and_changes_nothing(flow):
    flow.file("hot_work")
    problem = assert_problem(flow.attempt("submit", by="applicant", **{"If-Match": "*"}), 428)
    assert "*" in problem["message_en"]
    assert flow.reload().state == "draft"


def test_refusals_name_states_and_roles_in_chinese(flow):
    flow.file("hot_work")
    state = assert_problem(flow.attempt("activate", by="work_leader"), 409)
    assert state["message_zh"] == "作业票处于“草稿”状态，不能执行“开始作业”"
    flow.submit()
    role = flow.attempt("approve", {"evidence": flow.evidence()}, by="guardian")
    assert assert_problem(role, 409)["message_zh"] == "该作业票须由以下角色审批：安全管理部门"


def test_G_07_void_needs_a_reason(flow):
    flow.file("hot_work").submit().refused("void", "G-07", {"reason": "   "}, by="applicant")
    assert flow.do("void", {"reason": "作业内容变更"}, by="applicant").state == "voided"


def test_G_08_suspend_needs_a_reason_and_resume_reconfirmed_conditions(flow):
    flow.file("height").to_active()
    flow.refused("suspend", "G-08", {"reason": "  "}, by="guardian")
    flow.suspend("脚手架松动")
    flow.refused("resume", "G-08", {"conditions_confirmed": False}, by="work_leader")
    assert flow.resume().state == "active"


def test_G_09_the_guardian_is_not_a_worker_on_the_same_permit(flow):
    flow.file("height", crew=_crew(flow, guardian="worker")).submit()
    flow.refused("approve", "G-09", {"evidence": flow.evidence()}, by="unit_leader")
    assert flow.file("height").submit().approve().state == "approved"


def test_G_09_the_applicant_does_not_approve_their_own_permit(flow):
    both = flow.extra("applicant-and-approver", "applicant", "unit_leader")
    flow.file("height", by=both).submit(by=both)
    flow.refused("approve", "G-09", {"evidence": flow.evidence()}, by=both)
    assert flow.approve(by="unit_leader").state == "approved"


def test_G_09_one_approval_per_role(flow):
    upgraded = flow.extra("second-principal", "principal")
    flow.file(
        "hot_work",
        facts={"on_running_equipment": True},
        valid_from=flow.at(timedelta(hours=11)),
        valid_until=flow.at(timedelta(hours=13)),
    ).submit()  # special grade at night: principal (HW-03)
    flow.approve(by="principal")
    assert flow.state == "approved"
    flow.refused("approve", "STATE", {"evidence": flow.evidence()}, by=upgraded)


@pytest.mark.parametrize(
    ("permit_type", "facts", "wrong", "right"),
    [
        ("hot_work", {}, "unit_leader", "safety_dept"),
        ("hot_work", {"on_running_equipment": True}, "safety_dept", "leader_in_charge"),
        ("height", {"height_m": 20}, "unit_leader", "specialist_dept"),
        ("lifting", {"load_t": 120, "lifting_plan": "方案"}, "specialist_dept", "plant_manager"),
        ("confined_space", {}, "safety_dept", "unit_leader"),
        ("temporary_power", {}, "unit_leader", "power_supplier"),
    ],
)
def test_G_10_approver_role_matches_type_and_grade(flow, permit_type, facts, wrong, right):
    flow.file(permit_type, facts=facts).submit()
    flow.refused("approve", "G-10", {"evidence": flow.evidence()}, by=wrong)
    assert flow.approve(by=right).state == "approved"


def test_G_11_acceptance_with_the_site_restored_before_close(flow):
    flow.file("height").to_active().complete()
    flow.refused("close", "G-11", by="unit_leader")
    flow.refused("accept", "G-11", {"site_restored": False}, by="unit_leader")
    assert flow.accept().close().state == "closed"


@pytest.mark.parametrize(
    ("permit_type", "hours", "rule"),
    [("hot_work", 9, "G-12"), ("height", 24 * 7 + 1, "G-12"), ("confined_space", 25, "G-12")],
)
def test_G_12_window_longer_than_the_type_allows_is_refused_at_filing(flow, permit_type, hours, rule):
    body = flow.body(permit_type, valid_until=flow.at(timedelta(hours=hours)))
    problem = assert_problem(
        flow.client.post("/api/v1/permits", json=body, headers=flow.headers("applicant")), 409
    )
    assert problem["rule"] == rule
    body["valid_until"] = flow.at(timedelta(hours=hours - 1))
    assert (
        flow.client.post("/api/v1/permits", json=body, headers=flow.headers("applicant")).status_code == 201
    )


def _expire(app, permit_id):
    with app.app_context(), transaction() as session:
        return service.perform(
            session, permit_id=uuid.UUID(permit_id), action="expire", principal=SYSTEM
        ).state


def test_G_12_expires_only_past_valid_until_through_the_system(flow, app, clock):
    flow.file("height").submit()
    with pytest.raises(RuleViolation) as refused:
        _expire(app, flow.id)
    assert refused.value.rule == "G-12"

    clock.advance(timedelta(hours=6))
    assert _expire(app, flow.id) == "expired"
    assert flow.reload().permit["signatures"][-1] == {
        **flow.permit["signatures"][-1],
        "kind": "expiry",
        "role": "system",
        "person_id": None,
    }


def test_G_12_nothing_moves_forward_after_valid_until(flow, clock):
    flow.file("height").submit()
    clock.advance(timedelta(hours=6, seconds=1))
    flow.refused("approve", "G-12", {"evidence": flow.evidence()}, by="unit_leader")
