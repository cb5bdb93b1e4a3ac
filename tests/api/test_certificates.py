"""G-13 through HTTP: the certificate a crew member needs follows from the work and is checked on the person's record
in the directory (kept by the enterprise admin), never on the applicant's word."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from permit_service.directory.models import Person
from tests.api.checks import assert_problem
from tests.api.permit_flows import PermitFlow


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def crew(flow: PermitFlow, permit_type: str, **members: Person) -> list[dict[str, Any]]:
    """The type's standard crew with the given roles' person replaced (worker=..., signaller=...)."""
    body = flow.body(permit_type)["crew"]
    return [
        {"person_id": str(members[m["role"]].id), "role": m["role"]} if m["role"] in members else m
        for m in body
    ]


def record(flow: PermitFlow, person: Person, *certificates: dict[str, Any]) -> dict[str, Any]:
    """The enterprise admin replaces the certificates on the person's record (G-13 evidence)."""
    path = f"/api/v1/people/{person.id}"
    headers = flow.headers("enterprise_admin")
    etag = flow.client.get(path, headers=headers).headers["ETag"]
    resp = flow.client.patch(
        path, json={"certificates": list(certificates)}, headers={**headers, "If-Match": etag}
    )
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


WELDER = {
    "kind": "welder",
    "number": "T371102-0001",
    "expires_on": "2029-06-30",
    "issued_by": "日照市应急管理局",
}


def test_G_13_a_welder_without_a_certificate_on_record_is_refused_at_submit_by_name(flow):
    welder = flow.extra("welder", "worker")
    flow.file("hot_work", crew=crew(flow, "hot_work", worker=welder))

    problem = flow.refused("submit", "G-13", by="applicant")
    assert f"{welder.name}（作业人）无特种作业操作证（焊接与热切割作业）" in problem["message_zh"]
    assert (
        f"{welder.name} (worker): holds no special-work certificate: welding and thermal cutting"
        in (problem["message_en"])
    )
    assert flow.reload().state == "draft"

    record(flow, welder, WELDER)
    flow.submit()
    assert flow.state == "submitted"
    member = next(m for m in flow.permit["crew"] if m["role"] == "worker")
    assert (member["certificate_kind"], member["certificate_number"], member["certificate_expires_on"]) == (
        "welder",
        "T371102-0001",
        "2029-06-30",
    )


def test_G_13_the_applicant_cannot_declare_a_certificate(flow):
    """The crew input has no certificate fields any more: the record is the evidence."""
    body = flow.body("hot_work")
    body["crew"][1] |= {"certificate_kind": "welder", "certificate_number": "T-FAKE"}
    resp = flow.client.post("/api/v1/permits", json=body, headers=flow.headers("applicant"))
    assert_problem(resp, 422, fields={"crew.1.certificate_kind", "crew.1.certificate_number"})


def test_G_13_an_expired_certificate_is_refused(flow):
    welder = flow.extra("welder", "worker")
    record(flow, welder, {**WELDER, "expires_on": "2026-05-31"})  # the clock is at 2026-06-10
    flow.file("hot_work", crew=crew(flow, "hot_work", worker=welder))

    problem = flow.refused("submit", "G-13", by="applicant")
    assert "T371102-0001）已于2026-05-31过期" in problem["message_zh"]
    assert "T371102-0001 expired on 2026-05-31" in problem["message_en"]


def test_G_13_a_certificate_must_hold_through_the_permits_last_day(flow):
    hand = flow.extra("hand", "worker")
    record(flow, hand, {"kind": "electrician", "number": "D-0001", "expires_on": "2026-06-10"})  # valid today
    until = flow.at(timedelta(hours=30))  # 2026-06-11 16:00 in Shanghai
    flow.file("temporary_power", crew=crew(flow, "temporary_power", worker=hand), valid_until=until)
    problem = flow.refused("submit", "G-13", by="applicant")
    assert "有效期至2026-06-10，早于作业票有效期结束日2026-06-11" in problem["message_zh"]


