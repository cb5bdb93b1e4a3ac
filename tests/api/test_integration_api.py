"""The integration API: registering feeds and detectors, and pushing batches that are checked whole (DC-05)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from threading import Barrier

import pytest
import sqlalchemy as sa

from permit_service.integrations import service
from permit_service.integrations.models import (
    Alarm,
    CardLocation,
    CardSighting,
    Detector,
    Feed,
    GasReadingRecord,
    IngestBatch,
    PositionSnapshot,
)
from tests.api.checks import assert_problem
from tests.conftest import DEFAULT_NOW
from tests.plant import iso, portal, registered_earlier

STORED = (GasReadingRecord, IngestBatch, PositionSnapshot, CardSighting, CardLocation, Alarm)


def _count(session, model):
    count = session.scalar(sa.select(sa.func.count()).select_from(model))
    session.commit()  # end the read: on SQLite every transaction holds the write lock
    return count


def _nothing_stored(session):
    return all(_count(session, m) == 0 for m in STORED)


@pytest.fixture
def plant(client, factory):
    """A world with a plant portal, a gas feed and two detectors in the main area."""
    world = factory.world()
    gate = portal(factory, world)
    feed = client.post(
        "/api/v1/integrations/feeds",
        json={"code": "GDS", "kind": "gas", "interval_minutes": 5, "area_codes": [world.area.code]},
        headers=gate.headers,
    )
    assert feed.status_code == 201, feed.get_json()
    for code, gas, unit in (("GD-1", "CH4", "%LEL"), ("GD-2", "H2S", "ppm")):
        resp = client.post(
            "/api/v1/integrations/detectors",
            json={"code": code, "area_code": world.area.code, "gas": gas, "unit": unit, "feed": "GDS"},
            headers=gate.headers,
        )
        assert resp.status_code == 201, resp.get_json()
    registered_earlier(factory, world)
    return world, gate


def _reading(detector="GD-1", value=1.0, delta=timedelta(0)):
    return {"detector": detector, "value": value, "measured_at": iso(delta)}


# --- registration --------------------------------------------------------------------------------


def test_feeds_and_detectors_are_registered_and_listed(client, factory, plant):
    world, gate = plant
    feeds = client.get("/api/v1/integrations/feeds", headers=gate.headers).get_json()["items"]
    assert [(f["code"], f["kind"], f["area_codes"]) for f in feeds] == [("GDS", "gas", [world.area.code])]
    detectors = client.get(
        f"/api/v1/integrations/detectors?area_id={world.area.id}", headers=gate.headers
    ).get_json()
    assert sorted(d["code"] for d in detectors["items"]) == ["GD-1", "GD-2"]
    other = factory.headers(world.other_people["enterprise_admin"])
    assert client.get("/api/v1/integrations/detectors", headers=other).get_json()["items"] == []


def test_detector_registration_is_checked(client, factory, plant):
    world, gate = plant
    bad = client.post(
        "/api/v1/integrations/detectors",
        json={"code": "GD-9", "area_code": "NOPE", "gas": "XYZ", "unit": "%LEL", "feed": "NOFEED"},
        headers=gate.headers,
    )
    assert_problem(bad, 422, fields={"area_code", "gas", "feed"})
    no_lel = client.post(
        "/api/v1/integrations/detectors",
        json={"code": "GD-9", "area_code": world.area.code, "gas": "Cl2", "unit": "%LEL"},
        headers=gate.headers,
    )
    assert_problem(no_lel, 422, fields={"gas"})
    twice = client.post(
        "/api/v1/integrations/detectors",
        json={"code": "GD-1", "area_code": world.area.code, "gas": "CH4", "unit": "%vol"},
        headers=gate.headers,
    )
    assert_problem(twice, 409)
    staff = client.post(
        "/api/v1/integrations/detectors",
        json={"code": "GD-8", "area_code": world.area.code, "gas": "CH4", "unit": "%vol"},
        headers=factory.headers(world.people["worker"]),
    )
    assert_problem(staff, 403)
    assert _count(factory.session, Detector) == 2


def _race_registrations(app, url, headers, body, n=8):
    barrier = Barrier(n)

    def post(_):
        client = app.test_client()  # each thread its own client, request, session and connection
        barrier.wait()
        return client.post(url, json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(post, range(n)))


@pytest.mark.postgres_only
def test_the_same_detector_registered_concurrently_is_one_201_and_409s(app, factory, plant):
    world, gate = plant
    body = {"code": "GD-RACE", "area_code": world.area.code, "gas": "CH4", "unit": "%LEL", "feed": "GDS"}
    answers = _race_registrations(app, "/api/v1/integrations/detectors", gate.headers, body)
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7
    # Every loser gets the service's own answer, not the generic "conflicts with existing data" of a bare race.
    messages = {assert_problem(a, 409)["message_en"] for a in answers if a.status_code == 409}
    assert messages == {"A detector with this code is already registered"}
    assert _count(factory.session, Detector) == 3


@pytest.mark.postgres_only
def test_the_same_feed_registered_concurrently_is_one_201_and_409s(app, factory, plant):
    world, gate = plant
    body = {"code": "POS-RACE", "kind": "positioning", "area_codes": [world.area.code]}
    answers = _race_registrations(app, "/api/v1/integrations/feeds", gate.headers, body)
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7
    messages = {assert_problem(a, 409)["message_en"] for a in answers if a.status_code == 409}
    assert messages == {"A feed with this code is already registered"}
    assert _count(factory.session, Feed) == 2


@pytest.mark.postgres_only
def test_detectors_of_one_new_area_registered_concurrently_all_succeed(app, factory, plant):
    world, gate = plant
    area = factory.area(world.enterprise)
    barrier = Barrier(6)

    def post(i):
        client = app.test_client()
        barrier.wait()
        body = {"code": f"GD-N{i}", "area_code": area.code, "gas": "H2S", "unit": "ppm", "feed": "GDS"}
        return client.post("/api/v1/integrations/detectors", json=body, headers=gate.headers).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(post, range(6))) == [201] * 6
    feeds = app.test_client().get("/api/v1/integrations/feeds", headers=gate.headers).get_json()["items"]
    assert [f["area_codes"] for f in feeds] == [sorted([world.area.code, area.code])]


def test_feed_registration_is_checked(client, factory, plant):
    world, gate = plant
    bad = client.post(
        "/api/v1/integrations/feeds",
        json={"code": "", "kind": "radio", "interval_minutes": 0, "area_codes": [world.area.code, "NOPE"]},
        headers=gate.headers,
    )
    assert_problem(bad, 422, fields={"code", "kind", "interval_minutes"})
    unknown_area = client.post(
        "/api/v1/integrations/feeds",
        json={"code": "POS", "kind": "positioning", "area_codes": [world.area.code, "NOPE"]},
        headers=gate.headers,
    )
    assert_problem(unknown_area, 422, fields={"area_codes.1"})
    twice = client.post(
        "/api/v1/integrations/feeds",
        json={"code": "GDS", "kind": "gas", "area_codes": [world.area.code]},
        headers=gate.headers,
    )
    assert_problem(twice, 409)
    assert _count(factory.session, Feed) == 1


def test_an_enterprise_admin_may_register_but_only_integration_accounts_push(client, factory, plant):
    world, _gate = plant
    admin = factory.headers(world.people["enterprise_admin"], **{"Idempotency-Key": "k1"})
    feed = client.post(
        "/api/v1/integrations/feeds",
        json={"code": "POS", "kind": "positioning", "area_codes": [world.area.code]},
        headers=admin,
    )
    assert feed.status_code == 201
    push = client.post("/api/v1/integrations/gas-readings", json={"readings": [_reading()]}, headers=admin)
    assert_problem(push, 403)
    assert _count(factory.session, Feed) == 2


# --- DC-05: applied once -------------------------------------------------------------------------


def test_DC05_the_same_batch_posted_twice_is_applied_once(client, factory, plant):
    _world, gate = plant
    body = {"readings": [_reading(value=1.0, delta=timedelta(seconds=-i)) for i in range(10)]}
    first = client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("batch-0001"))
    again = client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("batch-0001"))
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.get_json()["accepted"] == 10
    assert _count(factory.session, GasReadingRecord) == 10
    assert _count(factory.session, IngestBatch) == 1
    batch = factory.session.scalars(sa.select(IngestBatch)).one()
    assert batch.idempotency_key == "batch-0001" and batch.item_count == 10


@pytest.mark.postgres_only
def test_DC05_the_same_batch_posted_concurrently_is_applied_once(app, factory, plant):
    _world, gate = plant
    body = {"readings": [_reading(value=1.0, delta=timedelta(seconds=-i)) for i in range(50)]}
    barrier = Barrier(8)

    def post(_):
        client = app.test_client()
        barrier.wait()
        resp = client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("race-1"))
        return resp.status_code, resp.get_json()["batch_id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, range(8)))
    assert {status for status, _ in answers} == {201}
    assert len({batch for _, batch in answers}) == 1
    assert _count(factory.session, GasReadingRecord) == 50


def test_DC05_a_key_reused_for_another_batch_is_refused(client, factory, plant):
    _world, gate = plant
    client.post("/api/v1/integrations/gas-readings", json={"readings": [_reading()]}, headers=gate.push("k"))
    other = client.post(
        "/api/v1/integrations/gas-readings", json={"readings": [_reading(value=2)]}, headers=gate.push("k")
    )
    assert_problem(other, 422, fields={"Idempotency-Key"})
    assert _count(factory.session, GasReadingRecord) == 1


def test_DC05_every_push_needs_an_idempotency_key(client, factory, plant):
    _world, gate = plant
    resp = client.post(
        "/api/v1/integrations/gas-readings", json={"readings": [_reading()]}, headers=gate.headers
    )
    assert_problem(resp, 422, fields={"Idempotency-Key"})
    assert _nothing_stored(factory.session)


def test_DC05_keys_belong_to_their_client(client, factory, plant):
    world, gate = plant
    second = portal(factory, world)
    body = {"readings": [_reading()]}
    assert (
        client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("same")).status_code
        == 201
    )
    other = client.post("/api/v1/integrations/gas-readings", json=body, headers=second.push("same"))
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers
    assert _count(factory.session, GasReadingRecord) == 2


def test_DC05_a_key_is_remembered_for_the_retention_then_is_a_new_batch(client, factory, plant, clock):
    _world, gate = plant
    body = {"readings": [_reading()]}
    first = client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("weekly"))
    assert first.status_code == 201
    clock.advance(timedelta(days=7, seconds=-1))  # INGEST_KEY_RETENTION_DAYS defaults to 7
    again = client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("weekly"))
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
    clock.advance(timedelta(seconds=1))
    fresh = {"readings": [_reading(delta=timedelta(days=7))]}
    later = client.post("/api/v1/integrations/gas-readings", json=fresh, headers=gate.push("weekly"))
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers
    assert later.get_json()["batch_id"] != first.get_json()["batch_id"]
    assert _count(factory.session, GasReadingRecord) == 2
    assert _count(factory.session, IngestBatch) == 2  # the first batch stays as its readings' provenance


def test_DC05_purge_forgets_expired_keys_and_keeps_the_batches_and_their_data(
    app, client, factory, plant, clock
):
    _world, gate = plant
    client.post(
        "/api/v1/integrations/gas-readings", json={"readings": [_reading()]}, headers=gate.push("old")
    )
    clock.advance(timedelta(days=2))
    client.post(
        "/api/v1/integrations/gas-readings",
        json={"readings": [_reading(delta=timedelta(days=2))]},
        headers=gate.push("recent"),
    )
    purge_at = DEFAULT_NOW + timedelta(days=7)
    with app.app_context(), app.extensions["db_sessionmaker"].begin() as session:
        assert service.purge_expired_batch_keys(session, now=purge_at) == 1
    with app.app_context(), app.extensions["db_sessionmaker"].begin() as session:
        assert service.purge_expired_batch_keys(session, now=purge_at) == 0
    keys = factory.session.scalars(sa.select(IngestBatch.idempotency_key).order_by(IngestBatch.received_at))
    assert list(keys) == [None, "recent"]
    assert _count(factory.session, GasReadingRecord) == 2
    # The forgotten key is free again: the same key now opens a new batch.
    clock.set(purge_at)
    body = {"readings": [_reading(delta=timedelta(days=7))]}
    reused = client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("old"))
    assert reused.status_code == 201 and "Idempotent-Replayed" not in reused.headers
    assert _count(factory.session, GasReadingRecord) == 3


# --- a refused batch lists every offending item and stores nothing ------------------------------


def test_a_refused_batch_lists_every_offending_item_and_stores_nothing(client, factory, plant):
    _world, gate = plant
    body = {
        "readings": [
            _reading(),  # fine
            _reading(
                value=True
            ),  # NaN and Infinity never get this far: 400 for the whole body (test_input_limits)
            _reading(value=None),
            _reading(value=-0.1),
            _reading(detector="GD-404"),
            _reading(delta=timedelta(minutes=3)),  # ahead of the clock by more than 2 min
            _reading(delta=timedelta(hours=-25)),  # older than 24 h
            _reading(value=150.0),  # 150 %LEL of methane is not a reading, it is a fault
            {"detector": "GD-2", "value": 1.0},  # no time
            {"detector": "GD-2", "value": "high", "measured_at": "yesterday", "note": "x"},
            _reading(delta=timedelta(minutes=1)),  # fine: within the clock skew
        ]
    }
    resp = client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("bad-1"))
    problem = assert_problem(
        resp,
        422,
        fields={
            "readings.1.value",
            "readings.2.value",
            "readings.3.value",
            "readings.4.detector",
            "readings.5.measured_at",
            "readings.6.measured_at",
            "readings.7.value",
            "readings.8.measured_at",
            "readings.9.value",
            "readings.9.measured_at",
            "readings.9.note",
        },
    )
    assert "nothing was stored" in problem["message_en"]
    assert _nothing_stored(factory.session)


def test_absurd_values_are_judged_in_volume_whatever_the_unit(client, factory, plant):
    world, gate = plant
    client.post(
        "/api/v1/integrations/detectors",
        json={"code": "GD-3", "area_code": world.area.code, "gas": "O2", "unit": "%vol"},
        headers=gate.headers,
    )
    body = {"readings": [_reading("GD-3", 100.5), _reading("GD-2", 1_000_001)]}
    resp = client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("absurd"))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["accepted"] == 0  # DC-01: refused one by one, not judged, not stored
    assert [(r["index"], r["reason"]) for r in resp.get_json()["refused"]] == [
        (0, "out_of_range"),
        (1, "out_of_range"),
    ]
    assert _count(factory.session, GasReadingRecord) == 0
    ok = {"readings": [_reading("GD-3", 20.9), _reading("GD-2", 5.0)]}
    assert (
        client.post("/api/v1/integrations/gas-readings", json=ok, headers=gate.push("fine")).status_code
        == 201
    )


def test_batches_are_bounded(client, factory, plant):
    _world, gate = plant
    body = {"readings": [_reading(delta=timedelta(seconds=-i)) for i in range(1001)]}
    assert_problem(
        client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("big")),
        422,
        fields={"readings"},
    )
    empty = client.post(
        "/api/v1/integrations/gas-readings", json={"readings": []}, headers=gate.push("empty")
    )
    assert_problem(empty, 422, fields={"readings"})
    assert _nothing_stored(factory.session)


@pytest.mark.parametrize(
    ("url", "body", "fields"),
    [
        ("gas-readings", [], {"_schema"}),
        ("gas-readings", {"readings": "all"}, {"readings"}),
        ("gas-readings", {"reading": []}, {"reading", "readings"}),
        ("positions", {"snapshots": [{"area_code": "NOPE", "observed_at": "2026-06-10T10:00:00", "card_ids": [1]}]},
         {"snapshots.0.area_code", "snapshots.0.observed_at", "snapshots.0.card_ids.0"}),
        ("positions", {"snapshots": [{"area_code": "X"}]}, {"snapshots.0.area_code", "snapshots.0.observed_at", "snapshots.0.card_ids"}),
        ("card-sightings", {"sightings": [{"card_id": "", "area_code": "NOPE", "seen_at": "2030-01-01T00:00:00+08:00"}]},
         {"sightings.0.card_id", "sightings.0.area_code", "sightings.0.seen_at"}),
        ("alarms", {"alarms": [{"area_code": "NOPE", "kind": "meteor", "message": "", "raised_at": "2026-06-10T10:00:00+08:00"}]},
         {"alarms.0.area_code", "alarms.0.kind", "alarms.0.message"}),
    ],
)  # fmt: skip
def test_malformed_pushes_are_422_and_store_nothing(client, factory, plant, url, body, fields):
    _world, gate = plant
    assert_problem(
        client.post(f"/api/v1/integrations/{url}", json=body, headers=gate.push("m")), 422, fields=fields
    )
    assert _nothing_stored(factory.session)


def test_a_body_that_is_not_json_is_400_and_stores_nothing(client, factory, plant):
    _world, gate = plant
    resp = client.post(
        "/api/v1/integrations/gas-readings",
        data="{oops",
        headers={**gate.push("j"), "Content-Type": "application/json"},
    )
    assert_problem(resp, 400)
    assert _nothing_stored(factory.session)


@pytest.mark.parametrize("url", ["gas-readings", "positions", "card-sightings", "alarms"])
def test_a_body_that_is_not_declared_json_or_too_large_is_4xx_and_stores_nothing(client, factory, plant, url):
    _world, gate = plant
    as_text = client.post(
        f"/api/v1/integrations/{url}",
        data='{"readings": []}',
        headers={**gate.push("t"), "Content-Type": "text/plain"},
    )
    assert_problem(as_text, 415)
    huge = client.post(
        f"/api/v1/integrations/{url}",
        data='{"x": "' + "a" * (1024 * 1024) + '"}',
        headers={**gate.push("h"), "Content-Type": "application/json"},
    )
    assert_problem(huge, 413)
    assert _nothing_stored(factory.session)


def test_an_area_of_another_enterprise_is_unknown(client, factory, plant):
    world, gate = plant
    body = {"snapshots": [{"area_code": world.other_area.code, "observed_at": iso(), "card_ids": []}]}
    assert_problem(client.post("/api/v1/integrations/positions", json=body, headers=gate.push("o")), 422,
                   fields={"snapshots.0.area_code"})  # fmt: skip


def test_readings_keep_their_feed_alive(client, factory, plant):
    _world, gate = plant
    client.post("/api/v1/integrations/gas-readings", json={"readings": [_reading(delta=timedelta(seconds=-30))]},
                headers=gate.push("alive"))  # fmt: skip
    feed = client.get("/api/v1/integrations/feeds", headers=gate.headers).get_json()["items"][0]
    assert datetime.fromisoformat(feed["last_data_at"]) == DEFAULT_NOW - timedelta(seconds=30)
    stored = factory.session.scalars(sa.select(GasReadingRecord)).one()
    assert (
        stored.unit == "%LEL"
        and stored.unit_normalised == "%vol"
        and stored.value_normalised == pytest.approx(0.05)
    )


# --- DC-01: a reading is judged or refused with its reason, never stored and ignored ------------------


def test_DC_01_well_formed_readings_the_service_will_not_judge_are_refused_one_by_one(
    client, factory, plant, clock
):
    _world, gate = plant
    registered = factory.session.scalar(sa.select(Detector.created_at).where(Detector.code == "GD-1"))
    factory.session.commit()
    clock.advance(timedelta(minutes=10))
    body = {
        "readings": [
            _reading(),  # judged
            {
                "detector": "GD-1",
                "value": 1.0,
                "measured_at": (registered - timedelta(seconds=1)).isoformat(),
            },
            _reading(detector="GD-404"),
            _reading(delta=timedelta(hours=-25)),
            _reading(delta=timedelta(minutes=15)),
            _reading(value=150.0),
        ]
    }
    resp = client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("dc01-1"))
    assert resp.status_code == 201, resp.get_json()
    answer = resp.get_json()
    assert answer["accepted"] == 1
    assert [(r["index"], r["reason"]) for r in answer["refused"]] == [
        (1, "before_registration"),
        (2, "unknown_detector"),
        (3, "too_old"),
        (4, "in_the_future"),
        (5, "out_of_range"),
    ]
    assert "before the detector was registered" in answer["refused"][0]["message_en"]
    assert all(r["message_zh"] for r in answer["refused"])
    assert _count(factory.session, GasReadingRecord) == 1  # only the judged reading is stored
    again = client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("dc01-1"))
    assert again.get_json() == answer  # the refusals are part of the batch's answer (DC-05)
