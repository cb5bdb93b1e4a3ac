"""The regulators' event feed through the HTTP API: platform clients scoped to a region, commit-order cursors,
backfill, JSON Lines and the published payload schema (DC-04, AU-01; plan measures 59-61)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import timedelta

import jsonschema
import pytest

from permit_service.audit import service as audit
from permit_service.auth.principal import SYSTEM
from tests.api.permit_flows import PermitFlow
from tests.api.test_freezes import declared
from tests.api.test_jobs import reported_job
from tests.plant import portal

FEED = "/api/v1/regulator/events"
CLIENTS = "/api/v1/regulator/clients"


def platform(client, factory, regulator, **body):
    """Register a platform client as `regulator` and sign it in with client credentials: its headers."""
    resp = client.post(CLIENTS, json={"name": "智慧安全平台", **body}, headers=factory.headers(regulator))
    assert resp.status_code == 201, resp.get_json()
    registered = resp.get_json()
    token = client.post(
        "/api/v1/auth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": registered["client_id"],
            "client_secret": registered["client_secret"],
        },
    )
    assert token.status_code == 200, token.get_json()
    return {"Authorization": f"Bearer {token.get_json()['access_token']}"}


def follow(client, headers, after="0", **query):
    """Every event from `after` on, page by page: (events, last cursor)."""
    events = []
    while True:
        page = client.get(FEED, query_string={"after": after, **query}, headers=headers)
        assert page.status_code == 200, page.get_json()
        body = page.get_json()
        events.extend(body["items"])
        after = body["next_cursor"]
        if not body["has_more"]:
            return events, after


def other_side(world):
    """The same world seen from the other district's enterprise (for filing there)."""
    return replace(world, enterprise=world.other_enterprise, area=world.other_area, people=world.other_people)


@pytest.fixture
def world(factory):
    return factory.world()


def test_DC_04_a_district_platform_follows_its_enterprises_and_the_city_platform_all(client, factory, world):
    district = platform(client, factory, world.regulator)
    other = platform(client, factory, world.other_regulator)
    city = platform(client, factory, world.city_regulator)
    ours = PermitFlow(client, factory, world).file()
    theirs = PermitFlow(client, factory, other_side(world)).file()

    def permits(headers):
        return {e["subject_id"] for e in follow(client, headers)[0] if e["permit"]}

    def enterprises(headers):
        return {e["enterprise"]["credit_code"] for e in follow(client, headers)[0] if e["enterprise"]}

    assert enterprises(district) == {world.enterprise.credit_code}
    assert enterprises(other) == {world.other_enterprise.credit_code}
    assert enterprises(city) == {world.enterprise.credit_code, world.other_enterprise.credit_code}
    assert ours.id in permits(district) and theirs.id not in permits(district)
    assert theirs.id in permits(other) and ours.id not in permits(other)
    assert {ours.id, theirs.id} <= permits(city)


def test_DC_04_a_regulator_registers_platforms_only_for_its_region_and_below(client, factory, world):
    refused = client.post(
        CLIENTS,
        json={"name": "岚山平台", "region_id": str(world.other_district.id)},
        headers=factory.headers(world.regulator),
    )
    assert refused.status_code == 404
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    document = client.get("/openapi.json").get_json()
    assert "404" in document["paths"][CLIENTS]["post"]["responses"]  # the answer is a documented one
    below = client.post(
        CLIENTS,
        json={"name": "东港平台", "region_id": str(world.district.id)},
        headers=factory.headers(world.city_regulator),
    )
    assert below.status_code == 201
    listed = client.get(CLIENTS, headers=factory.headers(world.regulator)).get_json()["items"]
    assert [c["client_id"] for c in listed] == [below.get_json()["client_id"]]
    assert "client_secret" not in listed[0]
    assert (
        client.post(
            CLIENTS, json={"name": "x"}, headers=factory.headers(world.people["principal"])
        ).status_code
        == 403
    )