def test_G_13_grinding_needs_no_welders_certificate(flow):
    grinder = flow.extra("grinder", "worker")
    flow.file(
        "hot_work", crew=crew(flow, "hot_work", worker=grinder), facts={"methods": ["grinding"]}
    ).submit()
    assert flow.state == "submitted"
    member = next(m for m in flow.permit["crew"] if m["role"] == "worker")
    assert member["certificate_kind"] is None


def test_G_13_the_hot_work_method_is_stated_from_the_catalogues_list(flow):
    flow.file("hot_work", facts={"methods": None})
    flow.refused("submit", "G-13", by="applicant")
    resp = flow.client.post(
        "/api/v1/permits",
        json=flow.body("hot_work", facts={"methods": ["电焊"]}),
        headers=flow.headers("applicant"),
    )
    problem = assert_problem(resp, 422, fields={"facts.methods"})  # G-14: a closed vocabulary
    assert "electric_welding" in problem["errors"]["facts.methods"][0]

    catalogue = flow.client.get("/api/v1/permit-types/hot_work", headers=flow.headers("applicant")).get_json()
    methods = next(f for f in catalogue["facts"] if f["name"] == "methods")
    assert {"code": "electric_welding", "zh": "电焊", "en": "electric (arc) welding"} in methods["choices"]
    assert catalogue["certificates"][0]["kind"] == "welder"


def test_G_13_an_electrician_on_temporary_power(flow):
    hand = flow.extra("hand", "worker")
    record(flow, hand, WELDER)
    flow.file("temporary_power", crew=crew(flow, "temporary_power", worker=hand))
    problem = flow.refused("submit", "G-13", by="applicant")
    assert "特种作业操作证（电工作业）" in problem["message_zh"]

    record(flow, hand, WELDER, {"kind": "electrician", "number": "D-0001", "expires_on": "2028-01-31"})
    assert flow.submit().state == "submitted"


def test_G_13_a_crane_operator_and_a_signaller_on_lifting(flow):
    operator, signaller = flow.extra("operator", "worker"), flow.extra("lead", "worker")
    flow.file("lifting", crew=crew(flow, "lifting", worker=operator, signaller=signaller))
    problem = flow.refused("submit", "G-13", by="applicant")
    assert f"{operator.name}（作业人）无特种设备作业人员证（起重机械作业）" in problem["message_zh"]
    assert f"{signaller.name}（指挥人员）无特种设备作业人员证（起重机械指挥）" in problem["message_zh"]

    record(flow, operator, {"kind": "crane_operator", "number": "Q2-0001", "expires_on": "2028-01-31"})
    record(flow, signaller, {"kind": "crane_signaller", "number": "Q1-0001", "expires_on": "2028-01-31"})
    flow.submit()
    recorded = {m["role"]: m["certificate_kind"] for m in flow.permit["crew"]}
    assert recorded["worker"] == "crane_operator" and recorded["signaller"] == "crane_signaller"


def test_G_13_a_certificate_taken_off_the_record_stops_the_start_of_work(flow):
    flow.file("hot_work").to_briefed().gas_test()
    record(flow, flow.person("worker"))  # the admin withdraws every certificate of the worker
    flow.refused("activate", "G-13", by="work_leader")


def test_G_13_AU_01_the_submit_event_keeps_the_certificates_submit_accepted(flow):
    flow.file("hot_work").submit()
    events = flow.client.get(f"{flow.url}/events", headers=flow.headers("applicant")).get_json()["items"]
    submitted = next(e for e in events if e["kind"] == "permit.submit")
    crew = flow.reload().permit["crew"]
    recorded = [
        {k: m[k] for k in ("person_id", "role")}
        | {
            "kind": m["certificate_kind"],
            "number": m["certificate_number"],
            "expires_on": m["certificate_expires_on"],
        }
        for m in crew
        if m["certificate_kind"]
    ]
    assert recorded and submitted["data"]["certificates"] == recorded
