"""Jobs and their permits together through the HTTP API: consent gates approval (HR-01), the principal approves
on site (HR-02), a refusal cancels the permits (HR-03), red and orange enterprises (RG-02)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api.permit_flows import POSITION_INSIDE, PermitFlow, draft_body, iso, measure_answers
from tests.api.test_jobs import act, file_job, on_site


def entry_permit_body(world: Any, **overrides: Any) -> dict[str, Any]:
    """A complete confined-space permit for entering tank T-101, inside the job's window."""
    people = world.people
    return {
        "type": "confined_space",
        "area_id": str(world.area.id),
        "title": "T-101 原油储罐进罐清理",
        "location": "罐区 T-101",
        "work_content": "人工清除罐底油泥",
        "valid_from": iso(timedelta(hours=1)),
        "valid_until": iso(timedelta(hours=6)),
        "facts": {"space_id": "T-101", "medium": "原油", "oxygen_enriched_environment": False},
        "risk_analysis": "硫化氢中毒、缺氧窒息、油气爆炸",
        "high_risk_kind": "none",  # HR-01: answered; the job that carries it makes it Plan-27 work all the same
        "measures": measure_answers("confined_space"),
        "crew": [
            {"person_id": str(people["work_leader"].id), "role": "work_leader"},
            {"person_id": str(people["worker"].id), "role": "worker"},
            {"person_id": str(people["guardian"].id), "role": "guardian"},
        ],
        **overrides,
    }


