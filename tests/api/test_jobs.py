"""High-risk jobs through the HTTP API: filing, report, consent and refusal, the principal on site (HR-01..03)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.auth.principal import SYSTEM
from permit_service.jobs.models import HighRiskJob, HighRiskJobPermit
from permit_service.jobs.service import job_context
from permit_service.permits import service as permits
from permit_service.permits.models import Permit
from tests.api.permit_flows import POSITION_INSIDE
from tests.plant import iso, portal
from workflows import get_workflow
from workflows.high_risk_job import JobState

STARTS = "2026-06-10T11:00:00+08:00"  # the test clock stands at 10:00 +08:00
ENDS = "2026-06-10T17:00:00+08:00"
_numbers = itertools.count(1)


# --- helpers shared by the job, regulator and grade tests ------------------------------------------


def job_body(world: Any, **overrides: Any) -> dict[str, Any]:
    """A complete tank-cleaning job of the world's enterprise."""
    return {
        "kind": "tank_cleaning",
        "area_id": str(world.area.id),
        "title": "T-101 原油储罐清罐",
        "description": "清除 T-101 罐底油泥，人工进罐作业",
        "risk_analysis": "硫化氢中毒、油气爆炸、缺氧窒息；强制通风、连续检测、专人监护",
        "planned_headcount": 3,
        "crew": [
            {
                "name": world.people["work_leader"].name,
                "role": "work_leader",
                "person_id": str(world.people["work_leader"].id),
            },
            {"name": "李四", "role": "worker", "organisation": "承包商 A"},
        ],
        "starts_at": STARTS,
        "ends_at": ENDS,
        **overrides,
    }