def test_DC_04_a_platform_client_reads_its_region_only_and_acts_on_nothing(client, factory, world):
    headers = platform(client, factory, world.regulator)
    ours = PermitFlow(client, factory, world).file().submit()
    theirs = PermitFlow(client, factory, other_side(world)).file()

    assert client.get(ours.url, headers=headers).status_code == 200
    foreign = client.get(theirs.url, headers=headers)
    assert foreign.status_code == 404
    assert foreign.headers["Content-Type"].startswith("application/problem+json")
    for segment, body in [("reject", {"reason": "平台不应能驳回"}), ("approve", ours.evidence())]:
        acted = client.post(f"{ours.url}/{segment}", json=body, headers=headers)
        assert acted.status_code == 403, acted.get_json()
        assert acted.headers["Content-Type"].startswith("application/problem+json")
    assert client.post(CLIENTS, json={"name": "再注册"}, headers=headers).status_code == 403
    assert client.get("/api/v1/regulator/reports", headers=headers).status_code == 403
    assert ours.reload().state == "submitted"  # the refused actions changed nothing


def test_DC_04_deactivating_a_platform_client_refuses_its_token_at_once(client, factory, world):
    headers = platform(client, factory, world.regulator)
    client_id = client.get(CLIENTS, headers=factory.headers(world.regulator)).get_json()["items"][0]["id"]
    gone = client.delete(f"{CLIENTS}/{client_id}", headers=factory.headers(world.regulator))
    assert gone.status_code == 204
    assert client.get(FEED, headers=headers).status_code == 401


def test_AU_01_a_platform_down_for_a_day_catches_up_from_its_last_cursor(client, factory, world, clock):
    headers = platform(client, factory, world.regulator)
    first = PermitFlow(client, factory, world).file()
    seen, cursor = follow(client, headers)
    assert first.number in {e["permit"]["number"] for e in seen if e["permit"]}

    # The platform goes down; the enterprise keeps working for a day.
    later = []
    for _ in range(3):
        clock.advance(timedelta(hours=8))
        later.append(PermitFlow(client, factory, world).file().submit())

    caught_up, _ = follow(client, headers, after=cursor, limit=2)
    assert [int(e["cursor"]) for e in caught_up] == sorted(int(e["cursor"]) for e in caught_up)
    assert int(caught_up[0]["cursor"]) > int(cursor)
    assert not {e["event_id"] for e in caught_up} & {e["event_id"] for e in seen}
    everything, _ = follow(client, headers)
    assert [e["event_id"] for e in everything] == [e["event_id"] for e in seen + caught_up]
    assert {f.number for f in later} == {e["permit"]["number"] for e in caught_up if e["permit"]}
    submitted = [e for e in caught_up if e["kind"] == "permit.submit"]
    assert [e["permit"]["state"] for e in submitted] == ["submitted"] * 3

    # A new platform backfills from a date instead: only the events at or after it.
    since = (clock.now() - timedelta(hours=9)).isoformat()
    recent, _ = follow(client, platform(client, factory, world.regulator), since=since)
    assert {e["permit"]["number"] for e in recent if e["permit"]} == {f.number for f in later[-2:]}


def test_AU_01_the_feed_speaks_json_lines_on_request(client, factory, world):
    headers = platform(client, factory, world.regulator)
    PermitFlow(client, factory, world).file()
    as_json, cursor = follow(client, headers)
    for ask in ({"query_string": {"format": "jsonl"}}, {"headers": {"Accept": "application/x-ndjson"}}):
        resp = client.get(
            FEED, headers={**headers, **ask.get("headers", {})}, query_string=ask.get("query_string")
        )
        assert resp.status_code == 200
        assert resp.mimetype == "application/x-ndjson"
        lines = [json.loads(line) for line in resp.get_data(as_text=True).splitlines()]
        assert lines == as_json
        assert resp.headers["X-Next-Cursor"] == cursor