def file_permit(client: Any, factory: Any, world: Any, **overrides: Any) -> dict[str, Any]:
    """File and submit a confined-space permit as the applicant, its involved measure lines confirmed (G-02)."""
    headers = factory.headers(world.people["applicant"])
    resp = client.post("/api/v1/permits", json=entry_permit_body(world, **overrides), headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return submit(client, factory, world, resp.get_json())


def submit(client: Any, factory: Any, world: Any, permit: dict[str, Any]) -> dict[str, Any]:
    """Submit a draft as the applicant and record a confirmer for each involved measure line (G-02)."""
    flow = PermitFlow(client, factory, world)
    flow.permit = permit
    return flow.submit().permit


def permit_act(
    client: Any, factory: Any, who: Any, permit: dict[str, Any], action: str, body: dict | None = None
) -> Any:
    """POST an action on a permit as `who`."""
    return client.post(
        f"/api/v1/permits/{permit['id']}/{action}", json=body or {}, headers=factory.headers(who)
    )


def approval(world: Any) -> dict[str, Any]:
    """An on-site approval body (G-06)."""
    return {"evidence": {"area_id": str(world.area.id), "position": POSITION_INSIDE}}


def attach(client: Any, factory: Any, world: Any, job: dict[str, Any], permit: dict[str, Any]) -> None:
    """Carry the permit in the job."""
    resp = client.post(
        f"/api/v1/jobs/{job['id']}/permits",
        json={"permit_id": permit["id"]},
        headers=factory.headers(world.people["applicant"]),
    )
    assert resp.status_code == 200, resp.get_json()


def test_HR_01_no_permit_of_a_job_is_approved_before_consent(client, factory):
    world = factory.world()
    job = file_job(client, factory, world)
    permit = file_permit(client, factory, world)
    attach(client, factory, world, job, permit)
    for role in ("unit_leader", "principal"):
        resp = permit_act(client, factory, world.people[role], permit, "approve", approval(world))
        assert resp.status_code == 409, resp.get_json()
        assert resp.get_json()["rule"] == "HR-01"
    act(client, factory, world.people["applicant"], job, "report")
    resp = permit_act(client, factory, world.people["principal"], permit, "approve", approval(world))
    assert resp.status_code == 409
    assert resp.get_json()["rule"] == "HR-01"


def test_HR_01_declared_plan_27_work_outside_any_job_is_not_approved(client, factory):
    world = factory.world()
    declared = file_permit(client, factory, world, high_risk_kind="tank_cleaning")
    assert declared["high_risk_kind"] == "tank_cleaning"
    for role in ("unit_leader", "principal"):
        resp = permit_act(client, factory, world.people[role], declared, "approve", approval(world))
        body = resp.get_json()
        assert resp.status_code == 409, body
        assert body["rule"] == "HR-01"
        assert body["message_zh"] and body["message_en"]
    undeclared = file_permit(client, factory, world)
    resp = permit_act(client, factory, world.people["unit_leader"], undeclared, "approve", approval(world))
    assert resp.status_code == 200
    assert resp.get_json()["state"] == "approved"


def test_HR_01_declared_plan_27_work_does_not_hide_in_a_consent_report(client, factory):
    world = factory.world()
    declared = file_permit(client, factory, world, high_risk_kind="leak_plugging")
    job = file_job(client, factory, world, kind="consent_report", title="一般报备")
    resp = client.post(
        f"/api/v1/jobs/{job['id']}/permits",
        json={"permit_id": declared["id"]},
        headers=factory.headers(world.people["applicant"]),
    )
    assert resp.status_code == 409
    assert resp.get_json()["rule"] == "HR-01"
    assert "consent report" in resp.get_json()["message_en"]


def test_HR_01_declared_plan_27_work_joins_only_a_job_of_its_own_kind(client, factory):
    world = factory.world()
    job = file_job(client, factory, world)  # tank cleaning
    leak = file_permit(client, factory, world, high_risk_kind="leak_plugging")
    resp = client.post(
        f"/api/v1/jobs/{job['id']}/permits",
        json={"permit_id": leak["id"]},
        headers=factory.headers(world.people["applicant"]),
    )
    assert resp.status_code == 409, resp.get_json()
    problem = resp.get_json()
    assert problem["rule"] == "HR-01"
    assert "leak plugging" in problem["message_en"] and "tank cleaning" in problem["message_en"]
    assert "堵漏" in problem["message_zh"] and "清罐" in problem["message_zh"]
    attach(client, factory, world, job, file_permit(client, factory, world, high_risk_kind="tank_cleaning"))


def test_HR_01_a_job_whose_kind_changed_after_its_permits_joined_is_not_reported(client, factory):
    world = factory.world()
    job = file_job(client, factory, world)
    attach(client, factory, world, job, file_permit(client, factory, world, high_risk_kind="tank_cleaning"))
    headers = factory.headers(world.people["applicant"])
    job = client.get(f"/api/v1/jobs/{job['id']}", headers=headers).get_json()
    changed = client.patch(
        f"/api/v1/jobs/{job['id']}",
        json={"kind": "leak_plugging"},
        headers={**headers, "If-Match": f'"{job["version"]}"'},
    )
    assert changed.status_code == 200, changed.get_json()
    resp = act(client, factory, world.people["applicant"], job, "report")
    assert resp.status_code == 409, resp.get_json()
    assert resp.get_json()["rule"] == "HR-01"
    assert "leak plugging job" in resp.get_json()["message_en"]


def file_draft(client: Any, factory: Any, world: Any, **overrides: Any) -> dict[str, Any]:
    """File a confined-space permit as a draft (not submitted)."""
    resp = client.post(
        "/api/v1/permits",
        json=entry_permit_body(world, **overrides),
        headers=factory.headers(world.people["applicant"]),
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def edit(client: Any, factory: Any, world: Any, permit: dict[str, Any], changes: dict[str, Any]) -> Any:
    """PATCH a permit as its applicant, naming the version last read."""
    headers = {**factory.headers(world.people["applicant"]), "If-Match": f'"{permit["version"]}"'}
    return client.patch(f"/api/v1/permits/{permit['id']}", json=changes, headers=headers)


def test_HR_01_a_drafts_declaration_is_corrected_before_submission_only(client, factory):
    world = factory.world()
    draft = file_draft(client, factory, world, high_risk_kind="leak_plugging")
    corrected = edit(client, factory, world, draft, {"high_risk_kind": "tank_cleaning"})
    assert corrected.status_code == 200, corrected.get_json()
    assert corrected.get_json()["high_risk_kind"] == "tank_cleaning"
    cleared = edit(client, factory, world, corrected.get_json(), {"high_risk_kind": "none"})
    assert cleared.status_code == 200, cleared.get_json()
    assert cleared.get_json()["high_risk_kind"] == "none"
    for bad_answer in ("consent_report", None):  # an answer it must stay: none, not unanswered
        bad = edit(client, factory, world, cleared.get_json(), {"high_risk_kind": bad_answer})
        assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"high_risk_kind"}

    submitted = file_permit(client, factory, world, high_risk_kind="leak_plugging")
    signed = edit(client, factory, world, submitted, {"high_risk_kind": "tank_cleaning"})
    assert signed.status_code == 409 and signed.get_json()["rule"] == "G-07"


def test_HR_01_a_draft_in_a_job_keeps_declaring_the_jobs_kind(client, factory):
    world = factory.world()
    job = file_job(client, factory, world)  # tank cleaning
    draft = file_draft(client, factory, world, high_risk_kind="tank_cleaning")
    attach(client, factory, world, job, draft)
    resp = edit(client, factory, world, draft, {"high_risk_kind": "leak_plugging"})
    assert resp.status_code == 409, resp.get_json()
    assert resp.get_json()["rule"] == "HR-01"
    assert "tank cleaning job" in resp.get_json()["message_en"] and "堵漏" in resp.get_json()["message_zh"]
    cleared = edit(
        client, factory, world, draft, {"high_risk_kind": "none"}
    )  # still Plan-27 work: in the job
    assert cleared.status_code == 200, cleared.get_json()


def test_HR_01_a_draft_in_a_consent_report_cannot_declare_plan_27_work(client, factory):
    world = factory.world()
    grade_enterprise(client, factory, world, "red")
    draft = file_draft(client, factory, world)
    job = consent_report(client, factory, world, draft)
    assert act(client, factory, world.regulator, job, "consent").status_code == 200
    resp = edit(client, factory, world, draft, {"high_risk_kind": "leak_plugging"})
    assert resp.status_code == 409, resp.get_json()
    assert resp.get_json()["rule"] == "HR-01"
    assert "consent report" in resp.get_json()["message_en"] and resp.get_json()["message_zh"]
    unchanged = client.get(
        f"/api/v1/permits/{draft['id']}", headers=factory.headers(world.people["applicant"])
    ).get_json()
    assert unchanged["high_risk_kind"] == "none" and unchanged["version"] == draft["version"]


def test_HR_01_declared_plan_27_work_is_approved_by_the_principal_under_a_consented_job(client, factory):
    world = factory.world()
    job = file_job(client, factory, world, kind="water_draining", title="V-201 切水")
    declared = file_permit(client, factory, world, high_risk_kind="water_draining")
    attach(client, factory, world, job, declared)
    reported = act(client, factory, world.people["applicant"], job, "report").get_json()
    assert [p["high_risk_kind"] for p in reported["permits"]] == ["water_draining"]
    blocked = permit_act(client, factory, world.people["principal"], declared, "approve", approval(world))
    assert blocked.get_json()["rule"] == "HR-01"
    assert act(client, factory, world.regulator, job, "consent").status_code == 200
    first = permit_act(client, factory, world.people["unit_leader"], declared, "approve", approval(world))
    assert first.get_json()["state"] == "submitted"  # HR-02: the principal's approval is still missing
    resp = permit_act(client, factory, world.people["principal"], declared, "approve", approval(world))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "approved"


def test_HR_01_a_reissued_permit_keeps_its_declaration_and_needs_a_consent_again(client, factory):
    world = factory.world()
    permit = consented_with_permit(client, factory, world, high_risk_kind="tank_cleaning")
    for role in ("unit_leader", "principal"):
        assert (
            permit_act(client, factory, world.people[role], permit, "approve", approval(world)).status_code
            == 200
        )
    resp = client.post(
        f"/api/v1/permits/{permit['id']}/reissue",
        json={"reason": "作业范围变更"},
        headers=factory.headers(world.people["applicant"]),
    )
    assert resp.status_code == 201, resp.get_json()
    new = resp.get_json()
    assert new["high_risk_kind"] == "tank_cleaning"
    submitted = submit(client, factory, world, new)
    blocked = permit_act(client, factory, world.people["unit_leader"], submitted, "approve", approval(world))
    assert blocked.status_code == 409
    assert blocked.get_json()["rule"] == "HR-01"


def test_HR_01_only_the_four_plan_27_kinds_are_declared(client, factory):
    world = factory.world()
    resp = client.post(
        "/api/v1/permits",
        json=entry_permit_body(world, high_risk_kind="consent_report"),
        headers=factory.headers(world.people["applicant"]),
    )
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"high_risk_kind"}