def file_job(client: Any, factory: Any, world: Any, **overrides: Any) -> dict[str, Any]:
    """File a draft job as the applicant."""
    resp = client.post(
        "/api/v1/jobs", json=job_body(world, **overrides), headers=factory.headers(world.people["applicant"])
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def act(
    client: Any, factory: Any, who: Any, job: dict[str, Any], action: str, body: dict | None = None
) -> Any:
    """POST an action on a job as `who`."""
    return client.post(f"/api/v1/jobs/{job['id']}/{action}", json=body or {}, headers=factory.headers(who))


def reported_job(client: Any, factory: Any, world: Any, **overrides: Any) -> dict[str, Any]:
    """A job filed and reported by the applicant."""
    job = file_job(client, factory, world, **overrides)
    resp = act(client, factory, world.people["applicant"], job, "report")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def consented_job(client: Any, factory: Any, world: Any, **overrides: Any) -> dict[str, Any]:
    """A job reported and consented by the district regulator."""
    job = reported_job(client, factory, world, **overrides)
    resp = act(client, factory, world.regulator, job, "consent", {"reason": "同意，严格落实通风与监护"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def on_site(world: Any, **overrides: Any) -> dict[str, Any]:
    """On-site evidence for the job's area: a position fix inside its boundary (G-06)."""
    return {"evidence": {"area_id": str(world.area.id), "position": POSITION_INSIDE, **overrides}}


def add_permit(db_session: Any, world: Any, *, enterprise: Any = None, **overrides: Any) -> Permit:
    """A permit row arranged directly (for tests about jobs, not about the permit workflow)."""
    enterprise = enterprise or world.enterprise
    area = world.area if enterprise.id == world.enterprise.id else world.other_area
    people = world.people if enterprise.id == world.enterprise.id else world.other_people
    values: dict[str, Any] = {
        "enterprise_id": enterprise.id,
        "area_id": area.id,
        "number": f"SX-2026-{next(_numbers):06d}",
        "type": "confined_space",
        "grade": None,
        "state": "draft",
        "title": "T-101 进罐",
        "valid_from": datetime(2026, 6, 10, 4, 0, tzinfo=UTC),
        "valid_until": datetime(2026, 6, 10, 8, 0, tzinfo=UTC),
        "applicant_id": people["applicant"].id,
        "created_at": datetime(2026, 6, 10, 2, 0, tzinfo=UTC),
        **overrides,
    }
    permit = Permit(**values)
    db_session.add(permit)
    db_session.commit()
    return permit


def events_of(db_session: Any, subject_id: Any) -> list[str]:
    """The kinds of the events recorded about a subject, oldest first."""
    kinds = list(
        db_session.scalars(
            sa.select(Event.kind).where(Event.subject_id == str(subject_id)).order_by(Event.id)
        )
    )
    db_session.commit()  # SQLite: release the write lock the app's requests need
    return kinds


# --- filing ----------------------------------------------------------------------------------------


def test_applicant_files_a_draft_job_with_crew_and_window(client, factory):
    world = factory.world()
    job = file_job(client, factory, world)
    assert job["state"] == "draft"
    assert job["kind"] == "tank_cleaning"
    assert job["enterprise_id"] == str(world.enterprise.id)
    assert job["area"]["id"] == str(world.area.id)
    assert job["starts_at"] == STARTS
    assert job["crew"][1] == {"name": "李四", "role": "worker", "person_id": None, "organisation": "承包商 A"}
    assert set(job["allowed_actions"]) == {"update", "attach_permit", "detach_permit", "report", "cancel"}


def test_filing_refuses_bad_input_listing_every_field(client, factory):
    world = factory.world()
    body = job_body(
        world,
        kind="welding",
        planned_headcount=0,
        ends_at="2026-06-10T10:00:00+08:00",
        state="consented",
    )
    resp = client.post("/api/v1/jobs", json=body, headers=factory.headers(world.people["applicant"]))
    assert resp.status_code == 422
    assert {"kind", "planned_headcount", "state"} <= set(resp.get_json()["errors"])


def test_filing_refuses_another_enterprises_area_and_people(client, factory):
    world = factory.world()
    body = job_body(
        world,
        area_id=str(world.other_area.id),
        crew=[{"name": "外人", "role": "worker", "person_id": str(world.other_people["worker"].id)}],
    )
    resp = client.post("/api/v1/jobs", json=body, headers=factory.headers(world.people["applicant"]))
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"area_id", "crew.0.person_id"}


@pytest.mark.parametrize("role", ["worker", "unit_leader"])
def test_only_applicant_admin_or_principal_files_a_job(client, factory, role):
    world = factory.world()
    resp = client.post("/api/v1/jobs", json=job_body(world), headers=factory.headers(world.people[role]))
    assert resp.status_code == 403


def test_regulator_cannot_file_a_job(client, factory):
    world = factory.world()
    resp = client.post("/api/v1/jobs", json=job_body(world), headers=factory.headers(world.regulator))
    assert resp.status_code == 403


def test_filing_is_idempotent_with_a_key(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["applicant"], **{"Idempotency-Key": "job-1"})
    first = client.post("/api/v1/jobs", json=job_body(world), headers=headers)
    again = client.post("/api/v1/jobs", json=job_body(world), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"


def test_draft_edit_needs_if_match_and_a_fresh_version(client, factory):
    world = factory.world()
    job = file_job(client, factory, world)
    headers = factory.headers(world.people["applicant"])
    url = f"/api/v1/jobs/{job['id']}"
    assert client.patch(url, json={"planned_headcount": 2}, headers=headers).status_code == 428
    stale = client.patch(url, json={"planned_headcount": 2}, headers={**headers, "If-Match": '"99"'})
    assert stale.status_code == 412
    ok = client.patch(
        url, json={"planned_headcount": 2}, headers={**headers, "If-Match": f'"{job["version"]}"'}
    )
    assert ok.status_code == 200
    assert ok.get_json()["planned_headcount"] == 2
    assert ok.get_json()["title"] == job["title"]  # a partial change resets nothing
    assert ok.headers["ETag"] == f'"{job["version"] + 1}"'


def test_a_reported_job_is_not_edited(client, factory):
    world = factory.world()
    job = reported_job(client, factory, world)
    resp = client.patch(
        f"/api/v1/jobs/{job['id']}",
        json={"planned_headcount": 9},
        headers={**factory.headers(world.people["applicant"]), "If-Match": f'"{job["version"]}"'},
    )
    assert resp.status_code == 409
    assert resp.get_json()["rule"] == "STATE"
    assert "update" not in resp.get_json()["allowed_actions"]


def test_enterprise_staff_get_404_for_another_enterprises_job(client, factory):
    world = factory.world()
    job = file_job(client, factory, world)
    resp = client.get(f"/api/v1/jobs/{job['id']}", headers=factory.headers(world.other_people["applicant"]))
    assert resp.status_code == 404


# --- report (HR-01) -------------------------------------------------------------------------------


def test_HR_01_report_sends_the_job_to_the_regulator(client, factory, db_session):
    world = factory.world()
    job = file_job(client, factory, world)
    regulator = factory.headers(world.regulator)
    assert (
        client.get(f"/api/v1/jobs/{job['id']}", headers=regulator).status_code == 404
    )  # drafts stay private
    reported = act(client, factory, world.people["applicant"], job, "report").get_json()
    assert reported["state"] == "reported"
    assert reported["grounds"] == ["HR-01"]
    assert reported["reported_at"] == "2026-06-10T10:00:00+08:00"
    seen = client.get(f"/api/v1/jobs/{job['id']}", headers=regulator)
    assert seen.status_code == 200
    assert seen.get_json()["allowed_actions"] == ["consent", "refuse"]
    assert events_of(db_session, job["id"]) == ["job.filed", "job.reported"]


def test_HR_03_report_needs_description_and_risk_analysis(client, factory):
    world = factory.world()
    job = file_job(client, factory, world, description=" ", risk_analysis="")
    resp = act(client, factory, world.people["applicant"], job, "report")
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"description", "risk_analysis"}


def test_a_consent_report_needs_a_permit(client, factory):
    world = factory.world()
    job = file_job(client, factory, world, kind="consent_report")
    resp = act(client, factory, world.people["applicant"], job, "report")
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"permits"}


def test_a_window_already_over_cannot_be_reported(client, factory, clock):
    world = factory.world()
    job = file_job(client, factory, world)
    clock.advance(timedelta(hours=8))
    resp = act(client, factory, world.people["applicant"], job, "report")
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"ends_at"}


