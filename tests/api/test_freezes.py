"""Freezes through the HTTP API: declare, list, read, change before the start, cancel, check a window (FZ-01..04)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from permit_service.audit.models import Event

NATIONAL_DAY = {"starts_at": "2026-10-01T00:00:00+08:00", "ends_at": "2026-10-08T00:00:00+08:00"}
ALL_TYPES = [
    "blind_plate", "confined_space", "excavation", "height", "hot_work", "lifting", "road_closure", "temporary_power",
]  # fmt: skip


def freeze_body(region: Any, **overrides: Any) -> dict[str, Any]:
    """A National Day freeze of hot work and confined space for `region`."""
    return {
        "region_id": str(region.id),
        **NATIONAL_DAY,
        "reason": "国庆节假期",
        "types": ["hot_work", "confined_space"],
        "mode": "strict",
        **overrides,
    }


def declare(client: Any, factory: Any, who: Any, region: Any, **overrides: Any) -> Any:
    """POST a freeze as `who`."""
    return client.post("/api/v1/freezes", json=freeze_body(region, **overrides), headers=factory.headers(who))


def declared(client: Any, factory: Any, who: Any, region: Any, **overrides: Any) -> dict[str, Any]:
    """A declared freeze (asserting the declaration worked)."""
    resp = declare(client, factory, who, region, **overrides)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def check(
    client: Any, factory: Any, who: Any, area: Any, permit_type: str, valid_from: str, valid_until: str
) -> Any:
    """GET /freezes/check for a permit window."""
    return client.get(
        "/api/v1/freezes/check",
        query_string={
            "area_id": str(area.id),
            "type": permit_type,
            "valid_from": valid_from,
            "valid_until": valid_until,
        },
        headers=factory.headers(who),
    )


def events(db_session: Any, subject_id: Any) -> list[str]:
    """Event kinds about a subject, oldest first."""
    kinds = list(
        db_session.scalars(
            sa.select(Event.kind).where(Event.subject_id == str(subject_id)).order_by(Event.id)
        )
    )
    db_session.commit()  # SQLite: release the write lock the app's requests need
    return kinds


# --- declaring ------------------------------------------------------------------------------------


def test_FZ_01_district_regulator_declares_a_freeze_for_its_district(client, factory, db_session):
    world = factory.world()
    resp = declare(client, factory, world.regulator, world.district)
    assert resp.status_code == 201
    body = resp.get_json()
    assert resp.headers["ETag"] == '"1"'
    assert resp.headers["Location"] == f"/api/v1/freezes/{body['id']}"
    assert body["state"] == "declared"
    assert body["mode"] == "strict"
    assert body["types"] == ["confined_space", "hot_work"]
    assert body["starts_at"] == "2026-10-01T00:00:00+08:00"
    assert body["ends_at"] == "2026-10-08T00:00:00+08:00"
    assert body["created_by"] == str(world.regulator.id)
    assert body["declared_at"] == "2026-06-10T10:00:00+08:00"
    assert body["applied_at"] is None
    assert events(db_session, body["id"]) == ["freeze.declared"]
    event = db_session.scalar(sa.select(Event).where(Event.subject_id == body["id"]))
    assert event.region_id == world.district.id
    assert event.actor_id == str(world.regulator.id)
    db_session.commit()


def test_FZ_01_city_regulator_declares_for_the_city_and_for_any_district(client, factory):
    world = factory.world()
    assert declare(client, factory, world.city_regulator, world.city).status_code == 201
    assert declare(client, factory, world.city_regulator, world.other_district).status_code == 201


@pytest.mark.parametrize("region", ["city", "other_district"])
def test_FZ_01_district_regulator_declares_only_for_its_own_district(client, factory, region):
    world = factory.world()
    resp = declare(client, factory, world.regulator, getattr(world, region))
    assert resp.status_code == 403
    assert resp.content_type == "application/problem+json"
    assert resp.get_json()["rule"] == "FZ-01"


@pytest.mark.parametrize("role", ["enterprise_admin", "principal", "safety_dept"])
def test_FZ_01_enterprise_staff_cannot_declare(client, factory, role):
    world = factory.world()
    assert declare(client, factory, world.people[role], world.district).status_code == 403


def test_FZ_01_a_plant_portal_cannot_declare(client, factory):
    world = factory.world()
    portal = factory.integration_client(world.enterprise)
    assert declare(client, factory, portal, world.district).status_code == 403


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"types": ["hot_work", "juggling"]}, "types.1"),
        ({"types": []}, "types"),
        ({"mode": "lenient"}, "mode"),
        ({"ends_at": "2026-09-30T00:00:00+08:00"}, "ends_at"),
        ({"starts_at": "2026-10-01T00:00:00"}, "starts_at"),
        ({"reason": ""}, "reason"),
        ({"state": "declared"}, "state"),
        ({"starts_at": "2026-06-01T00:00:00+08:00", "ends_at": "2026-06-02T00:00:00+08:00"}, "ends_at"),
    ],
)
def test_a_bad_freeze_is_refused_field_by_field(client, factory, overrides, field):
    world = factory.world()
    resp = declare(client, factory, world.regulator, world.district, **overrides)
    assert resp.status_code == 422
    assert field in resp.get_json()["errors"]


def test_an_unknown_region_is_a_validation_error(client, factory):
    world = factory.world()
    body = freeze_body(world.district, region_id="00000000-0000-0000-0000-000000000000")
    resp = client.post("/api/v1/freezes", json=body, headers=factory.headers(world.city_regulator))
    assert resp.status_code == 422
    assert "region_id" in resp.get_json()["errors"]


def test_declaring_twice_with_one_idempotency_key_creates_one_freeze(client, factory):
    world = factory.world()
    headers = factory.headers(world.regulator, **{"Idempotency-Key": "national-day-2026"})
    first = client.post("/api/v1/freezes", json=freeze_body(world.district), headers=headers)
    again = client.post("/api/v1/freezes", json=freeze_body(world.district), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    listed = client.get("/api/v1/freezes", headers=factory.headers(world.regulator)).get_json()["items"]
    assert len(listed) == 1


# --- reading --------------------------------------------------------------------------------------


def test_freezes_are_seen_by_the_regions_they_cover(client, factory):
    world = factory.world()
    city = declared(client, factory, world.city_regulator, world.city, reason="城市重大活动")
    own = declared(client, factory, world.regulator, world.district)
    other = declared(client, factory, world.other_regulator, world.other_district)

    def ids(who: Any) -> set[str]:
        resp = client.get("/api/v1/freezes", headers=factory.headers(who))
        assert resp.status_code == 200
        return {f["id"] for f in resp.get_json()["items"]}

    assert ids(world.city_regulator) == {city["id"], own["id"], other["id"]}
    assert ids(world.regulator) == {city["id"], own["id"]}
    assert ids(world.people["applicant"]) == {city["id"], own["id"]}
    assert ids(world.other_people["applicant"]) == {city["id"], other["id"]}
    assert ids(factory.integration_client(world.enterprise)) == {city["id"], own["id"]}


def test_another_districts_freeze_answers_404(client, factory):
    world = factory.world()
    freeze = declared(client, factory, world.regulator, world.district)
    url = f"/api/v1/freezes/{freeze['id']}"
    assert client.get(url, headers=factory.headers(world.regulator)).status_code == 200
    assert client.get(url, headers=factory.headers(world.people["applicant"])).status_code == 200
    for stranger in (world.other_regulator, world.other_people["applicant"]):
        resp = client.get(url, headers=factory.headers(stranger))
        assert resp.status_code == 404
        assert resp.content_type == "application/problem+json"
    patch = client.patch(
        url, json={"reason": "x"}, headers=factory.headers(world.other_regulator, **{"If-Match": '"1"'})
    )
    assert patch.status_code == 404
    cancel = client.post(
        f"{url}/cancel", json={"reason": "x"}, headers=factory.headers(world.other_regulator)
    )
    assert cancel.status_code == 404


def test_the_list_filters_by_region_time_type_and_state_and_pages(client, factory, clock):
    world = factory.world()
    national = declared(client, factory, world.city_regulator, world.city, types=["hot_work"])
    clock.advance(timedelta(minutes=1))
    event = declared(
        client,
        factory,
        world.city_regulator,
        world.district,
        starts_at="2026-07-01T08:00:00+08:00",
        ends_at="2026-07-03T20:00:00+08:00",
        types=["lifting", "height"],
        reason="重大活动保障",
    )
    headers = factory.headers(world.city_regulator)

    def listed(**query: str) -> list[str]:
        resp = client.get("/api/v1/freezes", query_string=query, headers=headers)
        assert resp.status_code == 200, resp.get_json()
        return [f["id"] for f in resp.get_json()["items"]]

    assert listed() == [event["id"], national["id"]]  # newest first
    assert listed(region_id=str(world.district.id)) == [event["id"]]
    assert listed(active_at="2026-10-07T23:59:59+08:00") == [national["id"]]
    assert listed(active_at="2026-10-08T00:00:00+08:00") == []
    assert listed(active_at="2026-07-02T12:00:00+08:00") == [event["id"]]
    assert listed(type="hot_work") == [national["id"]]
    assert listed(type="height") == [event["id"]]
    assert listed(type="confined_space") == []
    assert listed(state="declared") == [event["id"], national["id"]]
    assert listed(state="cancelled") == []
    page = client.get("/api/v1/freezes?limit=1", headers=headers).get_json()
    assert [f["id"] for f in page["items"]] == [event["id"]]
    rest = client.get(f"/api/v1/freezes?limit=1&cursor={page['next_cursor']}", headers=headers).get_json()
    assert [f["id"] for f in rest["items"]] == [national["id"]]
    assert rest["next_cursor"] is None
    assert client.get("/api/v1/freezes?type=juggling", headers=headers).status_code == 422


# --- changing and cancelling ----------------------------------------------------------------------


def test_FZ_01_a_freeze_changes_before_its_start_with_if_match(client, factory, db_session):
    world = factory.world()
    freeze = declared(client, factory, world.regulator, world.district)
    url = f"/api/v1/freezes/{freeze['id']}"
    change = {
        "mode": "upgrade",
        "types": ["hot_work", "lifting", "hot_work"],
        "ends_at": "2026-10-09T00:00:00+08:00",
    }
    assert client.patch(url, json=change, headers=factory.headers(world.regulator)).status_code == 428
    stale = client.patch(url, json=change, headers=factory.headers(world.regulator, **{"If-Match": '"7"'}))
    assert stale.status_code == 412
    resp = client.patch(url, json=change, headers=factory.headers(world.regulator, **{"If-Match": '"1"'}))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert resp.headers["ETag"] == '"2"'
    assert (body["mode"], body["types"], body["ends_at"]) == (
        "upgrade",
        ["hot_work", "lifting"],
        change["ends_at"],
    )
    assert events(db_session, freeze["id"]) == ["freeze.declared", "freeze.changed"]
    bad = client.patch(
        url,
        json={"ends_at": "2026-09-01T00:00:00+08:00"},
        headers=factory.headers(world.regulator, **{"If-Match": '"2"'}),
    )
    assert bad.status_code == 422


def test_cancel_checks_an_optional_if_match_and_a_strangers_tag_still_answers_404(client, factory):
    world = factory.world()
    freeze = declared(client, factory, world.regulator, world.district)
    url = f"/api/v1/freezes/{freeze['id']}/cancel"
    for tag in ('"7"', "not-a-tag"):
        stale = client.post(
            url, json={"reason": "x"}, headers=factory.headers(world.regulator, **{"If-Match": tag})
        )
        assert stale.status_code == 412, stale.get_json()
        assert stale.content_type == "application/problem+json"
    stranger = client.post(
        url, json={"reason": "x"}, headers=factory.headers(world.other_regulator, **{"If-Match": '"7"'})
    )
    assert stranger.status_code == 404  # not yours: no hint that it exists, whatever the tag
    resp = client.post(
        url, json={"reason": "活动取消"}, headers=factory.headers(world.regulator, **{"If-Match": '"1"'})
    )
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["state"], resp.headers["ETag"]) == ("cancelled", '"2"')


def test_FZ_03_a_started_freeze_cannot_be_changed_only_cancelled(client, factory, clock, db_session):
    world = factory.world()
    freeze = declared(
        client,
        factory,
        world.regulator,
        world.district,
        starts_at="2026-06-10T12:00:00+08:00",
        ends_at="2026-06-11T00:00:00+08:00",
        reason="重大活动保障",
    )
    url = f"/api/v1/freezes/{freeze['id']}"
    clock.advance(timedelta(hours=2))  # 12:00 Asia/Shanghai: the first second of the freeze
    resp = client.patch(
        url, json={"mode": "upgrade"}, headers=factory.headers(world.regulator, **{"If-Match": '"1"'})
    )
    assert resp.status_code == 409
    assert resp.get_json()["rule"] == "FZ-03"
    cancel = client.post(
        f"{url}/cancel", json={"reason": "活动提前结束"}, headers=factory.headers(world.regulator)
    )
    assert cancel.status_code == 200
    body = cancel.get_json()
    assert (body["state"], body["cancel_reason"], body["cancelled_by"]) == (
        "cancelled",
        "活动提前结束",
        str(world.regulator.id),
    )
    again = client.post(
        f"{url}/cancel", json={"reason": "再次取消"}, headers=factory.headers(world.regulator)
    )
    assert again.status_code == 409
    assert again.get_json()["rule"] == "FZ-01"
    assert events(db_session, freeze["id"]) == ["freeze.declared", "freeze.cancelled"]


def test_an_ended_freeze_cannot_be_cancelled(client, factory, clock):
    world = factory.world()
    freeze = declared(
        client, factory, world.regulator, world.district,
        starts_at="2026-06-10T12:00:00+08:00", ends_at="2026-06-10T18:00:00+08:00",
    )  # fmt: skip
    clock.advance(timedelta(hours=8))  # 18:00: the end is exclusive, the freeze is over
    resp = client.post(
        f"/api/v1/freezes/{freeze['id']}/cancel",
        json={"reason": "x"},
        headers=factory.headers(world.regulator),
    )
    assert resp.status_code == 409


def test_a_district_regulator_sees_but_does_not_change_the_citys_freeze(client, factory):
    world = factory.world()
    freeze = declared(client, factory, world.city_regulator, world.city)
    url = f"/api/v1/freezes/{freeze['id']}"
    assert client.get(url, headers=factory.headers(world.regulator)).status_code == 200
    resp = client.patch(
        url, json={"mode": "upgrade"}, headers=factory.headers(world.regulator, **{"If-Match": '"1"'})
    )
    assert resp.status_code == 403
    assert resp.get_json()["rule"] == "FZ-01"
    moved = client.patch(
        url,
        json={"region_id": str(world.district.id)},
        headers=factory.headers(world.city_regulator, **{"If-Match": '"1"'}),
    )
    assert moved.status_code == 200
    assert moved.get_json()["region_id"] == str(world.district.id)


def test_enterprise_staff_cannot_change_or_cancel(client, factory):
    world = factory.world()
    freeze = declared(client, factory, world.regulator, world.district)
    url = f"/api/v1/freezes/{freeze['id']}"
    headers = factory.headers(world.people["enterprise_admin"], **{"If-Match": '"1"'})
    assert client.patch(url, json={"mode": "upgrade"}, headers=headers).status_code == 403
    assert client.post(f"{url}/cancel", json={"reason": "x"}, headers=headers).status_code == 403


# --- checking a permit window (FZ-02, FZ-04) -------------------------------------------------------


def test_FZ_02_a_strict_freeze_refuses_the_window(client, factory):
    world = factory.world()
    freeze = declared(client, factory, world.regulator, world.district)
    resp = check(
        client, factory, world.people["applicant"], world.area, "hot_work",
        "2026-10-02T08:00:00+08:00", "2026-10-02T16:00:00+08:00",
    )  # fmt: skip
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["frozen"] is True
    assert body["mode"] == "strict"
    assert [f["id"] for f in body["freezes"]] == [freeze["id"]]
    assert [r["rule"] for r in body["requirements"]] == ["FZ-02"]
    assert body["message_en"].startswith("this window is frozen")


@pytest.mark.parametrize(
    ("permit_type", "rules"),
    [("hot_work", ["HR-01", "HR-02", "HW-03"]), ("confined_space", ["HR-01", "HR-02"])],
)
def test_FZ_02_an_upgrade_freeze_asks_for_consent_principal_and_a_grade_up_for_hot_work(
    client, factory, permit_type, rules
):
    world = factory.world()
    declared(client, factory, world.city_regulator, world.city, mode="upgrade")
    portal = factory.integration_client(world.enterprise)
    body = check(
        client,
        factory,
        portal,
        world.area,
        permit_type,
        "2026-10-02T08:00:00+08:00",
        "2026-10-02T16:00:00+08:00",
    ).get_json()
    assert (body["frozen"], body["mode"]) == (True, "upgrade")
    assert [r["rule"] for r in body["requirements"]] == rules


def test_strict_wins_over_upgrade_when_both_cover_the_window(client, factory):
    world = factory.world()
    declared(client, factory, world.city_regulator, world.city, mode="upgrade")
    declared(client, factory, world.regulator, world.district, mode="strict", reason="区级重大活动")
    body = check(
        client, factory, world.people["applicant"], world.area, "hot_work",
        "2026-10-02T08:00:00+08:00", "2026-10-02T16:00:00+08:00",
    ).get_json()  # fmt: skip
    assert body["mode"] == "strict"
    assert len(body["freezes"]) == 2


def test_a_window_is_not_frozen_for_other_types_regions_or_cancelled_freezes(client, factory):
    world = factory.world()
    declared(client, factory, world.other_regulator, world.other_district)
    own = declared(client, factory, world.regulator, world.district, types=["lifting"])
    window = ("2026-10-02T08:00:00+08:00", "2026-10-02T16:00:00+08:00")
    applicant = world.people["applicant"]
    assert check(client, factory, applicant, world.area, "hot_work", *window).get_json()["frozen"] is False
    assert check(client, factory, applicant, world.area, "lifting", *window).get_json()["frozen"] is True
    client.post(
        f"/api/v1/freezes/{own['id']}/cancel",
        json={"reason": "撤销"},
        headers=factory.headers(world.regulator),
    )
    body = check(client, factory, applicant, world.area, "lifting", *window).get_json()
    assert (body["frozen"], body["mode"], body["requirements"]) == (False, None, [])


def test_checking_another_enterprises_area_answers_404(client, factory):
    world = factory.world()
    resp = check(
        client, factory, world.people["applicant"], world.other_area, "hot_work",
        "2026-10-02T08:00:00+08:00", "2026-10-02T16:00:00+08:00",
    )  # fmt: skip
    assert resp.status_code == 404
    regulator = check(
        client,
        factory,
        world.regulator,
        world.area,
        "hot_work",
        "2026-10-02T08:00:00+08:00",
        "2026-10-02T16:00:00+08:00",
    )
    assert regulator.status_code == 200


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "frozen"),
    [
        # 23:59:59 Asia/Shanghai the evening before: touches nothing.
        ("2026-09-30T16:00:00+08:00", "2026-09-30T23:59:59+08:00", False),
        # Ends exactly at the freeze's first instant: touching is not overlapping.
        ("2026-09-30T16:00:00+08:00", "2026-10-01T00:00:00+08:00", False),
        # One second into the freeze: overlapping.
        ("2026-09-30T16:00:00+08:00", "2026-10-01T00:00:01+08:00", True),
        # Starts in the freeze's last second (23:59:59 on 10-07): overlapping.
        ("2026-10-07T23:59:59+08:00", "2026-10-08T08:00:00+08:00", True),
        # Starts exactly at the (exclusive) end: touching only.
        ("2026-10-08T00:00:00+08:00", "2026-10-08T08:00:00+08:00", False),
        # The same instants written in UTC.
        ("2026-09-30T15:59:59Z", "2026-09-30T16:00:01Z", True),
        ("2026-09-30T08:00:00Z", "2026-09-30T16:00:00Z", False),
    ],
)
def test_FZ_04_a_permit_window_overlapping_a_freeze_is_in_it(
    client, factory, valid_from, valid_until, frozen
):
    world = factory.world()
    declared(client, factory, world.regulator, world.district)
    resp = check(client, factory, world.people["applicant"], world.area, "hot_work", valid_from, valid_until)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["frozen"] is frozen


def test_the_check_refuses_a_reversed_window(client, factory):
    world = factory.world()
    resp = check(
        client, factory, world.people["applicant"], world.area, "hot_work",
        "2026-10-02T16:00:00+08:00", "2026-10-02T08:00:00+08:00",
    )  # fmt: skip
    assert resp.status_code == 422
    assert "valid_until" in resp.get_json()["errors"]