def gas_test(clock: Any) -> dict[str, Any]:
    """A passing confined-space analysis taken now (CS-01, CS-02)."""
    return {
        "sampled_at": clock.now().isoformat(),
        "point": "T-101 人孔",
        "readings": [
            {"gas": "O2", "value": 20.8, "unit": "%vol"},
            {"gas": "CH4", "value": 0.0, "unit": "%LEL"},
            {"gas": "H2S", "value": 0.0, "unit": "ppm"},
        ],
    }


def test_tank_cleaning_reported_consented_confirmed_approved_worked_and_closed(
    client, factory, clock, db_session
):
    world = factory.world()
    people = world.people
    job = file_job(client, factory, world)
    permit = file_permit(client, factory, world)
    attach(client, factory, world, job, permit)

    reported = act(client, factory, people["applicant"], job, "report").get_json()
    assert reported["state"] == "reported"
    queue = client.get(
        "/api/v1/regulator/reports?state=reported", headers=factory.headers(world.regulator)
    ).get_json()
    assert [j["id"] for j in queue["items"]] == [job["id"]]
    seen = client.get(f"/api/v1/jobs/{job['id']}", headers=factory.headers(world.regulator)).get_json()
    assert [p["number"] for p in seen["permits"]] == [permit["number"]]

    assert act(client, factory, world.regulator, job, "consent", {"reason": "同意"}).status_code == 200
    confirmed = act(client, factory, people["principal"], job, "confirm-on-site", on_site(world))
    assert confirmed.get_json()["state"] == "principal_confirmed"

    clock.advance(timedelta(hours=1, minutes=5))
    assert act(client, factory, people["work_leader"], job, "start").get_json()["state"] == "in_progress"
    for role in ("unit_leader", "principal"):
        resp = permit_act(client, factory, people[role], permit, "approve", approval(world))
        assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "approved"
    signers = {(s["kind"], s["role"]) for s in resp.get_json()["signatures"]}
    assert ("approval", "principal") in signers
    assert (
        permit_act(client, factory, people["analyst"], permit, "gas-tests", gas_test(clock)).status_code
        == 200
    )
    for role in ("work_leader", "worker"):
        resp = permit_act(client, factory, people[role], permit, "brief", {"comment": "进罐安全交底"})
        assert resp.status_code == 200, resp.get_json()
    resp = permit_act(client, factory, people["work_leader"], permit, "activate")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "active"

    still_open = act(client, factory, people["work_leader"], job, "close")
    assert still_open.status_code == 409
    assert still_open.get_json()["open_permits"] == [permit["number"]]

    clock.advance(timedelta(hours=2))
    assert permit_act(client, factory, people["work_leader"], permit, "complete").status_code == 200
    resp = permit_act(client, factory, people["unit_leader"], permit, "accept", {"site_restored": True})
    assert resp.status_code == 200, resp.get_json()
    resp = permit_act(client, factory, people["unit_leader"], permit, "close")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "closed"

    closed = act(client, factory, people["work_leader"], job, "close")
    assert closed.status_code == 200
    assert closed.get_json()["state"] == "closed"
    kinds = [
        e["kind"]
        for e in client.get(
            f"/api/v1/permits/{permit['id']}/events", headers=factory.headers(people["applicant"])
        ).get_json()["items"]
    ]
    assert "permit.approve" in kinds and kinds[-1] == "permit.close"