# --- consent and refusal (HR-03) ------------------------------------------------------------------


def test_HR_03_district_regulator_consents(client, factory, db_session):
    world = factory.world()
    job = reported_job(client, factory, world)
    resp = act(client, factory, world.regulator, job, "consent", {"reason": "同意"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["state"] == "consented"
    assert body["decided_by_id"] == str(world.regulator.id)
    assert body["decision_reason"] == "同意"
    assert events_of(db_session, job["id"])[-1] == "job.consented"


def test_HR_03_regulator_of_another_district_gets_404(client, factory):
    world = factory.world()
    job = reported_job(client, factory, world)
    other = factory.headers(world.other_regulator)
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=other).status_code == 404
    resp = act(client, factory, world.other_regulator, job, "consent")
    assert resp.status_code == 404
    assert resp.content_type == "application/problem+json"
    assert act(client, factory, world.other_regulator, job, "refuse", {"reason": "x"}).status_code == 404


def test_HR_03_city_regulator_acts_for_every_district(client, factory):
    world = factory.world()
    job = reported_job(client, factory, world)
    resp = act(client, factory, world.city_regulator, job, "consent")
    assert resp.status_code == 200
    assert resp.get_json()["state"] == "consented"


def test_HR_03_a_zone_regulator_sees_its_zone_enterprises(client, factory):
    world = factory.world()
    zone = factory.region(level="zone", parent=world.district, name="日照经济技术开发区")
    enterprise = factory.enterprise(zone)
    area = factory.area(enterprise)
    applicant = factory.person("applicant", enterprise=enterprise)
    zone_regulator = factory.person("regulator", region=zone)
    resp = client.post(
        "/api/v1/jobs",
        json=job_body(world, area_id=str(area.id), crew=[]),
        headers=factory.headers(applicant),
    )
    job = resp.get_json()
    assert act(client, factory, applicant, job, "report").status_code == 200
    assert act(client, factory, zone_regulator, job, "consent").status_code == 200
    district_job = reported_job(client, factory, world)
    assert act(client, factory, zone_regulator, district_job, "consent").status_code == 404


@pytest.mark.parametrize("role", ["applicant", "enterprise_admin", "principal"])
def test_HR_03_enterprise_roles_get_403_on_consent(client, factory, role):
    world = factory.world()
    job = reported_job(client, factory, world)
    assert act(client, factory, world.people[role], job, "consent").status_code == 403
    assert act(client, factory, world.people[role], job, "refuse", {"reason": "x"}).status_code == 403


def test_HR_03_refusal_needs_a_reason_and_ends_the_job(client, factory, db_session):
    world = factory.world()
    job = reported_job(client, factory, world)
    assert act(client, factory, world.regulator, job, "refuse", {}).status_code == 422
    resp = act(client, factory, world.regulator, job, "refuse", {"reason": "风险分析不充分"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["state"] == "refused"
    assert body["decision_reason"] == "风险分析不充分"
    assert body["allowed_actions"] == []
    again = act(client, factory, world.regulator, job, "consent")
    assert again.status_code == 409
    assert again.get_json()["rule"] == "STATE"
    assert events_of(db_session, job["id"])[-1] == "job.refused"


def test_consent_only_once(client, factory):
    world = factory.world()
    job = consented_job(client, factory, world)
    resp = act(client, factory, world.city_regulator, job, "refuse", {"reason": "改变主意"})
    assert resp.status_code == 409
    assert resp.get_json()["rule"] == "STATE"


def test_a_stale_if_match_on_an_action_is_412(client, factory):
    world = factory.world()
    job = reported_job(client, factory, world)
    resp = client.post(
        f"/api/v1/jobs/{job['id']}/consent",
        json={},
        headers={**factory.headers(world.regulator), "If-Match": f'"{job["version"] - 1}"'},
    )
    assert resp.status_code == 412
    fresh = client.post(
        f"/api/v1/jobs/{job['id']}/consent",
        json={},
        headers={**factory.headers(world.regulator), "If-Match": f'"{job["version"]}"'},
    )
    assert fresh.status_code == 200


# --- the principal on site (HR-02) ----------------------------------------------------------------


def test_HR_01_no_confirmation_or_start_before_consent(client, factory):
    world = factory.world()
    job = reported_job(client, factory, world)
    resp = act(client, factory, world.people["principal"], job, "confirm-on-site", on_site(world))
    assert resp.status_code == 409
    assert resp.get_json()["rule"] == "HR-01"
    started = act(client, factory, world.people["applicant"], job, "start")
    assert started.status_code == 409
    assert started.get_json()["rule"] == "HR-01"


def test_HR_02_principal_confirms_on_site_with_a_position_fix(client, factory, db_session):
    world = factory.world()
    job = consented_job(client, factory, world)
    resp = act(client, factory, world.people["principal"], job, "confirm-on-site", on_site(world))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["state"] == "principal_confirmed"
    assert body["confirmed_by_id"] == str(world.people["principal"].id)
    evidence = body["confirmation_evidence"]
    assert evidence["area_id"] == str(world.area.id)
    assert evidence["position"] == POSITION_INSIDE and evidence["on_site"] == "position_fix"
    assert evidence["at"].startswith("2026-06-10T02:00:00")
    assert events_of(db_session, job["id"])[-1] == "job.principal_confirmed"


def test_HR_02_principal_confirms_with_their_own_card_seen_in_the_jobs_area(client, factory, db_session):
    world = factory.world()
    principal = world.people["principal"]
    principal.positioning_card_id = "CARD-P-001"
    db_session.commit()
    job = consented_job(client, factory, world)
    unseen = act(
        client,
        factory,
        principal,
        job,
        "confirm-on-site",
        on_site(world, position=None, card_id="CARD-P-001"),
    )
    assert unseen.status_code == 409 and unseen.get_json()["rule"] == "G-06"
    assert "CARD-P-001 has not been seen in the area" in unseen.get_json()["message_en"]
    sighting = {"card_id": "CARD-P-001", "area_code": world.area.code, "seen_at": iso(-timedelta(minutes=5))}
    gate = portal(factory, world)
    pushed = client.post(
        "/api/v1/integrations/card-sightings", json={"sightings": [sighting]}, headers=gate.push("p-1")
    )
    assert pushed.status_code == 201, pushed.get_json()
    resp = act(
        client,
        factory,
        principal,
        job,
        "confirm-on-site",
        on_site(world, position=None, card_id="CARD-P-001"),
    )
    assert resp.status_code == 200
    assert resp.get_json()["confirmation_evidence"]["card_id"] == "CARD-P-001"
    assert resp.get_json()["confirmation_evidence"]["on_site"] == "card_sighting"


@pytest.mark.parametrize(
    "role", ["enterprise_admin", "leader_in_charge", "plant_manager", "safety_dept", "applicant"]
)
def test_HR_02_nobody_confirms_on_the_principals_behalf(client, factory, role):
    world = factory.world()
    job = consented_job(client, factory, world)
    resp = act(client, factory, world.people[role], job, "confirm-on-site", on_site(world))
    assert resp.status_code == 403
    assert resp.get_json()["rule"] == "HR-02"


def test_HR_02_regulators_do_not_confirm_on_site(client, factory):
    world = factory.world()
    job = consented_job(client, factory, world)
    resp = act(client, factory, world.regulator, job, "confirm-on-site", on_site(world))
    assert resp.status_code == 403
    assert resp.get_json()["rule"] == "HR-02"


def test_HR_02_another_persons_card_is_a_delegate(client, factory, db_session):
    world = factory.world()
    world.people["principal"].positioning_card_id = "CARD-P-001"
    world.people["safety_dept"].positioning_card_id = "CARD-S-002"
    db_session.commit()
    job = consented_job(client, factory, world)
    resp = act(
        client,
        factory,
        world.people["principal"],
        job,
        "confirm-on-site",
        on_site(world, position=None, card_id="CARD-S-002"),
    )
    assert resp.status_code == 409
    assert (
        resp.get_json()["rule"] == "G-06"
        and "not the principal leader's own" in resp.get_json()["message_en"]
    )


def test_HR_02_confirmation_is_in_the_jobs_area_with_a_fix_or_card(client, factory):
    world = factory.world()
    other_area = factory.area(world.enterprise)
    job = consented_job(client, factory, world)
    principal = world.people["principal"]
    elsewhere = act(
        client, factory, principal, job, "confirm-on-site", on_site(world, area_id=str(other_area.id))
    )
    assert elsewhere.status_code == 409
    assert elsewhere.get_json()["rule"] == "HR-02"
    bare = act(client, factory, principal, job, "confirm-on-site", on_site(world, position=None))
    assert bare.status_code == 409
    assert bare.get_json()["rule"] == "G-06"  # the job's area id alone is no evidence


def test_HR_02_confirmation_after_the_window_is_refused(client, factory, clock):
    world = factory.world()
    job = consented_job(client, factory, world)
    clock.advance(timedelta(hours=7))
    resp = act(client, factory, world.people["principal"], job, "confirm-on-site", on_site(world))
    assert resp.status_code == 409
    assert resp.get_json()["rule"] == "HR-02"


def test_HR_02_no_start_before_the_principals_confirmation(client, factory):
    world = factory.world()
    job = consented_job(client, factory, world)
    resp = act(client, factory, world.people["work_leader"], job, "start")
    assert resp.status_code == 409
    assert resp.get_json()["rule"] == "HR-02"


def test_HR_01_work_starts_only_inside_the_consented_window(client, factory, clock):
    world = factory.world()
    job = consented_job(client, factory, world)
    assert (
        act(client, factory, world.people["principal"], job, "confirm-on-site", on_site(world)).status_code
        == 200
    )
    early = act(client, factory, world.people["work_leader"], job, "start")
    assert early.status_code == 409
    assert early.get_json()["rule"] == "HR-01"
    clock.advance(timedelta(hours=1))
    started = act(client, factory, world.people["work_leader"], job, "start")
    assert started.status_code == 200
    assert started.get_json()["state"] == "in_progress"
    closed = act(client, factory, world.people["work_leader"], job, "close")
    assert closed.status_code == 200
    assert closed.get_json()["state"] == "closed"
    assert closed.get_json()["closed_at"] == "2026-06-10T11:00:00+08:00"


def test_cancel_needs_a_reason_and_ends_the_job(client, factory, db_session):
    world = factory.world()
    job = reported_job(client, factory, world)
    assert act(client, factory, world.people["applicant"], job, "cancel", {}).status_code == 422
    resp = act(client, factory, world.people["applicant"], job, "cancel", {"reason": "装置临时停车，改期"})
    assert resp.status_code == 200
    assert resp.get_json()["state"] == "cancelled"
    assert resp.get_json()["cancel_reason"] == "装置临时停车，改期"
    assert events_of(db_session, job["id"])[-1] == "job.cancelled"


# --- permits carried by a job ---------------------------------------------------------------------


def test_attach_and_detach_a_permit_in_a_draft(client, factory, db_session):
    world = factory.world()
    job = file_job(client, factory, world)
    permit = add_permit(db_session, world)
    headers = factory.headers(world.people["applicant"])
    attached = client.post(
        f"/api/v1/jobs/{job['id']}/permits", json={"permit_id": str(permit.id)}, headers=headers
    )
    assert attached.status_code == 200
    carried = attached.get_json()["permits"]
    assert [p["number"] for p in carried] == [permit.number]
    assert attached.get_json()["permit_count"] == 1
    detached = client.delete(f"/api/v1/jobs/{job['id']}/permits/{permit.id}", headers=headers)
    assert detached.status_code == 200
    assert detached.get_json()["permits"] == []
    assert client.delete(f"/api/v1/jobs/{job['id']}/permits/{permit.id}", headers=headers).status_code == 404


def test_attach_refuses_foreign_approved_or_taken_permits_and_windows_outside(client, factory, db_session):
    world = factory.world()
    job = file_job(client, factory, world)
    other_job = file_job(client, factory, world)
    headers = factory.headers(world.people["applicant"])
    url = f"/api/v1/jobs/{job['id']}/permits"

    foreign = add_permit(db_session, world, enterprise=world.other_enterprise)
    assert client.post(url, json={"permit_id": str(foreign.id)}, headers=headers).status_code == 422

    approved = add_permit(db_session, world, state="approved")
    resp = client.post(url, json={"permit_id": str(approved.id)}, headers=headers)
    assert resp.status_code == 409
    assert resp.get_json()["rule"] == "HR-01"

    taken = add_permit(db_session, world)
    assert (
        client.post(
            f"/api/v1/jobs/{other_job['id']}/permits", json={"permit_id": str(taken.id)}, headers=headers
        ).status_code
        == 200
    )
    resp = client.post(url, json={"permit_id": str(taken.id)}, headers=headers)
    assert resp.status_code == 409
    assert resp.get_json()["job_id"] == other_job["id"]

    late = add_permit(db_session, world, valid_until=datetime(2026, 6, 10, 12, 0, tzinfo=UTC))
    resp = client.post(url, json={"permit_id": str(late.id)}, headers=headers)
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"permits"}


def test_regulator_reviews_the_report_with_its_permits_and_crew(client, factory, db_session):
    world = factory.world()
    job = file_job(client, factory, world)
    permit = add_permit(db_session, world, risk_analysis="罐内硫化氢")
    db_session.add_all(
        [
            _crew(permit, world.people["worker"], "worker", 0),
            _crew(permit, world.people["guardian"], "guardian", 1),
        ]
    )
    db_session.commit()
    headers = factory.headers(world.people["applicant"])
    client.post(f"/api/v1/jobs/{job['id']}/permits", json={"permit_id": str(permit.id)}, headers=headers)
    act(client, factory, world.people["applicant"], job, "report")
    seen = client.get(f"/api/v1/jobs/{job['id']}", headers=factory.headers(world.regulator)).get_json()
    assert seen["risk_analysis"] == job["risk_analysis"]
    assert seen["planned_headcount"] == 3
    assert [c["role"] for c in seen["crew"]] == ["work_leader", "worker"]
    (carried,) = seen["permits"]
    assert carried["risk_analysis"] == "罐内硫化氢"
    assert [(c["name"], c["role"]) for c in carried["crew"]] == [
        (world.people["worker"].name, "worker"),
        (world.people["guardian"].name, "guardian"),
    ]


def _crew(permit: Permit, person: Any, role: str, position: int) -> Any:
    from permit_service.permits.models import PermitCrewMember

    return PermitCrewMember(permit_id=permit.id, person_id=person.id, role=role, position=position)


# --- what the permit workflow is told (context provider) ------------------------------------------


def test_provider_tells_the_core_kind_consent_and_grade(app, client, factory, db_session):
    world = factory.world()
    job = file_job(client, factory, world)
    permit = add_permit(db_session, world)
    loose = add_permit(db_session, world)
    client.post(
        f"/api/v1/jobs/{job['id']}/permits",
        json={"permit_id": str(permit.id)},
        headers=factory.headers(world.people["applicant"]),
    )

    def context_of(p: Permit) -> dict[str, Any]:
        try:
            return job_context(db_session, db_session.get(Permit, p.id))
        finally:
            db_session.commit()  # SQLite: release the write lock the app's requests need

    assert context_of(loose) == {
        "job_kind": None,
        "consented": False,
        "enterprise_risk_grade": "blue",
        "principal_confirmed_at": None,
    }
    assert context_of(permit) == {
        "job_kind": "tank_cleaning",
        "consented": False,
        "enterprise_risk_grade": "blue",
        "principal_confirmed_at": None,
    }
    act(client, factory, world.people["applicant"], job, "report")
    assert context_of(permit)["consented"] is False
    act(client, factory, world.regulator, job, "consent")
    assert context_of(permit)["consented"] is True
    act(client, factory, world.people["principal"], job, "confirm-on-site", on_site(world))
    assert context_of(permit)["consented"] is True


# Written out by hand from HR-01/03: the job states in which the regulator's consent covers the job's permits.
CONSENT_COVERS = {"consented", "principal_confirmed", "in_progress"}


@pytest.mark.parametrize("state", [s.value for s in JobState])
def test_HR_01_a_jobs_permit_is_approved_only_while_the_consent_holds(
    app, client, factory, db_session, state
):
    world = factory.world()
    job = file_job(client, factory, world)
    permit = add_permit(db_session, world, state="submitted")
    attached = client.post(
        f"/api/v1/jobs/{job['id']}/permits",
        json={"permit_id": str(permit.id)},
        headers=factory.headers(world.people["applicant"]),
    )
    assert attached.status_code == 200, attached.get_json()
    # Arranged directly: how a job reaches each state is the job lifecycle's own test.
    db_session.get(HighRiskJob, uuid.UUID(job["id"])).state = state
    db_session.commit()
    with app.app_context():
        data, ctx = permits.core_view(db_session, db_session.get(Permit, permit.id), SYSTEM)
        blocking = {v.rule_id for v in get_workflow(data.type).check(data, "approve", ctx)}
    db_session.commit()  # SQLite: release the read transaction
    assert ("HR-01" in blocking) is (state not in CONSENT_COVERS)


def test_provider_gives_no_job_kind_for_a_consent_report(client, factory, db_session):
    world = factory.world()
    world.enterprise.risk_grade = "red"
    db_session.commit()
    permit = add_permit(db_session, world)
    job = file_job(client, factory, world, kind="consent_report")
    client.post(
        f"/api/v1/jobs/{job['id']}/permits",
        json={"permit_id": str(permit.id)},
        headers=factory.headers(world.people["applicant"]),
    )
    reported = act(client, factory, world.people["applicant"], job, "report").get_json()
    assert reported["grounds"] == ["RG-02"]
    act(client, factory, world.regulator, job, "consent")
    assert job_context(db_session, db_session.get(Permit, permit.id)) == {
        "job_kind": None,
        "consented": True,
        "enterprise_risk_grade": "red",
        "principal_confirmed_at": None,
    }
    db_session.commit()


def test_HR_01_provider_never_lets_a_consent_report_cover_declared_plan_27_work(client, factory, db_session):
    world = factory.world()
    world.enterprise.risk_grade = "red"
    db_session.commit()
    carried = add_permit(db_session, world)
    declared = add_permit(db_session, world, high_risk_kind="tank_cleaning")
    job = file_job(client, factory, world, kind="consent_report")
    client.post(
        f"/api/v1/jobs/{job['id']}/permits",
        json={"permit_id": str(carried.id)},
        headers=factory.headers(world.people["applicant"]),
    )
    act(client, factory, world.people["applicant"], job, "report")
    assert act(client, factory, world.regulator, job, "consent").status_code == 200
    # Arranged directly: the API refuses this link (HR-01), the core must not rely on that alone.
    db_session.add(
        HighRiskJobPermit(
            permit_id=declared.id,
            job_id=uuid.UUID(job["id"]),
            attached_at=datetime(2026, 6, 10, 2, 0, tzinfo=UTC),
            attached_by_id=world.people["applicant"].id,
        )
    )
    db_session.commit()
    assert job_context(db_session, db_session.get(Permit, declared.id)) == {
        "job_kind": "tank_cleaning",
        "consented": False,
        "enterprise_risk_grade": "red",
        "principal_confirmed_at": None,
    }
    assert job_context(db_session, db_session.get(Permit, carried.id))["consented"] is True
    db_session.commit()


def test_jobs_list_for_enterprise_includes_drafts_regulator_not(client, factory, db_session):
    world = factory.world()
    draft = file_job(client, factory, world)
    reported = reported_job(client, factory, world)
    own = client.get("/api/v1/jobs", headers=factory.headers(world.people["applicant"])).get_json()
    assert {j["id"] for j in own["items"]} == {draft["id"], reported["id"]}
    seen = client.get("/api/v1/jobs", headers=factory.headers(world.regulator)).get_json()
    assert [j["id"] for j in seen["items"]] == [reported["id"]]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(HighRiskJob)) == 2


def test_unknown_job_is_404(client, factory):
    world = factory.world()
    resp = client.get(f"/api/v1/jobs/{uuid.uuid4()}", headers=factory.headers(world.people["applicant"]))
    assert resp.status_code == 404
