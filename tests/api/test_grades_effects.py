"""What a grade does to the enterprise's work (RG-02) and where job and grade events go (AU-01, DC-04), over HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.integrations.models import WebhookDelivery
from permit_service.permits import service as permits_service
from tests.api.checks import peek
from tests.api.permit_flows import HW07_READY, draft_body
from tests.api.test_jobs import act, file_job, on_site
from tests.api.test_jobs_flow import (
    approval,
    attach,
    consent_report,
    file_permit,
    gas_test,
    grade_enterprise,
    permit_act,
    submit,
)
from tests.plant import portal

# Two permits at work in one area at once: a coordinator and a cross-operation risk analysis (G-04).
CROSS = {
    "space_id": "T-101",
    "medium": "原油",
    "oxygen_enriched_environment": False,
    "cross_operation_coordinator": "王协调",
    "cross_operation_risk_analysis": "两组人员分区作业，统一指挥",
}


def read(client: Any, factory: Any, world: Any, permit: dict[str, Any]) -> dict[str, Any]:
    """The permit as its applicant reads it now."""
    return client.get(
        f"/api/v1/permits/{permit['id']}", headers=factory.headers(world.people["applicant"])
    ).get_json()


def to_work(
    client: Any, factory: Any, world: Any, clock: Any, permit: dict[str, Any], approvers: tuple
) -> None:
    """Approve, gas-test, brief and activate a submitted confined-space permit (its window has begun)."""
    people = world.people
    for role in approvers:
        resp = permit_act(client, factory, people[role], permit, "approve", approval(world))
        assert resp.status_code == 200, resp.get_json()
    assert (
        permit_act(client, factory, people["analyst"], permit, "gas-tests", gas_test(clock)).status_code
        == 200
    )
    for role in ("work_leader", "worker"):
        assert permit_act(client, factory, people[role], permit, "brief", {}).status_code == 200
    resp = permit_act(client, factory, people["work_leader"], permit, "activate")
    assert resp.status_code == 200, resp.get_json()


def resume(client: Any, factory: Any, world: Any, clock: Any, permit: dict[str, Any]) -> Any:
    """A fresh gas test, then the work leader resumes with the conditions re-confirmed (G-08, CS-01)."""
    people = world.people
    assert (
        permit_act(client, factory, people["analyst"], permit, "gas-tests", gas_test(clock)).status_code
        == 200
    )
    return permit_act(
        client, factory, people["work_leader"], permit, "resume", {"conditions_confirmed": True}
    )


def permit_events(client: Any, factory: Any, world: Any, permit: dict[str, Any]) -> list[dict[str, Any]]:
    """The permit's audit trail through the API."""
    return client.get(
        f"/api/v1/permits/{permit['id']}/events", headers=factory.headers(world.people["applicant"])
    ).get_json()["items"]


def grade_events(app: Any, world: Any) -> list[dict[str, Any]]:
    """The data of the enterprise's grade events, oldest first."""
    with peek(app) as session:
        return list(
            session.scalars(
                sa.select(Event.data)
                .where(
                    Event.kind == "enterprise.risk_grade_changed",
                    Event.subject_id == str(world.enterprise.id),
                )
                .order_by(Event.id)
            )
        )


def test_RG_02_red_stops_unconsented_work_at_once_and_it_resumes_only_with_consent(
    app, client, factory, clock
):
    world = factory.world()
    plain = file_permit(client, factory, world, facts=CROSS)
    job = file_job(client, factory, world)
    covered = file_permit(client, factory, world, facts=CROSS)
    attach(client, factory, world, job, covered)
    act(client, factory, world.people["applicant"], job, "report")
    assert act(client, factory, world.regulator, job, "consent").status_code == 200
    assert (
        act(client, factory, world.people["principal"], job, "confirm-on-site", on_site(world)).status_code
        == 200
    )
    clock.advance(timedelta(hours=1, minutes=5))
    to_work(client, factory, world, clock, plain, ("unit_leader",))
    to_work(client, factory, world, clock, covered, ("unit_leader", "principal"))

    grade_enterprise(client, factory, world, "red")

    stopped = read(client, factory, world, plain)
    assert stopped["state"] == "suspended"
    assert "RG-02" in stopped["status_reason"]
    last = permit_events(client, factory, world, plain)[-1]
    assert last["kind"] == "permit.suspend"
    assert last["actor_id"] == "system"
    assert "RG-02" in last["data"]["reason"]
    assert read(client, factory, world, covered)["state"] == "active"  # the regulator consented to it
    assert grade_events(app, world)[-1]["suspended_permits"] == [plain["number"]]

    clock.advance(timedelta(minutes=10))
    blocked = resume(client, factory, world, clock, plain)
    assert blocked.status_code == 409
    assert blocked.get_json()["rule"] == "HR-01"
    report = consent_report(client, factory, world, plain)
    assert report["grounds"] == ["RG-02"]
    assert act(client, factory, world.regulator, report, "consent").status_code == 200
    resumed = resume(client, factory, world, clock, plain)
    assert resumed.status_code == 200, resumed.get_json()
    assert resumed.get_json()["state"] == "active"