def consented_with_permit(client: Any, factory: Any, world: Any, **overrides: Any) -> dict[str, Any]:
    """A tank-cleaning job carrying one submitted permit, reported and consented; returns the permit."""
    job = file_job(client, factory, world)
    permit = file_permit(client, factory, world, **overrides)
    attach(client, factory, world, job, permit)
    act(client, factory, world.people["applicant"], job, "report")
    assert act(client, factory, world.regulator, job, "consent").status_code == 200
    return permit


def test_HR_02_the_principals_approval_is_not_given_by_another_role(client, factory):
    world = factory.world()
    permit = consented_with_permit(client, factory, world)
    first = permit_act(client, factory, world.people["unit_leader"], permit, "approve", approval(world))
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["state"] == "submitted"  # the principal's approval is still missing
    for role in ("leader_in_charge", "plant_manager", "safety_dept", "enterprise_admin"):
        resp = permit_act(client, factory, world.people[role], permit, "approve", approval(world))
        assert resp.status_code in (403, 409), resp.get_json()
        assert resp.get_json().get("rule") == "HR-02", (role, resp.get_json())
    other = permit_act(client, factory, world.other_people["principal"], permit, "approve", approval(world))
    assert other.status_code == 404
    resp = permit_act(client, factory, world.people["principal"], permit, "approve", approval(world))
    assert resp.status_code == 200
    assert resp.get_json()["state"] == "approved"


