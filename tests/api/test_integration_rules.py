"""Rules on the live feed: gas breaches (DC-01, HW-08, CS-04), positioning (HC-04, DC-02), plant alarms, silent feeds (DC-03)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.integrations.models import Alarm, GasReadingRecord
from permit_service.integrations.service import check_silent_feeds
from tests.api.checks import assert_problem
from tests.plant import at_work, card_of, give_cards, iso, portal, registered_earlier

_keys = itertools.count(1)


@pytest.fixture
def plant(client, factory):
    """Two areas of one enterprise with detectors, and a plant portal."""
    world = factory.world()
    gate = portal(factory, world)
    east = factory.area(world.enterprise, code="EAST")
    client.post(
        "/api/v1/integrations/feeds",
        json={"code": "GDS", "kind": "gas", "area_codes": [world.area.code, "EAST"]},
        headers=gate.headers,
    )
    client.post(
        "/api/v1/integrations/feeds",
        json={"code": "POS", "kind": "positioning", "area_codes": [world.area.code, "EAST"]},
        headers=gate.headers,
    )
    for code, area, gas, unit in (
        ("CH4-A", world.area.code, "CH4", "%LEL"),
        ("O2-A", world.area.code, "O2", "%vol"),
        ("H2S-A", world.area.code, "H2S", "ppm"),
        ("CH4-E", "EAST", "CH4", "%LEL"),
    ):
        resp = client.post(
            "/api/v1/integrations/detectors",
            json={"code": code, "area_code": area, "gas": gas, "unit": unit, "feed": "GDS"},
            headers=gate.headers,
        )
        assert resp.status_code == 201
    registered_earlier(factory, world)
    return world, gate, east


def _push(client, gate, path, body):
    resp = client.post(f"/api/v1/integrations/{path}", json=body, headers=gate.push(f"key-{next(_keys)}"))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _readings(*items, delta=timedelta(0)):
    return {"readings": [{"detector": d, "value": v, "measured_at": iso(delta)} for d, v in items]}


def _all(session, stmt):
    """Read rows and end the read at once (on SQLite every transaction holds the write lock)."""
    rows = session.scalars(stmt.execution_options(populate_existing=True)).all()
    session.commit()
    return rows


def _state(client, factory, world, permit):
    resp = client.get(f"/api/v1/permits/{permit.id}", headers=factory.headers(world.people["safety_dept"]))
    return resp.get_json()["state"]


# --- DC-01, HW-08, CS-04: gas ------------------------------------------------------------------------


def test_DC01_a_breaching_reading_suspends_the_permits_of_its_area_and_no_others(client, factory, plant):
    world, gate, east = plant
    hot = at_work(factory, world)
    confined = at_work(factory, world, permit_type="confined_space")
    height = at_work(factory, world, permit_type="height")
    elsewhere = at_work(factory, world, area=east)
    waiting = at_work(factory, world, state="briefed")
    answer = _push(
        client, gate, "gas-readings", _readings(("CH4-A", 20.0))
    )  # 20 %LEL of CH4 = 1.0 % vol > 0.5
    assert sorted((s["number"], s["rule"]) for s in answer["suspended"]) == sorted(
        [(hot.number, "HW-08"), (confined.number, "CS-04")]
    )
    states = {
        p.number: _state(client, factory, world, p) for p in (hot, confined, height, elsewhere, waiting)
    }
    assert states == {
        hot.number: "suspended",
        confined.number: "suspended",
        height.number: "active",
        elsewhere.number: "active",
        waiting.number: "briefed",
    }
    alarms = _all(factory.session, sa.select(Alarm).order_by(Alarm.rule))
    assert [(a.kind, a.rule, a.permit_id) for a in alarms] == [
        ("gas_breach", "CS-04", confined.id),
        ("gas_breach", "HW-08", hot.id),
    ]
    assert sorted(answer["alarm_ids"]) == sorted(str(a.id) for a in alarms)
    [suspension] = _all(
        factory.session,
        sa.select(Event).where(Event.kind == "permit.suspend", Event.subject_id == str(hot.id)),
    )
    assert suspension.actor_id == "system" and "HW-08" in suspension.data["reason"]


def test_DC01_HW08_CS04_readings_within_the_limits_suspend_nothing(client, factory, plant):
    world, gate, _east = plant
    hot = at_work(factory, world)
    confined = at_work(factory, world, permit_type="confined_space")
    readings = _readings(("CH4-A", 5.0), ("O2-A", 20.9), ("H2S-A", 3.0))  # 0.25 % vol CH4, H2S ~ 4.2 mg/m3
    answer = _push(client, gate, "gas-readings", readings)
    assert answer["suspended"] == [] and answer["alarm_ids"] == []
    assert _state(client, factory, world, hot) == _state(client, factory, world, confined) == "active"
    assert len(_all(factory.session, sa.select(GasReadingRecord))) == 3


def test_CS04_low_oxygen_and_toxics_stop_confined_space_work_but_not_hot_work(client, factory, plant):
    world, gate, _east = plant
    hot = at_work(factory, world)
    confined = at_work(factory, world, permit_type="confined_space")
    answer = _push(
        client, gate, "gas-readings", _readings(("O2-A", 18.0), ("H2S-A", 15.0))
    )  # H2S 15 ppm ~ 21 mg/m3
    assert [(s["number"], s["rule"]) for s in answer["suspended"]] == [(confined.number, "CS-04")]
    [alarm] = _all(factory.session, sa.select(Alarm))
    assert {f["en"].split()[0] for f in alarm.data["findings"]} == {"O2", "hydrogen"}
    assert _state(client, factory, world, hot) == "active"


def test_HW08_resuming_after_a_gas_alarm_needs_a_fresh_passing_test(client, factory, plant):
    world, gate, _east = plant
    hot = at_work(factory, world)
    _push(client, gate, "gas-readings", _readings(("CH4-A", 40.0)))
    resume = client.post(
        f"/api/v1/permits/{hot.id}/resume",
        json={"conditions_confirmed": True},
        headers=factory.headers(world.people["work_leader"]),
    )
    assert assert_problem(resume, 409)["rule"] == "HW-08"


def test_DC01_readings_from_before_the_work_started_do_not_suspend_it(client, factory, plant):
    world, gate, _east = plant
    hot = at_work(factory, world, activated_ago=timedelta(minutes=10))
    answer = _push(client, gate, "gas-readings", _readings(("CH4-A", 40.0), delta=timedelta(minutes=-20)))
    assert answer["suspended"] == [] and answer["accepted"] == 1
    assert _state(client, factory, world, hot) == "active"


def test_DC01_a_suspended_permit_is_not_suspended_twice(client, factory, plant):
    world, gate, _east = plant
    hot = at_work(factory, world)
    first = _push(client, gate, "gas-readings", _readings(("CH4-A", 40.0)))
    second = _push(client, gate, "gas-readings", _readings(("CH4-A", 45.0)))
    assert [s["number"] for s in first["suspended"]] == [hot.number] and second["suspended"] == []
    assert (
        len(
            _all(
                factory.session,
                sa.select(Event).where(Event.kind == "permit.suspend", Event.subject_id == str(hot.id)),
            )
        )
        == 1
    )


# --- HC-04, DC-02: positioning -----------------------------------------------------------------------


def _snapshot(area_code, *people, cards=(), delta=timedelta(0)):
    return {"snapshots": [{"area_code": area_code, "observed_at": iso(delta),
                           "card_ids": [card_of(p) for p in people] + list(cards)}]}  # fmt: skip


def test_HC04_guardian_and_crew_present_within_the_limit_is_fine(client, factory, plant):
    world, gate, _east = plant
    hot = at_work(factory, world)
    crew = (world.people["guardian"], world.people["worker"], world.people["work_leader"])
    answer = _push(client, gate, "positions", _snapshot(world.area.code, *crew))
    assert answer["suspended"] == [] and answer["accepted"] == 1
    assert _state(client, factory, world, hot) == "active"


def test_HC04_over_the_limit_on_the_positioning_feed_suspends(client, factory, plant):
    world, gate, _east = plant
    hot = at_work(factory, world)
    crew = (world.people["guardian"], world.people["worker"], world.people["work_leader"])
    answer = _push(client, gate, "positions", _snapshot(world.area.code, *crew, cards=["VISITOR-1"]))
    assert [(s["number"], s["rule"]) for s in answer["suspended"]] == [(hot.number, "HC-04")]
    [alarm] = _all(factory.session, sa.select(Alarm))
    assert (alarm.kind, alarm.rule, alarm.permit_id) == ("headcount_exceeded", "HC-04", hot.id)
    assert _state(client, factory, world, hot) == "suspended"


def test_HC04_guardian_absent_from_the_area_suspends(client, factory, plant):
    world, gate, _east = plant
    hot = at_work(factory, world)
    answer = _push(client, gate, "positions", _snapshot(world.area.code, world.people["worker"]))
    assert [s["rule"] for s in answer["suspended"]] == ["HC-04"]
    assert _all(factory.session, sa.select(Alarm.kind)) == ["guardian_absent"]
    assert _state(client, factory, world, hot) == "suspended"


def test_HC04_guardian_seen_in_another_area_suspends(client, factory, plant):
    world, gate, east = plant
    hot = at_work(factory, world)
    guardian, worker = world.people["guardian"], world.people["worker"]
    _push(
        client, gate, "positions", _snapshot(world.area.code, guardian, worker, delta=timedelta(minutes=-1))
    )
    answer = _push(client, gate, "card-sightings",
                   {"sightings": [{"card_id": card_of(guardian), "area_code": east.code, "seen_at": iso()}]})  # fmt: skip
    assert [(s["number"], s["rule"]) for s in answer["suspended"]] == [(hot.number, "HC-04")]
    assert _state(client, factory, world, hot) == "suspended"


def test_HC04_a_checked_in_worker_off_post_suspends(client, factory, plant):
    world, gate, east = plant
    hot = at_work(factory, world)
    guardian, worker = world.people["guardian"], world.people["worker"]
    checked_in = client.post(
        f"/api/v1/permits/{hot.id}/presence/check-ins",
        json={"person_id": str(worker.id)},
        headers=factory.headers(guardian),
    )
    assert checked_in.status_code == 201
    _push(client, gate, "positions", _snapshot(world.area.code, guardian, worker))
    answer = _push(client, gate, "card-sightings",
                   {"sightings": [{"card_id": card_of(worker), "area_code": east.code, "seen_at": iso()}]})  # fmt: skip
    assert [s["rule"] for s in answer["suspended"]] == ["HC-04"]
    assert _all(factory.session, sa.select(Alarm.kind)) == ["crew_off_post"]


def test_HC04_a_worker_not_checked_in_is_not_off_post(client, factory, plant):
    world, gate, east = plant
    hot = at_work(factory, world)
    guardian, worker = world.people["guardian"], world.people["worker"]
    _push(client, gate, "positions", _snapshot(world.area.code, guardian))
    answer = _push(client, gate, "card-sightings",
                   {"sightings": [{"card_id": card_of(worker), "area_code": east.code, "seen_at": iso()}]})  # fmt: skip
    assert answer["suspended"] == []
    assert _state(client, factory, world, hot) == "active"


def test_HC05_visitors_on_the_positioning_feed_count_too(client, factory, plant):
    world, gate, _east = plant
    at_work(factory, world)
    give_cards(factory, world.regulator)
    people = (world.people["guardian"], world.people["worker"], world.regulator)
    answer = _push(client, gate, "positions", _snapshot(world.area.code, *people, cards=["VISITOR-7"]))
    assert [s["rule"] for s in answer["suspended"]] == ["HC-04"]


def test_DC02_positions_from_before_the_work_started_do_not_suspend_it(client, factory, plant):
    world, gate, _east = plant
    hot = at_work(factory, world, activated_ago=timedelta(minutes=5))
    answer = _push(
        client,
        gate,
        "positions",
        _snapshot(world.area.code, world.people["worker"], delta=timedelta(minutes=-10)),
    )
    assert answer["suspended"] == []
    assert _state(client, factory, world, hot) == "active"


def test_DC02_positions_keep_the_positioning_feed_alive(client, factory, plant):
    world, gate, _east = plant
    _push(client, gate, "positions", _snapshot(world.area.code, delta=timedelta(seconds=-5)))
    feeds = {
        f["code"]: f
        for f in client.get("/api/v1/integrations/feeds", headers=gate.headers).get_json()["items"]
    }
    assert feeds["POS"]["last_data_at"] is not None and feeds["GDS"]["last_data_at"] is None


# --- plant alarms ------------------------------------------------------------------------------------


def _plant_alarm(area_code, kind):
    return {"alarms": [{"area_code": area_code, "kind": kind, "message": f"{kind} alarm", "raised_at": iso(),
                        "plant_alarm_id": "DCS-0815"}]}  # fmt: skip


def test_HW08_a_plant_gas_alarm_stops_gas_tested_work_in_its_area(client, factory, plant):
    world, gate, _east = plant
    hot = at_work(factory, world)
    height = at_work(factory, world, permit_type="height")
    answer = _push(client, gate, "alarms", _plant_alarm(world.area.code, "gas"))
    assert [(s["number"], s["rule"]) for s in answer["suspended"]] == [(hot.number, "HW-08")]
    assert _state(client, factory, world, height) == "active"
    [alarm] = _all(factory.session, sa.select(Alarm))
    assert alarm.source == "plant" and alarm.data["plant_alarm_id"] == "DCS-0815"


def test_G08_an_evacuation_alarm_stops_every_permit_in_its_area(client, factory, plant):
    world, gate, east = plant
    hot = at_work(factory, world)
    height = at_work(factory, world, permit_type="height")
    other = at_work(factory, world, area=east)
    answer = _push(client, gate, "alarms", _plant_alarm(world.area.code, "evacuation"))
    assert sorted(s["number"] for s in answer["suspended"]) == sorted([hot.number, height.number])
    assert _state(client, factory, world, other) == "active"


def test_an_equipment_alarm_is_recorded_only(client, factory, plant):
    world, gate, _east = plant
    hot = at_work(factory, world)
    answer = _push(client, gate, "alarms", _plant_alarm(world.area.code, "equipment"))
    assert answer["suspended"] == [] and len(answer["alarm_ids"]) == 1
    assert _state(client, factory, world, hot) == "active"


# --- alarms are listed to the enterprise and its regulators ------------------------------------------


def test_alarms_are_scoped_to_the_enterprise_and_its_regulators(client, factory, plant):
    world, gate, _east = plant
    hot = at_work(factory, world)
    alarm_id = _push(client, gate, "gas-readings", _readings(("CH4-A", 40.0)))["alarm_ids"][0]
    for who, visible in (
        (world.people["safety_dept"], True),
        (world.regulator, True),
        (world.city_regulator, True),
        (world.other_regulator, False),
        (world.other_people["safety_dept"], False),
    ):
        listed = client.get(f"/api/v1/alarms?permit_id={hot.id}", headers=factory.headers(who)).get_json()[
            "items"
        ]
        assert [a["id"] for a in listed] == ([alarm_id] if visible else [])
        one = client.get(f"/api/v1/alarms/{alarm_id}", headers=factory.headers(who))
        assert one.status_code == (200 if visible else 404)


# --- DC-03: silent feeds -----------------------------------------------------------------------------


def test_DC03_a_silent_feed_raises_one_alarm_per_relying_permit_once_per_silence(
    app, client, factory, plant, clock
):
    world, gate, _east = plant
    hot = at_work(factory, world)
    session = app.extensions["db_sessionmaker"]()

    def run():
        with app.app_context(), session.begin():
            return [(a.kind, a.rule, a.permit_id) for a in check_silent_feeds(session, clock.now())]

    assert run() == []  # registered just now: not silent yet
    clock.advance(timedelta(minutes=6))
    raised = run()
    assert raised == [("feed_silent", "DC-03", hot.id), ("feed_silent", "DC-03", hot.id)]  # GDS and POS
    assert run() == []  # once per silence
    _push(client, gate, "gas-readings", _readings(("CH4-A", 1.0)))
    clock.advance(timedelta(minutes=6))
    assert run() == [
        ("feed_silent", "DC-03", hot.id)
    ]  # the gas feed spoke and fell silent again; POS still silent
    session.close()


def test_DC03_no_alarm_when_nothing_relies_on_the_feed(app, factory, plant, clock):
    session = app.extensions["db_sessionmaker"]()
    clock.advance(timedelta(hours=1))
    with app.app_context(), session.begin():
        assert check_silent_feeds(session, clock.now()) == []
    session.close()