def test_DC_04_payloads_carry_what_a_platform_maps_and_validate_against_the_published_schema(
    client, factory, world
):
    headers = platform(client, factory, world.city_regulator)
    flow = PermitFlow(client, factory, world).file().to_active()
    events, _ = follow(client, headers)
    spec = client.get("/openapi.json").get_json()
    schema = {"$ref": "#/components/schemas/FeedEvent", "components": spec["components"]}
    for event in events:
        jsonschema.validate(event, schema, cls=jsonschema.Draft202012Validator)

    approved = next(e for e in events if e["kind"] == "permit.approve")
    assert approved["enterprise"]["credit_code"] == world.enterprise.credit_code
    assert approved["region_code"] == world.district.code
    permit = approved["permit"]
    assert (permit["number"], permit["type"], permit["state"]) == (flow.number, "hot_work", "approved")
    assert permit["grade"] == flow.permit["grade"]
    assert permit["area"]["code"] == world.area.code
    assert permit["valid_from"] and permit["valid_until"]
    assert permit["guardians"] == [world.people["guardian"].name]
    activated = next(e for e in events if e["kind"] == "permit.activate")["permit"]
    assert activated["state"] == "active" and activated["previous_state"] == "briefed"
    assert activated["gas_test"]["passed"] is True and activated["gas_test"]["readings"]
    assert approved["signer"]["role"] and approved["signer"]["evidence_kinds"]
    assert approved["signer"]["name"] == flow.person(flow.approver()).name
    assert all(e["cursor"].isdigit() for e in events)
    # No identity or certificate number of anyone leaves in the feed.
    text = json.dumps(events, ensure_ascii=False)
    for person in world.people.values():
        assert str(person.id) not in text
        for cert in person.certificates:
            assert cert.number not in text


def test_DC_04_the_feed_is_regulator_events_and_the_audit_export_the_resource_below_it(
    client, factory, world, clock
):
    headers = platform(client, factory, world.regulator)
    PermitFlow(client, factory, world).file()
    assert client.get(FEED, query_string={"after": "0"}, headers=headers).get_json()["items"]
    period = {"from": (clock.now() - timedelta(hours=1)).isoformat(), "until": clock.now().isoformat()}
    export = client.get(f"{FEED}/export", query_string=period, headers=factory.headers(world.regulator))
    assert export.status_code == 200 and export.mimetype == "application/x-ndjson"
    assert client.get("/api/v1/regulator/feed", headers=headers).status_code == 404


def test_DC_04_a_permit_event_tells_validity_area_and_grade_as_they_were_at_the_event(
    client, factory, world, clock
):
    headers = platform(client, factory, world.regulator)
    flow = PermitFlow(client, factory, world).file(location="E-101 换热器")
    filed_until = flow.permit["valid_until"]
    # After filing: the draft ends an hour earlier at another spot, the administrator renames the area,
    # and the regulator grades the enterprise orange (RG-01).
    changes = {"valid_until": flow.at(timedelta(hours=5)), "location": "E-102 换热器"}
    edited = client.patch(flow.url, json=changes, headers=flow.headers("applicant", **{"If-Match": '"1"'}))
    assert edited.status_code == 200, edited.get_json()
    area_url = f"/api/v1/areas/{world.area.id}"
    admin = factory.headers(world.people["enterprise_admin"])
    version = client.get(area_url, headers=admin).headers["ETag"]
    renamed = client.patch(
        area_url, json={"name": "常减压装置区（改）"}, headers={**admin, "If-Match": version}
    )
    assert renamed.status_code == 200, renamed.get_json()
    clock.advance(timedelta(minutes=5))
    graded = client.post(
        f"/api/v1/enterprises/{world.enterprise.id}/risk-grade",
        json={"grade": "orange", "reason": "隐患整改未完成"},
        headers=factory.headers(world.regulator),
    )
    assert graded.status_code == 201, graded.get_json()
    clock.advance(timedelta(minutes=5))
    flow.submit()

    events, _ = follow(client, headers)
    by_kind = {e["kind"]: e for e in events if e["subject_id"] == flow.id}
    filed, edit, submitted = by_kind["permit.filed"], by_kind["permit.edited"], by_kind["permit.submit"]
    assert filed["permit"]["location"] == "E-101 换热器"
    assert filed["permit"]["valid_until"] == filed_until
    assert filed["permit"]["area"]["name"] == world.area.name
    assert filed["enterprise"]["risk_grade"] == "blue"
    assert edit["permit"]["location"] == submitted["permit"]["location"] == "E-102 换热器"
    assert edit["permit"]["valid_until"] == submitted["permit"]["valid_until"] != filed_until
    assert edit["permit"]["area"]["name"] == world.area.name
    assert submitted["permit"]["area"]["name"] == "常减压装置区（改）"
    assert edit["enterprise"]["risk_grade"] == "blue" and submitted["enterprise"]["risk_grade"] == "orange"
    graded_event = next(e for e in events if e["kind"] == "enterprise.risk_grade_changed")
    assert graded_event["enterprise"]["risk_grade"] == "orange"