def test_HR_03_refusal_cancels_the_jobs_permits(client, factory, db_session):
    world = factory.world()
    job = file_job(client, factory, world)
    permit = file_permit(client, factory, world)
    attach(client, factory, world, job, permit)
    act(client, factory, world.people["applicant"], job, "report")
    resp = act(client, factory, world.regulator, job, "refuse", {"reason": "未制定应急预案"})
    assert resp.status_code == 200
    assert [p["state"] for p in resp.get_json()["permits"]] == ["cancelled"]
    read = client.get(
        f"/api/v1/permits/{permit['id']}", headers=factory.headers(world.people["applicant"])
    ).get_json()
    assert read["state"] == "cancelled"
    assert "未制定应急预案" in read["status_reason"]
    approve = permit_act(client, factory, world.people["principal"], read, "approve", approval(world))
    assert approve.status_code == 409


def test_cancelling_a_job_cancels_its_open_permits(client, factory):
    world = factory.world()
    job = file_job(client, factory, world)
    permit = file_permit(client, factory, world)
    attach(client, factory, world, job, permit)
    resp = act(client, factory, world.people["applicant"], job, "cancel", {"reason": "改期"})
    assert resp.status_code == 200
    assert [p["state"] for p in resp.get_json()["permits"]] == ["cancelled"]


def grade_enterprise(client: Any, factory: Any, world: Any, grade: str) -> None:
    """The district regulator grades the world's enterprise."""
    resp = client.post(
        f"/api/v1/enterprises/{world.enterprise.id}/risk-grade",
        json={"grade": grade, "reason": "动态评估"},
        headers=factory.headers(world.regulator),
    )
    assert resp.status_code == 201


def consent_report(client: Any, factory: Any, world: Any, permit: dict[str, Any]) -> dict[str, Any]:
    """File a consent report carrying `permit`, report it; returns the reported job."""
    job = file_job(client, factory, world, kind="consent_report", title="红色企业作业报备")
    attach(client, factory, world, job, permit)
    resp = act(client, factory, world.people["applicant"], job, "report")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_RG_02_a_red_enterprises_new_permit_takes_the_consent_path(client, factory):
    world = factory.world()
    grade_enterprise(client, factory, world, "red")
    permit = file_permit(client, factory, world)
    blocked = permit_act(client, factory, world.people["unit_leader"], permit, "approve", approval(world))
    assert blocked.status_code == 409
    assert blocked.get_json()["rule"] == "HR-01"
    job = consent_report(client, factory, world, permit)
    assert job["grounds"] == ["RG-02"]
    assert act(client, factory, world.regulator, job, "consent").status_code == 200
    resp = permit_act(client, factory, world.people["unit_leader"], permit, "approve", approval(world))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "approved"


