"""History for inspections (AU-01): a permit's timeline, and a regulator's JSON Lines export of a period."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from permit_service.audit import service as audit
from permit_service.audit.models import Event
from permit_service.auth import SYSTEM
from permit_service.scheduling import jobs
from tests.api.checks import assert_problem, peek
from tests.api.permit_flows import PermitFlow
from tests.integration.scheduler_helpers import run


def test_AU_01_the_timeline_names_actor_role_evidence_and_request_of_each_event(client, factory):
    flow = PermitFlow(client, factory, factory.world()).file("hot_work")
    assert flow.attempt("submit", by="applicant", **{"X-Request-ID": "inspection-0001"}).status_code == 200
    flow.confirm_measures().approve()
    items = client.get(f"{flow.url}/events", headers=flow.headers("applicant")).get_json()["items"]
    by_kind = {item["kind"]: item for item in items}
    submitted = by_kind["permit.submit"]
    assert submitted["request_id"] == "inspection-0001"
    assert submitted["actor_name"] == flow.person("applicant").name
    assert submitted["role"] == "applicant"
    approved = by_kind["permit.approve"]
    assert approved["role"] == flow.approver()
    assert approved["evidence"]["area_id"] == flow.permit["area_id"]
    assert approved["request_id"] and approved["request_id"] != "inspection-0001"
    assert [item["seq"] for item in items] == list(
        range(1, len(items) + 1)
    )  # the permit's own chain, in order


def _record(app, db_session, enterprise_id: uuid.UUID, at) -> int:
    with app.app_context():
        event = audit.record(
            db_session, kind="test.event", actor=SYSTEM, subject_type="permit", subject_id=uuid.uuid4(),
            enterprise_id=enterprise_id, at=at,
        )  # fmt: skip
        db_session.commit()
    return event.id


def _export(client, factory, who, start, end, **extra: str):
    query = {"from": start.isoformat(), "until": end.isoformat(), **extra}
    return client.get("/api/v1/regulator/events/export", query_string=query, headers=factory.headers(who))


def test_AU_01_a_regulator_exports_exactly_its_enterprises_events_of_a_period_ending_with_their_checkpoint(
    app, client, factory, db_session, clock
):
    world = factory.world()
    start = clock.now()
    _record(app, db_session, world.enterprise.id, start - timedelta(seconds=1))  # before the period
    inside = [_record(app, db_session, world.enterprise.id, start + timedelta(minutes=m)) for m in (0, 5, 10)]
    _record(app, db_session, world.other_enterprise.id, start + timedelta(minutes=5))  # another district's
    clock.advance(timedelta(minutes=15))
    run(app, jobs.run_seal_checkpoints, clock.now())
    end = clock.now() + timedelta(minutes=1)
    _record(app, db_session, world.enterprise.id, end)  # after the period

    resp = _export(client, factory, world.regulator, start, end)
    assert resp.status_code == 200 and resp.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in resp.get_data(as_text=True).splitlines()]
    events = [line for line in lines if line["type"] == "event"]
    assert [e["id"] for e in events] == inside
    with peek(app) as session:
        for line in events:
            stored = session.get(Event, line["id"])
            assert (line["hash"], line["prev_hash"], line["chain"], line["seq"]) == (
                stored.hash, stored.prev_hash, stored.chain, stored.seq,
            )  # fmt: skip
    assert [line["type"] for line in lines[len(events) :]] == ["checkpoint"]
    assert lines[-1]["enterprise_id"] == str(world.enterprise.id) and lines[-1]["events"] == 4

    other = _export(client, factory, world.other_regulator, start, end).get_data(as_text=True).splitlines()
    assert [json.loads(line)["type"] for line in other] == ["event", "checkpoint"]
    city = _export(client, factory, world.city_regulator, start, end).get_data(as_text=True).splitlines()
    assert len(city) == 6  # four events, two checkpoints


def test_AU_01_an_export_needs_a_period_in_order_and_a_regulator(client, factory, clock):
    world = factory.world()
    now = clock.now()
    backwards = assert_problem(_export(client, factory, world.regulator, now, now - timedelta(hours=1)), 422)
    assert "until" in json.dumps(backwards)
    assert_problem(
        _export(client, factory, world.people["enterprise_admin"], now, now + timedelta(hours=1)), 403
    )
    with_no_events = _export(client, factory, world.regulator, now, now + timedelta(hours=1))
    assert with_no_events.status_code == 200 and with_no_events.get_data() == b""
