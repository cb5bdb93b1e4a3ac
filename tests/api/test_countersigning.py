"""EX-01, RC-01 through HTTP: the enterprise admin configures which departments countersign, a permit fixes them at
submission, and each is signed by a different person who belongs to that department."""

from __future__ import annotations

import pytest

from tests.api.checks import assert_problem
from tests.api.permit_flows import PermitFlow


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def path(flow: PermitFlow, permit_type: str = "excavation") -> str:
    return f"/api/v1/enterprises/{flow.world.enterprise.id}/countersigning/{permit_type}"


def configure(flow: PermitFlow, departments: list[str], permit_type: str = "excavation") -> dict:
    """The enterprise admin replaces the type's list (If-Match: the current ETag)."""
    headers = flow.headers("enterprise_admin")
    etag = flow.client.get(path(flow, permit_type), headers=headers).headers["ETag"]
    resp = flow.client.put(
        path(flow, permit_type), json={"departments": departments}, headers={**headers, "If-Match": etag}
    )
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_EX_01_the_departments_come_from_the_enterprises_configuration(flow):
    read = flow.client.get(path(flow), headers=flow.headers("applicant"))
    assert read.headers["ETag"] == '"0"'
    body = read.get_json()
    assert (body["configured"], body["departments"]) == (
        False,
        ["water", "power", "telecom", "fire", "safety"],
    )

    before = flow.another().file("excavation").submit()  # submitted under the default
    configured = configure(flow, ["power", "steam", "safety"])
    assert configured["configured"] and configured["version"] == 1
    assert configured["required"][1] == {"code": "steam", "zh": "供汽部门", "en": "steam supply"}

    flow.file("excavation").submit()
    assert flow.permit["countersign_departments"] == ["power", "steam", "safety"]
    assert flow.countersign().state == "countersigned"
    assert flow.approve().state == "approved"
    # a permit submitted before keeps the departments fixed at its submission
    assert before.reload().permit["countersign_departments"] == [
        "water",
        "power",
        "telecom",
        "fire",
        "safety",
    ]


def test_EX_01_only_the_enterprise_admin_configures_and_only_known_departments(flow):
    headers = {**flow.headers("applicant"), "If-Match": '"0"'}
    assert_problem(flow.client.put(path(flow), json={"departments": ["power"]}, headers=headers), 403)
    headers = {**flow.headers("enterprise_admin"), "If-Match": '"0"'}
    for departments in ([], ["power", "power"], ["finance"]):
        resp = flow.client.put(path(flow), json={"departments": departments}, headers=headers)
        assert_problem(resp, 422)
    other = f"/api/v1/enterprises/{flow.world.other_enterprise.id}/countersigning/excavation"
    assert_problem(flow.client.get(other, headers=flow.headers("applicant")), 404)


def test_RC_01_fire_and_safety_review_besides_the_configured_departments(flow):
    configured = configure(flow, ["telecom"], "road_closure")
    assert [d["code"] for d in configured["required"]] == ["fire", "safety", "telecom"]
    flow.file("road_closure").submit()
    assert flow.permit["countersign_departments"] == ["fire", "safety", "telecom"]


def test_EX_01_one_person_cannot_countersign_for_two_departments(flow):
    configure(flow, ["fire", "safety"])
    both = flow.extra("both", "countersigner", departments=["fire", "safety"])
    flow.file("excavation").submit()
    flow.do("countersign", {"department": "fire"}, by=both)
    assert "countersign" not in flow.reload(by=both).permit["allowed_actions"]

    problem = flow.refused("countersign", "EX-01", {"department": "safety"}, by=both)
    assert "同一人只能为一个部门会签：已代表消防部门会签" in problem["message_zh"]
    assert "one person countersigns for one department only" in problem["message_en"]
    assert flow.countersign("safety").state == "countersigned"


def test_EX_01_a_countersigner_signs_for_their_own_department_as_their_record_says(flow):
    configure(flow, ["water"])
    flow.file("excavation").submit()
    countersigner = flow.person("countersigner")  # holds the role, belongs to no department yet
    problem = flow.refused("countersign", "EX-01", {"department": "water"}, by=countersigner)
    assert "给排水部门" in problem["message_zh"]

    admin = flow.headers("enterprise_admin")
    person = f"/api/v1/people/{countersigner.id}"
    etag = flow.client.get(person, headers=admin).headers["ETag"]
    resp = flow.client.patch(person, json={"departments": ["water"]}, headers={**admin, "If-Match": etag})
    assert resp.status_code == 200 and resp.get_json()["departments"] == ["water"]
    flow.do("countersign", {"department": "water"}, by=countersigner)
    assert flow.state == "countersigned"
    bad = flow.client.patch(person, json={"departments": ["finance"]}, headers={**admin, "If-Match": '"2"'})
    assert_problem(bad, 422, fields={"departments.0"})


def test_EX_01_machine_levelling_needs_a_permit_at_0_3_m(flow):
    flow.file("excavation", facts={"depth_m": 0.3})
    problem = flow.refused("submit", "EX-01", by="applicant")
    assert "machine levelling or filling" in problem["message_en"]
    flow.file("excavation", facts={"depth_m": 0.3, "machine_levelling": True}).submit()
    assert flow.state == "submitted"