def test_RG_02_a_red_enterprise_cannot_activate_a_permit_without_consent(client, factory, clock):
    world = factory.world()
    people = world.people
    permit = file_permit(client, factory, world)
    assert (
        permit_act(client, factory, people["unit_leader"], permit, "approve", approval(world)).status_code
        == 200
    )
    for role in ("work_leader", "worker"):
        assert permit_act(client, factory, people[role], permit, "brief", {}).status_code == 200
    grade_enterprise(client, factory, world, "red")
    clock.advance(timedelta(hours=1, minutes=5))
    assert (
        permit_act(client, factory, people["analyst"], permit, "gas-tests", gas_test(clock)).status_code
        == 200
    )
    blocked = permit_act(client, factory, people["work_leader"], permit, "activate")
    assert blocked.status_code == 409
    assert blocked.get_json()["rule"] == "HR-01"
    job = consent_report(client, factory, world, permit)
    assert act(client, factory, world.regulator, job, "consent").status_code == 200
    resp = permit_act(client, factory, people["work_leader"], permit, "activate")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "active"


def test_RG_02_yellow_and_blue_take_no_extra_step(client, factory):
    world = factory.world()
    grade_enterprise(client, factory, world, "yellow")
    permit = file_permit(client, factory, world)
    resp = permit_act(client, factory, world.people["unit_leader"], permit, "approve", approval(world))
    assert resp.status_code == 200
    assert resp.get_json()["state"] == "approved"
    notes = client.get("/api/v1/regulator/notifications", headers=factory.headers(world.regulator)).get_json()
    assert notes["items"] == []


def hot_work_permit(client: Any, factory: Any, world: Any) -> dict[str, Any]:
    """A submitted level-1 hot-work permit (fire-explosion area, HW-01)."""
    headers = factory.headers(world.people["applicant"])
    resp = client.post("/api/v1/permits", json=draft_body(world, "hot_work"), headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return submit(client, factory, world, resp.get_json())


def test_RG_02_orange_regulator_is_notified_of_level_1_and_high_risk_permits(client, factory):
    world = factory.world()
    grade_enterprise(client, factory, world, "orange")
    hot = hot_work_permit(client, factory, world)
    assert hot["grade"] == "level1"
    approver = {"level1": "safety_dept", "special": "leader_in_charge"}[hot["grade"]]
    resp = permit_act(client, factory, world.people[approver], hot, "approve", approval(world))
    assert resp.status_code == 200, resp.get_json()

    job = file_job(client, factory, world)
    entry = file_permit(client, factory, world)
    attach(client, factory, world, job, entry)
    act(client, factory, world.people["applicant"], job, "report")

    notes = client.get("/api/v1/regulator/notifications", headers=factory.headers(world.regulator)).get_json()
    by_permit = {n["permit"]["number"]: n for n in notes["items"]}
    assert set(by_permit) == {hot["number"], entry["number"]}
    assert by_permit[hot["number"]]["reasons"] == ["level_1"]
    assert by_permit[hot["number"]]["rule"] == "RG-02"
    assert by_permit[entry["number"]]["reasons"] == ["high_risk_job"]
    assert by_permit[entry["number"]]["job_id"] == job["id"]
    assert by_permit[entry["number"]]["enterprise_name"] == world.enterprise.name

    # once per permit, however often it is seen again
    act(client, factory, world.regulator, job, "consent")
    permit_act(client, factory, world.people["unit_leader"], entry, "approve", approval(world))
    again = client.get("/api/v1/regulator/notifications", headers=factory.headers(world.regulator)).get_json()
    assert len(again["items"]) == 2

    other = client.get(
        "/api/v1/regulator/notifications", headers=factory.headers(world.other_regulator)
    ).get_json()
    assert other["items"] == []
    city = client.get(
        f"/api/v1/regulator/notifications?enterprise_id={world.enterprise.id}",
        headers=factory.headers(world.city_regulator),
    ).get_json()
    assert len(city["items"]) == 2
