"""Regulator views through the HTTP API: the report queue and the district overview, scoped to the region."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from permit_service.integrations.models import Alarm
from tests.api.test_jobs import act, add_permit, file_job, reported_job


def test_HR_03_queue_lists_reports_of_the_region_with_counts(client, factory, clock):
    world = factory.world()
    file_job(client, factory, world)  # a draft: never in the queue
    first = reported_job(client, factory, world)
    clock.advance(timedelta(minutes=1))
    second = reported_job(client, factory, world, kind="leak_plugging")
    clock.advance(timedelta(minutes=1))
    third = reported_job(client, factory, world, kind="water_draining")
    act(client, factory, world.regulator, third, "refuse", {"reason": "不具备条件"})
    other_world_job = reported_job(client, factory, _other_side(world))

    queue = client.get("/api/v1/regulator/reports", headers=factory.headers(world.regulator)).get_json()
    assert [j["id"] for j in queue["items"]] == [third["id"], second["id"], first["id"]]
    assert queue["counts"]["reported"] == 2
    assert queue["counts"]["refused"] == 1
    assert "draft" not in queue["counts"]
    assert queue["items"][0]["enterprise_name"] == world.enterprise.name

    pending = client.get(
        "/api/v1/regulator/reports?state=reported", headers=factory.headers(world.regulator)
    ).get_json()
    assert [j["id"] for j in pending["items"]] == [second["id"], first["id"]]
    assert pending["counts"]["refused"] == 1  # counts ignore the state filter, keep the others

    by_kind = client.get(
        "/api/v1/regulator/reports?kind=leak_plugging", headers=factory.headers(world.regulator)
    ).get_json()
    assert [j["id"] for j in by_kind["items"]] == [second["id"]]
    assert by_kind["counts"]["reported"] == 1

    city = client.get("/api/v1/regulator/reports", headers=factory.headers(world.city_regulator)).get_json()
    assert other_world_job["id"] in {j["id"] for j in city["items"]}
    assert city["counts"]["reported"] == 3
    narrowed = client.get(
        f"/api/v1/regulator/reports?enterprise_id={world.other_enterprise.id}",
        headers=factory.headers(world.city_regulator),
    ).get_json()
    assert [j["id"] for j in narrowed["items"]] == [other_world_job["id"]]


def test_HR_03_queue_pages_with_a_cursor(client, factory, clock):
    world = factory.world()
    ids = []
    for _ in range(3):
        ids.append(reported_job(client, factory, world)["id"])
        clock.advance(timedelta(seconds=1))
    headers = factory.headers(world.regulator)
    page = client.get("/api/v1/regulator/reports?limit=2", headers=headers).get_json()
    assert [j["id"] for j in page["items"]] == ids[:0:-1]
    rest = client.get(
        f"/api/v1/regulator/reports?limit=2&cursor={page['next_cursor']}", headers=headers
    ).get_json()
    assert [j["id"] for j in rest["items"]] == [ids[0]]
    assert rest["next_cursor"] is None


def test_HR_03_queue_of_another_district_is_empty(client, factory):
    world = factory.world()
    reported_job(client, factory, world)
    queue = client.get("/api/v1/regulator/reports", headers=factory.headers(world.other_regulator)).get_json()
    assert queue["items"] == []
    assert queue["counts"]["reported"] == 0


@pytest.mark.parametrize(
    "path", ["/api/v1/regulator/reports", "/api/v1/regulator/overview", "/api/v1/regulator/notifications"]
)
def test_regulator_views_are_for_regulators(client, factory, path):
    world = factory.world()
    assert client.get(path, headers=factory.headers(world.people["principal"])).status_code == 403


def test_overview_counts_match_the_data(client, factory, db_session):
    world = factory.world()
    other = world.other_enterprise
    second = factory.enterprise(world.district, name="甲化工有限公司", risk_grade="orange")
    factory.area(second)
    for state, permit_type, permit_grade in [
        ("active", "hot_work", "level1"),
        ("active", "hot_work", "level2"),
        ("active", "confined_space", None),
        ("suspended", "hot_work", "level1"),
        ("submitted", "confined_space", None),
        ("countersigned", "excavation", None),
        ("approved", "hot_work", "level2"),  # neither active, suspended nor pending
        ("closed", "hot_work", "special"),
        ("draft", "hot_work", "special"),
    ]:
        add_permit(db_session, world, state=state, type=permit_type, grade=permit_grade)
    add_permit(db_session, world, enterprise=other, state="active", type="hot_work", grade="special")
    reported_job(client, factory, world)
    reported_job(client, factory, world, kind="leak_plugging")
    file_job(client, factory, world)

    overview = client.get("/api/v1/regulator/overview", headers=factory.headers(world.regulator)).get_json()
    permits = overview["permits"]
    assert permits["totals"] == {"active": 3, "suspended": 1, "pending": 2}
    assert permits["by_enterprise"] == [
        {
            "enterprise_id": str(world.enterprise.id),
            "name": world.enterprise.name,
            "active": 3,
            "suspended": 1,
            "pending": 2,
        }
    ]
    assert permits["by_type"] == [
        {"type": "confined_space", "active": 1, "suspended": 0, "pending": 1},
        {"type": "excavation", "active": 0, "suspended": 0, "pending": 1},
        {"type": "hot_work", "active": 2, "suspended": 1, "pending": 0},
    ]
    assert permits["by_grade"] == [
        {"grade": None, "active": 1, "suspended": 0, "pending": 2},
        {"grade": "level1", "active": 1, "suspended": 1, "pending": 0},
        {"grade": "level2", "active": 1, "suspended": 0, "pending": 0},
    ]
    assert overview["reports"] == {"pending": 2, "pending_by_kind": {"leak_plugging": 1, "tank_cleaning": 1}}
    assert overview["enterprises_by_grade"] == {"red": 0, "orange": 1, "yellow": 0, "blue": 1}
    assert overview["alarms"] == {"open": 0, "last_24h": 0, "last_24h_by_kind": {}}

    city = client.get("/api/v1/regulator/overview", headers=factory.headers(world.city_regulator)).get_json()
    assert city["permits"]["totals"] == {"active": 4, "suspended": 1, "pending": 2}
    assert city["enterprises_by_grade"]["blue"] == 2
    narrowed = client.get(
        f"/api/v1/regulator/overview?region_id={world.other_district.id}",
        headers=factory.headers(world.city_regulator),
    ).get_json()
    assert narrowed["permits"]["totals"] == {"active": 1, "suspended": 0, "pending": 0}
    assert narrowed["permits"]["by_grade"] == [
        {"grade": "special", "active": 1, "suspended": 0, "pending": 0}
    ]
    assert narrowed["reports"]["pending"] == 0


def test_overview_of_a_region_outside_the_callers_is_404(client, factory):
    world = factory.world()
    resp = client.get(
        f"/api/v1/regulator/overview?region_id={world.other_district.id}",
        headers=factory.headers(world.regulator),
    )
    assert resp.status_code == 404


def _other_side(world):
    """The same world seen from the other district's enterprise (for filing there)."""
    return replace(world, enterprise=world.other_enterprise, area=world.other_area, people=world.other_people)