def test_RG_02_red_withdrawn_nothing_resumes_by_itself_but_the_work_may_resume(client, factory, clock):
    world = factory.world()
    permit = file_permit(client, factory, world)
    clock.advance(timedelta(hours=1, minutes=5))
    to_work(client, factory, world, clock, permit, ("unit_leader",))
    grade_enterprise(client, factory, world, "red")
    grade_enterprise(client, factory, world, "yellow")
    assert read(client, factory, world, permit)["state"] == "suspended"
    resumed = resume(client, factory, world, clock, permit)  # the order is lifted: G-08 as for any stop
    assert resumed.status_code == 200, resumed.get_json()


def test_RG_02_orange_does_not_stop_work(client, factory, clock):
    world = factory.world()
    permit = file_permit(client, factory, world)
    clock.advance(timedelta(hours=1, minutes=5))
    to_work(client, factory, world, clock, permit, ("unit_leader",))
    grade_enterprise(client, factory, world, "orange")
    assert read(client, factory, world, permit)["state"] == "active"


def test_RG_02_red_grade_and_the_stop_commit_together_or_not_at_all(client, factory, clock, monkeypatch):
    world = factory.world()
    permit = file_permit(client, factory, world)
    clock.advance(timedelta(hours=1, minutes=5))
    to_work(client, factory, world, clock, permit, ("unit_leader",))

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the suspension failed")

    monkeypatch.setattr(permits_service, "perform", broken)
    resp = client.post(
        f"/api/v1/enterprises/{world.enterprise.id}/risk-grade",
        json={"grade": "red", "reason": "重大隐患"},
        headers=factory.headers(world.regulator),
    )
    assert resp.status_code == 500
    monkeypatch.undo()
    enterprise = client.get(
        f"/api/v1/enterprises/{world.enterprise.id}", headers=factory.headers(world.regulator)
    )
    assert enterprise.get_json()["risk_grade"] == "blue"
    history = client.get(
        f"/api/v1/enterprises/{world.enterprise.id}/risk-grades", headers=factory.headers(world.regulator)
    )
    assert history.get_json()["items"] == []
    assert read(client, factory, world, permit)["state"] == "active"


def test_RG_02_orange_regulator_is_notified_of_special_grade_hot_work(client, factory):
    world = factory.world()
    grade_enterprise(client, factory, world, "orange")
    headers = factory.headers(world.people["applicant"])
    facts = {"methods": ["electric_welding"], "on_running_equipment": True, **HW07_READY}
    body = draft_body(world, "hot_work", facts=facts)
    filed = client.post("/api/v1/permits", json=body, headers=headers).get_json()
    permit = submit(client, factory, world, filed)
    assert permit["grade"] == "special", permit
    assert (
        client.get("/api/v1/regulator/notifications", headers=factory.headers(world.regulator)).get_json()[
            "items"
        ]
        == []
    )  # filing alone tells nobody
    resp = permit_act(client, factory, world.people["leader_in_charge"], permit, "approve", approval(world))
    assert resp.status_code == 200, resp.get_json()
    notes = client.get("/api/v1/regulator/notifications", headers=factory.headers(world.regulator)).get_json()
    assert [(n["permit"]["number"], n["reasons"], n["rule"]) for n in notes["items"]] == [
        (permit["number"], ["special_grade"], "RG-02")
    ]


# --- events (AU-01) and the webhook outbox (DC-04) --------------------------------------------------------------


def test_AU_01_DC_04_report_consent_refusal_and_grade_events_reach_the_outbox(app, client, factory):
    world = factory.world()
    gate = portal(factory, world)
    sub = client.post(
        "/api/v1/webhooks/subscriptions",
        json={
            "url": "https://portal.example/hooks",
            "secret": "s" * 32,
            "event_kinds": ["job.reported", "job.consented", "job.refused", "enterprise.*"],
        },
        headers=gate.headers,
    )
    assert sub.status_code == 201, sub.get_json()
    sub_id = uuid.UUID(sub.get_json()["id"])
    consented = file_job(client, factory, world)
    act(client, factory, world.people["applicant"], consented, "report")
    act(client, factory, world.regulator, consented, "consent", {"reason": "同意"})
    refused = file_job(client, factory, world, title="V-201 切水", kind="water_draining")
    act(client, factory, world.people["applicant"], refused, "report")
    act(client, factory, world.regulator, refused, "refuse", {"reason": "方案不全"})
    grade_enterprise(client, factory, world, "orange")

    with peek(app) as session:
        rows = session.execute(
            sa.select(WebhookDelivery.event_kind, WebhookDelivery.ordering_key, WebhookDelivery.body)
            .where(WebhookDelivery.subscription_id == sub_id)
            .order_by(WebhookDelivery.event_id)
        ).all()
    assert [(kind, key) for kind, key, _ in rows] == [
        ("job.reported", f"job:{consented['id']}"),
        ("job.consented", f"job:{consented['id']}"),
        ("job.reported", f"job:{refused['id']}"),
        ("job.refused", f"job:{refused['id']}"),
        ("enterprise.risk_grade_changed", f"enterprise:{world.enterprise.id}"),
    ]
    assert '"reason":"方案不全"' in rows[3].body
    assert '"grade":"orange"' in rows[4].body

    other = factory.world()
    act(client, factory, other.people["applicant"], file_job(client, factory, other), "report")
    with peek(app) as session:
        count = session.scalar(
            sa.select(sa.func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sub_id)
        )
    assert count == 5  # another enterprise's report is not this portal's
