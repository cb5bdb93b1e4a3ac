"""Regulators' platforms pushed their region's events through the webhook outbox, to a real receiver on 127.0.0.1:
subscribed by event kind, enterprise and risk grade, signed, the feed's payload, in order, retried, replayable, and
gapless with the pull feed from the subscription's cursor on (DC-04, RG-01; plan measures 59-61)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import jsonschema
import pytest
import sqlalchemy as sa

from permit_service.feed.models import FeedPosition
from permit_service.integrations.models import WebhookDelivery
from permit_service.integrations.webhooks import deliver_due, verify
from tests.api.checks import assert_problem
from tests.api.permit_flows import PermitFlow
from tests.api.test_regulator_feed import CLIENTS, FEED, follow, other_side, platform
from tests.api.test_regulator_feed_concurrency import _burst
from tests.integration.test_webhooks import LOOPBACK, POLICY, SECRET, Receiver
from tests.plant import portal

SUBSCRIPTIONS = "/api/v1/webhooks/subscriptions"


@pytest.fixture
def config(config):
    """The suite's configuration, with the loopback receivers allowed (refused by default)."""
    return dataclasses.replace(config, webhook_allowed_networks=LOOPBACK)


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for receiver in started:
        receiver.stop()


@pytest.fixture
def listen(receivers):
    def start() -> Receiver:
        receiver = Receiver()
        receiver.start()
        receivers.append(receiver)
        return receiver

    return start


@pytest.fixture
def world(factory):
    return factory.world()