def test_overview_counts_open_and_recent_alarms_of_the_region(client, factory, db_session, clock):
    world = factory.world()
    stopped = add_permit(db_session, world, state="suspended", type="hot_work", grade="level1")
    resumed = add_permit(db_session, world, state="active", type="hot_work", grade="level1")
    foreign = add_permit(db_session, world, enterprise=world.other_enterprise, state="suspended")
    now = clock.now()
    for permit, kind, raised_at in [
        (stopped, "gas_breach", now - timedelta(hours=1)),
        (resumed, "gas_breach", now - timedelta(hours=2)),
        (None, "feed_silent", now - timedelta(minutes=5)),
        (stopped, "headcount", now - timedelta(days=2)),
        (foreign, "gas_breach", now),
    ]:
        db_session.add(
            Alarm(
                enterprise_id=permit.enterprise_id if permit else world.enterprise.id,
                permit_id=permit.id if permit else None,
                kind=kind,
                source="service",
                message_zh="报警",
                message_en="alarm",
                raised_at=raised_at,
                created_at=raised_at,
            )
        )
    db_session.commit()
    alarms = client.get("/api/v1/regulator/overview", headers=factory.headers(world.regulator)).get_json()[
        "alarms"
    ]
    assert alarms == {"open": 2, "last_24h": 3, "last_24h_by_kind": {"gas_breach": 2, "feed_silent": 1}}
    city = client.get("/api/v1/regulator/overview", headers=factory.headers(world.city_regulator)).get_json()[
        "alarms"
    ]
    assert city["open"] == 3
