"""AU-03: permits are kept and nothing is hard-deleted: the API has no DELETE for any record the rules keep
(permits, their signatures, gas tests and events, jobs, presence, alarms, consents), and no request can make
the audit trail lose an event."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from permit_service.audit import service as audit
from permit_service.audit.models import Event
from tests.api.checks import assert_problem, peek
from tests.api.permit_flows import PermitFlow
from tests.api.test_jobs import add_permit, file_job

# Every DELETE the API offers, and why it removes no kept record. Adding a DELETE means adding it here, with a
# reason a reviewer can check against AU-03.
ALLOWED_DELETES = {
    # configuration: a regulator's correction of the holiday calendar (FZ-04); the correction of the correction
    "/api/v1/calendar/overrides/<uuid:region_id>/<string:day>",
    # configuration: a webhook subscription (DC-04); its deliveries stay and stay replayable
    "/api/v1/webhooks/subscriptions/<uuid:subscription_id>",
    # a draft job's list of permits (HR-01): job and permit both stay, the detachment is itself an event (AU-01)
    "/api/v1/jobs/<uuid:job_id>/permits/<uuid:permit_id>",
    # configuration: a regulator's platform client of the regulators' feed (DC-04); its deliveries stay
    "/api/v1/regulator/clients/<uuid:client_id>",
    # configuration: a regulator's revocation of an area's positioning exemption (G-06); the area stays and the
    # exemption and its revocation are both events (AU-01)
    "/api/v1/areas/<uuid:area_id>/positioning-exemption",
}


def _deletable(app) -> set[str]:
    return {rule.rule for rule in app.url_map.iter_rules() if "DELETE" in rule.methods}


def test_AU_03_the_only_delete_routes_are_configuration_and_a_draft_jobs_permit_list(app):
    assert _deletable(app) == ALLOWED_DELETES
    kept = {
        "/api/v1/permits/<uuid:permit_id>",
        "/api/v1/permits/<uuid:permit_id>/gas-tests",
        "/api/v1/permits/<uuid:permit_id>/events",
        "/api/v1/permits/<uuid:permit_id>/presence",
        "/api/v1/jobs/<uuid:job_id>",
        "/api/v1/alarms/<uuid:alarm_id>",
        "/api/v1/headcount-raises/<uuid:raise_id>",
    }
    methods = {rule.rule: rule.methods for rule in app.url_map.iter_rules()}
    assert kept <= set(methods)  # the records exist as resources (the walk above is not vacuous) ...
    assert not [path for path in kept if "DELETE" in methods[path]]  # ... and none of them can be deleted


def test_AU_03_events_are_only_ever_read_through_the_api(app):
    event_routes = [rule for rule in app.url_map.iter_rules() if "events" in rule.rule]
    assert event_routes  # the permit's trail is readable (AU-01)
    for rule in event_routes:
        assert rule.methods - {"HEAD", "OPTIONS"} == {"GET"}, rule.rule


def _path(rule: str, ids: dict[str, str]) -> str:
    """A concrete path for a URL rule: the named ids where given, a fresh UUID or a plain value elsewhere."""

    def value(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "", match.group(2)
        if name in ids:
            return ids[name]
        if converter.startswith("uuid"):
            return str(uuid.uuid4())
        if converter.startswith("int"):
            return "2027"
        if converter.startswith("any("):
            return converter[4:].split(",")[0].strip()
        return "2026-10-01" if name == "day" else "x"

    return re.sub(r"<(?:([^:>]+):)?([^>]+)>", value, rule)


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def test_AU_03_no_request_removes_a_permit_or_an_event_and_the_chain_still_verifies(
    app, client, factory, db_session, flow
):
    world = flow.world
    flow.file("hot_work").to_closed()
    job = file_job(client, factory, world)
    carried = add_permit(db_session, world)
    applicant = factory.headers(world.people["applicant"])
    attach = client.post(
        f"/api/v1/jobs/{job['id']}/permits", json={"permit_id": str(carried.id)}, headers=applicant
    )
    assert attach.status_code == 200
    with peek(app) as session:
        before = session.execute(sa.select(Event.id, Event.hash).order_by(Event.id)).all()
    trail = client.get(f"{flow.url}/events", headers=flow.headers("applicant")).get_json()["items"]
    assert len(trail) >= 8  # filed, submitted, approved, tested, briefed, checked, started, ..., closed

    # DELETE on every route that has no DELETE, with the real permit, job and enterprise where the path names them
    ids = {"permit_id": flow.id, "job_id": job["id"], "enterprise_id": str(world.enterprise.id)}
    for rule in app.url_map.iter_rules():
        if "DELETE" in rule.methods or not rule.rule.startswith("/api/"):
            continue
        for who in ("enterprise_admin", "applicant"):
            resp = client.delete(_path(rule.rule, ids), headers=flow.headers(who))
            assert_problem(resp, 405)
    # the one DELETE near a permit takes it out of a draft job, and keeps both
    detached = client.delete(f"/api/v1/jobs/{job['id']}/permits/{carried.id}", headers=applicant)
    assert detached.status_code == 200

    with peek(app) as session:
        after = session.execute(sa.select(Event.id, Event.hash).order_by(Event.id)).all()
        assert after[: len(before)] == before  # every earlier event is still there, unchanged
        assert session.scalars(sa.select(Event.kind).where(Event.id > before[-1].id)).all() == [
            "job.permit_detached"
        ]
        assert all(report.ok for report in audit.verify(session))  # AU-02 finds nothing missing
    assert client.get(f"{flow.url}/events", headers=flow.headers("applicant")).get_json()["items"] == trail
    kept = flow.reload().permit
    assert kept["state"] == "closed" and kept["gas_tests"] and len(kept["signatures"]) >= 8
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=applicant).status_code == 200
    assert client.get(f"/api/v1/permits/{carried.id}", headers=applicant).status_code == 200