def test_AU_01_an_event_of_a_rolled_back_savepoint_gets_no_place_and_the_others_keep_their_order(
    app, client, factory, world
):
    headers = platform(client, factory, world.regulator)

    def edited(session):
        return audit.record(
            session, kind="permit.edited", actor=SYSTEM, subject_type="permit", subject_id=uuid.uuid4(),
            enterprise_id=world.enterprise.id, data={"fields": ["title"]},
        )  # fmt: skip

    with app.app_context(), app.extensions["db_sessionmaker"]() as session, session.begin():
        before = edited(session).subject_id
        savepoint = session.begin_nested()
        gone = edited(session).subject_id
        savepoint.rollback()
        after = edited(session).subject_id

    subjects = [e["subject_id"] for e in follow(client, headers)[0] if e["kind"] == "permit.edited"]
    assert subjects == [before, after] and gone not in subjects


def test_HR_03_DC_04_job_alarm_and_freeze_events_name_what_a_platform_maps(client, factory, world):
    headers = platform(client, factory, world.regulator)
    flow = PermitFlow(client, factory, world).file().to_active()
    job = reported_job(client, factory, world)
    gate = portal(factory, world)
    alarm = {
        "area_code": world.area.code,
        "kind": "fire",
        "message": "E-101 附近起火",
        "raised_at": flow.at(),
    }
    pushed = client.post("/api/v1/integrations/alarms", json={"alarms": [alarm]}, headers=gate.push("fire-1"))
    assert pushed.status_code == 201, pushed.get_json()
    declared(client, factory, world.regulator, world.district)

    events, _ = follow(client, headers)
    spec = client.get("/openapi.json").get_json()
    schema = {"$ref": "#/components/schemas/FeedEvent", "components": spec["components"]}
    for event in events:
        jsonschema.validate(event, schema, cls=jsonschema.Draft202012Validator)
    reported = next(e for e in events if e["kind"] == "job.reported")["job"]
    assert (reported["kind"], reported["state"], reported["planned_headcount"]) == (
        "tank_cleaning",
        "reported",
        3,
    )
    assert reported["risk_analysis"] == job["risk_analysis"] and reported["permits"] == []
    raised = next(e for e in events if e["kind"] == "alarm.raised")["alarm"]
    assert (raised["kind"], raised["source"], raised["area"]["code"]) == ("fire", "plant", world.area.code)
    assert raised["permit_number"] is None and raised["suspended_permits"] == [flow.number]
    assert (
        "起火" in raised["message_zh"]
        and "G-08" in next(e for e in events if e["kind"] == "alarm.raised")["rule_ids"]
    )
    frozen = next(e for e in events if e["kind"] == "freeze.declared")
    assert frozen["enterprise"] is None and frozen["region_code"] == world.district.code
    assert frozen["freeze"]["mode"] == "strict" and sorted(frozen["freeze"]["types"]) == [
        "confined_space",
        "hot_work",
    ]
    assert all(e["job"] is None and e["alarm"] is None and e["freeze"] is None for e in events if e["permit"])