def subscribe(client, headers, receiver, kinds=("*",), **filters):
    resp = client.post(
        SUBSCRIPTIONS,
        json={"url": receiver.url, "secret": SECRET, "event_kinds": list(kinds), **filters},
        headers=headers,
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def deliver(app, clock):
    with app.app_context():
        return deliver_due(app.extensions["db_sessionmaker"], clock.now(), policy=POLICY)


def bodies(receiver):
    return [json.loads(r["body"]) for r in receiver.received]


def permit_numbers(receiver):
    return {b["permit"]["number"] for b in bodies(receiver) if b["permit"]}


def test_DC_04_a_district_platform_is_pushed_its_enterprises_events_signed_and_the_city_platform_all(
    app, client, factory, clock, world, listen
):
    district, city = listen(), listen()
    district_platform = platform(client, factory, world.regulator)
    subscribe(client, district_platform, district, ["permit.*"])
    subscribe(client, platform(client, factory, world.city_regulator), city)
    ours = PermitFlow(client, factory, world).file()
    for step in ("to_approved", "brief", "shift_check", "gas_test", "activate"):
        clock.advance(timedelta(minutes=2))  # a gas test belongs to the events after it, not to those before
        getattr(ours, step)()
    theirs = PermitFlow(client, factory, other_side(world)).file()
    assert deliver(app, clock).failed == 0

    assert permit_numbers(district) == {ours.number}
    assert permit_numbers(city) == {ours.number, theirs.number}
    assert {b["kind"].split(".")[0] for b in bodies(district)} == {"permit"}
    # The same events as the feed, in commit order, each body the feed's payload with its cursor.
    pulled = [e for e in follow(client, district_platform)[0] if e["kind"].startswith("permit.")]
    assert bodies(district) == pulled
    spec = client.get("/openapi.json").get_json()
    schema = {"$ref": "#/components/schemas/FeedEvent", "components": spec["components"]}
    for got in district.received:
        jsonschema.validate(json.loads(got["body"]), schema, cls=jsonschema.Draft202012Validator)
        assert verify(SECRET, got["headers"]["X-Permit-Signature"], got["body"], clock.now())
        assert got["headers"]["X-Permit-Event-Id"] == str(json.loads(got["body"])["event_id"])


def test_DC_04_RG_01_a_platform_narrows_its_pushes_to_enterprises_and_risk_grades(
    app, client, factory, clock, world, listen
):
    by_code, by_grade = listen(), listen()
    city = platform(client, factory, world.city_regulator)
    subscribe(client, city, by_code, ["permit.*"], enterprises=[world.other_enterprise.credit_code])
    subscribe(client, city, by_grade, ["permit.*", "enterprise.*"], risk_grades=["orange", "red"])
    before = PermitFlow(client, factory, world).file()
    theirs = PermitFlow(client, factory, other_side(world)).file()
    graded = client.post(
        f"/api/v1/enterprises/{world.enterprise.id}/risk-grade",
        json={"grade": "orange", "reason": "重大隐患未整改"},
        headers=factory.headers(world.regulator),
    )
    assert graded.status_code == 201, graded.get_json()
    after = PermitFlow(client, factory, world).file()
    deliver(app, clock)

    assert permit_numbers(by_code) == {theirs.number}
    assert permit_numbers(by_grade) == {after.number} and before.number != after.number
    assert [b["kind"] for b in bodies(by_grade)] == ["enterprise.risk_grade_changed", "permit.filed"]
    assert all(b["enterprise"]["risk_grade"] == "orange" for b in bodies(by_grade))


def test_DC_04_a_new_subscription_pushes_after_its_cursor_and_the_feed_holds_everything_up_to_it(
    app, client, factory, clock, world, listen
):
    receiver = listen()
    headers = platform(client, factory, world.regulator)
    earlier = PermitFlow(client, factory, world).file().submit()
    sub = subscribe(client, headers, receiver)
    later = PermitFlow(client, factory, world).file().submit()
    deliver(app, clock)

    backfill = [e for e in follow(client, headers)[0] if int(e["cursor"]) <= int(sub["feed_cursor"])]
    pushed = bodies(receiver)
    assert earlier.number in {e["permit"]["number"] for e in backfill if e["permit"]}
    assert permit_numbers(receiver) == {later.number}
    assert all(int(b["cursor"]) > int(sub["feed_cursor"]) for b in pushed)
    assert [e["event_id"] for e in backfill + pushed] == [e["event_id"] for e in follow(client, headers)[0]]


def test_DC_04_a_platform_down_gets_its_events_in_order_when_back_and_replays_one(
    app, client, factory, clock, world, listen
):
    receiver = listen()
    headers = platform(client, factory, world.regulator)
    sub = subscribe(client, headers, receiver, ["permit.*"])
    receiver.stop()
    flow = PermitFlow(client, factory, world).file().submit()
    report = deliver(app, clock)
    assert (report.delivered, report.retrying) == (0, 1)  # the next event of the permit waits for the first
    receiver.start()
    clock.advance(timedelta(minutes=1))
    pulled = [e for e in follow(client, headers)[0] if e["kind"].startswith("permit.")]
    assert deliver(app, clock).delivered == len(pulled)
    assert bodies(receiver) == pulled  # every event once, in commit order
    assert pulled[0]["kind"] == "permit.filed" and "permit.submit" in {e["kind"] for e in pulled}
    assert {b["permit"]["number"] for b in bodies(receiver)} == {flow.number}

    deliveries = client.get(f"{SUBSCRIPTIONS}/{sub['id']}/deliveries", headers=headers).get_json()["items"]
    assert {d["status"] for d in deliveries} == {"delivered"}
    filed = next(d for d in deliveries if d["event_id"] == pulled[0]["event_id"])
    replayed = client.post(f"/api/v1/webhooks/deliveries/{filed['id']}/replay", headers=headers)
    assert replayed.status_code == 201, replayed.get_json()
    deliver(app, clock)
    assert receiver.received[-1]["body"] == receiver.received[0]["body"]


def test_DC_04_a_platform_subscribes_but_acts_on_nothing_and_sees_no_other_subscriptions(
    client, factory, world, listen
):
    receiver = listen()
    headers = platform(client, factory, world.regulator)
    gate = portal(factory, world)
    plant_sub = subscribe(client, gate.headers, receiver, ["permit.*"])
    flow = PermitFlow(client, factory, world).file().submit()
    assert_problem(client.post(f"{flow.url}/reject", json={"reason": "平台不能驳回"}, headers=headers), 403)

    own = subscribe(client, headers, receiver, ["permit.*"])
    assert own["region_id"] == str(world.district.id) and own["enterprise_id"] is None
    listed = client.get(SUBSCRIPTIONS, headers=headers).get_json()["items"]
    assert [s["id"] for s in listed] == [own["id"]]
    assert_problem(client.get(f"{SUBSCRIPTIONS}/{plant_sub['id']}", headers=headers), 404)
    assert_problem(client.delete(f"{SUBSCRIPTIONS}/{plant_sub['id']}", headers=headers), 404)
    assert_problem(client.get(f"{SUBSCRIPTIONS}/{own['id']}", headers=gate.headers), 404)
    assert [s["id"] for s in client.get(SUBSCRIPTIONS, headers=gate.headers).get_json()["items"]] == [
        plant_sub["id"]
    ]

    # Filters name enterprises of the platform's region, and are a platform's only.
    foreign = client.post(
        SUBSCRIPTIONS,
        json={"url": receiver.url, "secret": SECRET, "event_kinds": ["*"], "enterprises": [
            world.other_enterprise.credit_code
        ]},
        headers=headers,
    )  # fmt: skip
    assert world.other_enterprise.credit_code in str(assert_problem(foreign, 422)["errors"]["enterprises"])
    plant_filter = client.post(
        SUBSCRIPTIONS,
        json={"url": receiver.url, "secret": SECRET, "event_kinds": ["*"], "risk_grades": ["red"]},
        headers=gate.headers,
    )
    assert "risk_grades" in assert_problem(plant_filter, 422)["errors"]
    assert client.delete(f"{SUBSCRIPTIONS}/{own['id']}", headers=headers).status_code == 204


def test_DC_04_deactivating_a_platform_client_stops_its_pushes(app, client, factory, clock, world, listen):
    receiver = listen()
    subscribe(client, platform(client, factory, world.regulator), receiver)
    [registered] = client.get(CLIENTS, headers=factory.headers(world.regulator)).get_json()["items"]
    gone = client.delete(f"{CLIENTS}/{registered['id']}", headers=factory.headers(world.regulator))
    assert gone.status_code == 204
    PermitFlow(client, factory, world).file()
    deliver(app, clock)
    assert receiver.received == []


def test_DC_04_a_plant_portal_is_not_sent_the_regulators_wiring_of_its_region(
    app, client, factory, clock, world, listen
):
    plant = listen()
    subscribe(client, portal(factory, world).headers, plant)
    platform_sub = subscribe(client, platform(client, factory, world.regulator), listen())
    deliver(app, clock)
    assert plant.kinds() == ["webhook.subscribed"]  # its own subscription only
    assert json.loads(plant.received[0]["body"])["subject_id"] != platform_sub["id"]
    regional = client.get(FEED, headers=factory.headers(world.regulator)).get_json()["items"]
    assert not [e for e in regional if e["subject_type"] in ("integration_client", "webhook_subscription")]


@pytest.mark.postgres_only
def test_DC_04_a_subscription_made_mid_burst_is_pushed_every_event_after_its_cursor_and_none_up_to_it(
    app, client, factory, world
):
    headers = platform(client, factory, world.city_regulator)
    ticks, spans = itertools.count(), []
    burst = threading.Thread(target=_burst, args=(app, world, ticks, spans))
    burst.start()
    while len(spans) < 100:  # well into the burst
        time.sleep(0.01)
    body = {"url": "http://127.0.0.1:9/hooks", "secret": SECRET, "event_kinds": ["permit.*"]}
    sub = client.post(SUBSCRIPTIONS, json=body, headers=headers)
    assert sub.status_code == 201, sub.get_json()
    burst.join()

    written = [i for _, _, ids in spans for i in ids]
    with factory.app.extensions["db_sessionmaker"]() as session:
        position = dict(
            session.execute(
                sa.select(FeedPosition.event_id, FeedPosition.position).where(
                    FeedPosition.event_id.in_(written)
                )
            ).all()
        )
        pushed = session.scalars(
            sa.select(WebhookDelivery.event_id).where(WebhookDelivery.subscription_id == sub.get_json()["id"])
        ).all()
    cursor = int(sub.get_json()["feed_cursor"])
    after = {i for i in written if position[i] > cursor}
    assert after and len(after) < len(written)  # the subscription came mid-burst
    assert len(pushed) == len(set(pushed)), "an event was pushed twice"
    assert set(pushed) == after, "the feed up to the cursor and the pushes after it are not every event once"
