"""Holiday proposals and the regulators' calendar corrections through the HTTP API (FZ-04, HW-03)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.calendar import get_calendar
from permit_service.freezes.models import Freeze
from permit_service.scheduling.jobs import run_holiday_proposals
from tests.api.test_freezes import ALL_TYPES, check, events


def propose(app, now=datetime(2026, 6, 10, 2, 0, tzinfo=UTC), years=(2026,)):
    """Run the holiday proposal job as the scheduler would."""
    with app.app_context():
        return run_holiday_proposals(app.extensions["db_sessionmaker"], now, years=years)


def test_FZ_04_the_holidays_still_ahead_are_proposed_city_wide_once(app, client, factory, db_session):
    world = factory.world()
    report = propose(app)
    assert report.done == 3  # Dragon Boat, Mid-autumn, National Day: the rest of 2026 is over on 06-10
    assert propose(app).done == 0  # idempotent
    rows = db_session.scalars(sa.select(Freeze).order_by(Freeze.starts_at)).all()
    db_session.commit()
    assert [(f.reason, f.state, f.mode, f.source, f.region_id) for f in rows] == [
        ("端午假期 / Dragon Boat Festival holiday", "proposed", "upgrade", "holiday_calendar", world.city.id),
        ("中秋假期 / Mid-autumn Festival holiday", "proposed", "upgrade", "holiday_calendar", world.city.id),
        ("国庆节假期 / National Day holiday", "proposed", "upgrade", "holiday_calendar", world.city.id),
    ]
    assert all(f.types == ALL_TYPES for f in rows)
    national = rows[-1]
    assert national.starts_at == datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
    assert national.ends_at == datetime(2026, 10, 7, 16, 0, tzinfo=UTC)
    assert events(db_session, national.id) == ["freeze.proposed"]
    actor = db_session.scalar(sa.select(Event.actor_id).where(Event.subject_id == str(national.id)))
    db_session.commit()
    assert actor == "system"


def test_FZ_04_a_proposal_binds_nobody_until_a_regulator_declares_it(app, client, factory, db_session):
    world = factory.world()
    propose(app)
    national = db_session.scalar(sa.select(Freeze).where(Freeze.reason.like("国庆%")))
    db_session.commit()
    url = f"/api/v1/freezes/{national.id}"
    window = ("2026-10-02T08:00:00+08:00", "2026-10-02T16:00:00+08:00")
    applicant = world.people["applicant"]
    assert client.get(url, headers=factory.headers(applicant)).status_code == 404
    assert check(client, factory, applicant, world.area, "hot_work", *window).get_json()["frozen"] is False
    assert client.get(url, headers=factory.headers(world.regulator)).get_json()["state"] == "proposed"
    # The district regulator may not declare the city's freeze; the city regulator edits and declares it.
    assert client.post(f"{url}/declare", headers=factory.headers(world.regulator)).status_code == 403
    city = factory.headers(world.city_regulator, **{"If-Match": '"1"'})
    edited = client.patch(url, json={"mode": "strict", "reason": "国庆节假期 一律暂停"}, headers=city)
    assert edited.status_code == 200, edited.get_json()
    stale = client.post(f"{url}/declare", headers=city)
    assert stale.status_code == 412
    resp = client.post(f"{url}/declare", headers=factory.headers(world.city_regulator, **{"If-Match": '"2"'}))
    assert resp.status_code == 200
    assert (resp.get_json()["state"], resp.get_json()["declared_by"]) == (
        "declared",
        str(world.city_regulator.id),
    )
    assert client.post(f"{url}/declare", headers=factory.headers(world.city_regulator)).status_code == 409
    body = check(client, factory, applicant, world.area, "hot_work", *window).get_json()
    assert (body["frozen"], body["mode"]) == (True, "strict")
    assert events(db_session, national.id) == ["freeze.proposed", "freeze.changed", "freeze.declared"]
    # A cancelled proposal is never proposed again.
    assert propose(app).done == 0


def test_FZ_04_a_year_no_package_publishes_is_proposed_from_its_computed_holidays_marked_provisional(
    app, factory, db_session
):
    factory.world()
    assert propose(app, years=(2035,)).done == 7
    rows = db_session.scalars(sa.select(Freeze).order_by(Freeze.starts_at)).all()
    db_session.commit()
    assert all(f.provisional for f in rows)
    spring = rows[1]
    assert spring.reason == "春节假期（推算，待确认）/ Spring Festival holiday (provisional)"
    assert (spring.starts_at, spring.ends_at) == (
        datetime(2035, 2, 6, 16, 0, tzinfo=UTC),
        datetime(2035, 2, 12, 16, 0, tzinfo=UTC),
    )


def test_FZ_04_the_holidays_of_a_year_are_listed_with_their_source(client, factory):
    world = factory.world()
    resp = client.get(
        "/api/v1/calendar/holidays?year=2026", headers=factory.headers(world.people["applicant"])
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["source"], body["calendar_notice"]) == ("official", None)
    assert "2026-09-20" in body["workdays"]  # a Sunday worked (调休上班)
    assert body["items"][-1] == {
        "first": "2026-10-01",
        "last": "2026-10-07",
        "name_zh": "国庆节",
        "name_en": "National Day",
        "provisional": False,
    }
    far = client.get(
        "/api/v1/calendar/holidays?year=2099", headers=factory.headers(world.regulator)
    ).get_json()
    assert (far["source"], far["workdays"]) == ("provisional", [])
    assert "春节" in {item["name_zh"] for item in far["items"]}
    assert all(item["provisional"] for item in far["items"])
    assert far["calendar_notice"]["years"] == [2099]
    assert len(far["calendar_notice"]["days"]) == 365
    assert "2099-01-01..2099-12-31 is provisional" in far["calendar_notice"]["message_en"]


def test_FZ_04_a_window_in_a_provisional_year_is_answered_with_a_notice(client, factory):
    world = factory.world()
    who = world.people["applicant"]
    answer = check(
        client, factory, who, world.area, "hot_work", "2099-12-31T20:00:00+08:00", "2100-01-01T04:00:00+08:00"
    ).get_json()
    assert answer["frozen"] is False
    notice = answer["calendar_notice"]
    assert (notice["years"], notice["days"]) == ([2099, 2100], ["2099-12-31", "2100-01-01"])
    assert "no make-up working days" in notice["message_en"]
    official = check(
        client, factory, who, world.area, "hot_work", "2026-06-10T10:00:00+08:00", "2026-06-10T16:00:00+08:00"
    ).get_json()
    assert official["calendar_notice"] is None


def test_FZ_04_a_window_ending_at_midnight_does_not_reach_into_the_next_year(client, factory):
    world = factory.world()
    who = world.people["applicant"]
    # The window is [from, until): ending at 2027-01-01 00:00 it has no minute in 2027, a provisional year.
    to_midnight = check(
        client, factory, who, world.area, "hot_work", "2026-12-31T08:00:00+08:00", "2027-01-01T00:00:00+08:00"
    ).get_json()
    assert to_midnight["calendar_notice"] is None
    past_midnight = check(
        client, factory, who, world.area, "hot_work", "2026-12-31T08:00:00+08:00", "2027-01-01T00:01:00+08:00"
    ).get_json()
    assert past_midnight["calendar_notice"]["days"] == ["2027-01-01"]


def test_FZ_04_regulators_correct_the_calendar_for_their_region(app, client, factory, db_session):
    world = factory.world()
    city_day = "/api/v1/calendar/overrides/{region}/{day}"
    city = factory.headers(world.city_regulator)
    district = factory.headers(world.regulator)
    # The city makes 2026-06-12 (a Friday) a rest day; the district keeps working that day.
    resp = client.put(
        city_day.format(region=world.city.id, day="2026-06-12"),
        json={"rest_day": True, "note": "市级活动"},
        headers=city,
    )
    assert resp.status_code == 201
    resp = client.put(
        city_day.format(region=world.district.id, day="2026-06-12"),
        json={"rest_day": False, "note": "区内照常"},
        headers=district,
    )
    assert resp.status_code == 201
    again = client.put(
        city_day.format(region=world.district.id, day="2026-06-12"),
        json={"rest_day": False, "note": "区内照常上班"},
        headers=district,
    )
    assert again.status_code == 200
    assert again.get_json()["note"] == "区内照常上班"
    with app.app_context():
        assert get_calendar(db_session, world.district.id).is_rest_day(date(2026, 6, 12)) is False
        assert get_calendar(db_session, world.other_district.id).is_rest_day(date(2026, 6, 12)) is True
        assert get_calendar(db_session, world.city.id).is_rest_day(date(2026, 6, 12)) is True
        assert get_calendar(db_session, world.district.id).is_rest_day(date(2026, 6, 13)) is True
    db_session.commit()
    listed = client.get(
        "/api/v1/calendar/overrides?year=2026", headers=factory.headers(world.people["applicant"])
    )
    assert {(o["region_id"], o["rest_day"]) for o in listed.get_json()["items"]} == {
        (str(world.city.id), True),
        (str(world.district.id), False),
    }
    other = client.get("/api/v1/calendar/overrides", headers=factory.headers(world.other_people["applicant"]))
    assert [o["region_id"] for o in other.get_json()["items"]] == [str(world.city.id)]
    # Another district's regulator cannot touch this district's corrections; enterprises cannot at all.
    foreign = city_day.format(region=world.district.id, day="2026-06-12")
    assert (
        client.put(
            foreign, json={"rest_day": True}, headers=factory.headers(world.other_regulator)
        ).status_code
        == 403
    )
    assert client.delete(foreign, headers=factory.headers(world.other_regulator)).status_code == 404
    assert (
        client.put(
            foreign, json={"rest_day": True}, headers=factory.headers(world.people["enterprise_admin"])
        ).status_code
        == 403
    )
    assert (
        client.put(
            city_day.format(region=world.district.id, day="2026-13-01"),
            json={"rest_day": True},
            headers=district,
        ).status_code
        == 422
    )
    assert client.delete(foreign, headers=district).status_code == 204
    with app.app_context():
        assert get_calendar(db_session, world.district.id).is_rest_day(date(2026, 6, 12)) is True
    kinds = list(
        db_session.scalars(sa.select(Event.kind).where(Event.kind.like("calendar.%")).order_by(Event.id))
    )
    db_session.commit()
    assert kinds == ["calendar.override_set"] * 3 + ["calendar.override_removed"]
