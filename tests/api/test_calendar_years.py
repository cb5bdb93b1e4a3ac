"""2027 and every year after: provisional years said on permits, the city's regulator confirming the State
Council's notice, and the freezes proposed 90 days ahead (FZ-04, HW-03)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.freezes.models import CalendarOverride, CalendarYear, Freeze
from permit_service.scheduling.jobs import run_holiday_proposals
from tests.api.checks import assert_problem
from tests.api.permit_flows import PermitFlow

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
YEAR_2027 = "/api/v1/calendar/years/2027"
# The 2027 notice as a regulator would enter it; it differs from the computed year on purpose: the Spring
# Festival break starts a day later and Saturday 2027-02-20 is worked (调休上班).
NOTICE_2027 = {
    "notice": "国办发明电〔2026〕1号",
    "periods": [
        {"name_zh": "元旦", "first": "2027-01-01", "last": "2027-01-03"},
        {"name_zh": "春节", "first": "2027-02-06", "last": "2027-02-12"},
        {"name_zh": "清明节", "first": "2027-04-03", "last": "2027-04-05"},
        {"name_zh": "劳动节", "first": "2027-05-01", "last": "2027-05-05"},
        {"name_zh": "端午节", "first": "2027-06-09", "last": "2027-06-11"},
        {"name_zh": "中秋节", "first": "2027-09-15", "last": "2027-09-17"},
        {"name_zh": "国庆节", "first": "2027-10-01", "last": "2027-10-07"},
    ],
    "workdays": ["2027-02-20", "2027-05-08", "2027-09-26", "2027-10-09"],
}


@pytest.fixture
def flow(client, factory, clock):
    clock.set(TODAY)
    return PermitFlow(client, factory, factory.world())


def window(day: str, start: int, hours: int = 6) -> dict[str, str]:
    begin = datetime.fromisoformat(day).replace(hour=start, tzinfo=SHANGHAI)
    return {"valid_from": begin.isoformat(), "valid_until": (begin + timedelta(hours=hours)).isoformat()}


def hot_work(flow: PermitFlow, day: str, start: int, hours: int = 6) -> dict:
    """A level-1 hot-work permit (before any upgrade) filed and submitted for the window."""
    return flow.another().file("hot_work", **window(day, start, hours)).submit().permit


def confirm(flow: PermitFlow, body: dict, *, by: str = "city_regulator", preview: bool = False):
    who = getattr(flow.world, by)
    url = f"{YEAR_2027}/preview" if preview else YEAR_2027
    send = flow.client.post if preview else flow.client.put
    return send(url, json=body, headers=flow.factory.headers(who))


def holidays_2027(flow: PermitFlow) -> dict:
    return flow.client.get(
        "/api/v1/calendar/holidays?year=2027", headers=flow.headers("applicant")
    ).get_json()


@pytest.mark.parametrize(
    ("day", "start"),
    [("2027-01-01", 20), ("2027-02-08", 20)],
    ids=["new-year-night", "spring-festival-night"],
)
def test_HW_03_night_hot_work_on_a_2027_holiday_is_upgraded_and_says_its_calendar_is_provisional(
    flow, day, start
):
    permit = hot_work(flow, day, start)
    assert permit["grade"] == "special"
    notice = permit["calendar_notice"]
    assert notice["days"] == [day, (datetime.fromisoformat(day) + timedelta(days=1)).date().isoformat()]
    assert notice["years"] == [2027]
    assert "provisional" in notice["message_en"] and "推算" in notice["message_zh"]
    assert day in notice["message_en"]


def test_HW_03_daytime_hot_work_on_a_computed_2027_holiday_is_upgraded_by_the_holiday_alone(flow):
    assert hot_work(flow, "2027-02-08", 9)["grade"] == "special"  # 春节, a Monday
    assert hot_work(flow, "2027-01-01", 9)["grade"] == "special"  # 元旦, a Friday
    workday = hot_work(flow, "2027-03-03", 9)  # a plain Wednesday
    assert workday["grade"] == "level1"
    assert workday["calendar_notice"]["days"] == ["2027-03-03"]  # its work day is computed too


def test_HW_03_a_2026_make_up_working_day_is_not_a_rest_day_and_needs_no_notice(flow, clock):
    clock.set(datetime(2026, 9, 1, tzinfo=UTC))
    permit = hot_work(flow, "2026-09-20", 9)  # a Sunday worked (调休上班), from the official calendar
    assert (permit["grade"], permit["calendar_notice"]) == ("level1", None)


def test_FZ_04_HW_03_the_city_confirms_2027_in_one_step_and_the_notice_is_gone(flow, factory, db_session):
    filed = flow.another().file("hot_work", **window("2027-02-20", 9)).submit()  # a computed plain Saturday
    before = filed.permit
    assert before["grade"] == "special"
    assert before["calendar_notice"]["days"] == ["2027-02-20"]
    # Another district's correction of the same region level never reaches this district.
    other = flow.client.put(
        f"/api/v1/calendar/overrides/{flow.world.other_district.id}/2027-03-03",
        json={"rest_day": True, "note": "区内活动"},
        headers=factory.headers(flow.world.other_regulator),
    )
    assert other.status_code == 201

    preview = confirm(flow, NOTICE_2027, preview=True)
    assert preview.status_code == 200, preview.get_json()
    shown = preview.get_json()
    assert (shown["confirmed"], shown["source_before"]) == (False, "provisional")
    changes = {c["day"]: c for c in shown["changes"]}
    assert changes["2027-02-20"] == {
        "day": "2027-02-20",
        "rest_day_before": True,
        "rest_day_after": False,
        "holiday_before": None,
        "holiday_after": None,
    }
    assert (changes["2027-02-05"]["rest_day_before"], changes["2027-02-05"]["rest_day_after"]) == (
        True,
        False,
    )
    assert changes["2027-02-12"]["holiday_after"] == "春节"
    assert holidays_2027(flow)["source"] == "provisional"  # a preview stores nothing

    resp = confirm(flow, NOTICE_2027)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["confirmed"], body["source_before"], body["notice"]) == (
        True,
        "provisional",
        "国办发明电〔2026〕1号",
    )
    assert body["changes"] == shown["changes"]
    spring = next(p for p in body["items"] if p["name_zh"] == "春节")
    assert spring == {
        "first": "2027-02-06",
        "last": "2027-02-14",
        "name_zh": "春节",
        "name_en": "Spring Festival",
        "provisional": False,
    }

    after = hot_work(flow, "2027-02-20", 9)
    assert (after["grade"], after["calendar_notice"]) == ("level1", None)
    assert (
        filed.reload().permit["calendar_notice"] is None
    )  # the permit filed before reads the confirmed year
    assert hot_work(flow, "2027-03-03", 9)["grade"] == "level1"  # the other district's correction stays there
    listed = holidays_2027(flow)
    assert (listed["source"], listed["calendar_notice"]) == ("confirmed", None)
    assert listed["workdays"] == NOTICE_2027["workdays"]
    event = db_session.scalars(sa.select(Event).where(Event.kind == "calendar.year_confirmed")).one()
    db_session.commit()
    assert (event.actor_id, event.data["year"], event.data["source_before"]) == (
        str(flow.world.city_regulator.id),
        2027,
        "provisional",
    )
    assert "2027-02-20" in event.data["changed_days"]
    # Entering the notice again replaces the confirmation (200) and is audited again.
    again = confirm(flow, {**NOTICE_2027, "workdays": ["2027-02-20"]})
    assert (again.status_code, again.get_json()["source_before"]) == (200, "confirmed")
    assert {c["day"] for c in again.get_json()["changes"]} == {"2027-05-08", "2027-09-26", "2027-10-09"}


def test_FZ_04_a_district_regulator_cannot_confirm_the_city_year(flow, db_session):
    for preview in (False, True):
        assert_problem(confirm(flow, NOTICE_2027, by="regulator", preview=preview), 403)
        assert_problem(confirm(flow, NOTICE_2027, by="other_regulator", preview=preview), 403)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(CalendarYear)) == 0
    db_session.commit()
    assert holidays_2027(flow)["source"] == "provisional"


def _periods(*spans: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name_zh": f"假期{i}", "first": a, "last": b} for i, (a, b) in enumerate(spans)]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"periods": _periods(("2027-02-06", "2027-02-12"), ("2027-02-10", "2027-02-15"))},
            {"periods.1"},
        ),
        (
            {"periods": _periods(("2027-02-06", "2027-02-12")), "workdays": ["2027-02-07"]},
            {"workdays.0"},
        ),
        (
            {"periods": _periods(("2026-12-31", "2027-01-01"), ("2027-10-01", "2028-01-01"))},
            {"periods.0.first", "periods.1.last"},
        ),
        (
            {"periods": _periods(("2027-02-06", "2027-02-12")), "workdays": ["2028-02-19", "2027-02-17"]},
            {"workdays.0", "workdays.1"},  # outside the year; a Wednesday is not a make-up day
        ),
        ({"periods": [{"name_zh": "春节", "first": "2027-02-06"}]}, {"periods.0.last"}),
        ({"periods": []}, {"periods"}),
    ],
    ids=["overlap", "make-up-day-in-a-break", "outside-the-year", "bad-workdays", "missing-last", "empty"],
)
def test_FZ_04_a_malformed_notice_is_422_naming_the_field_and_changes_nothing(flow, db_session, body, fields):
    for preview in (True, False):
        assert_problem(confirm(flow, body, preview=preview), 422, fields=fields)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(CalendarYear)) == 0
    assert (
        db_session.scalar(sa.select(sa.func.count()).select_from(Event).where(Event.kind.like("calendar.%")))
        == 0
    )
    db_session.commit()
    assert holidays_2027(flow)["source"] == "provisional"


def propose(app, now: datetime):
    with app.app_context():
        return run_holiday_proposals(app.extensions["db_sessionmaker"], now)


def test_FZ_04_the_2027_spring_festival_freeze_is_proposed_in_december_and_follows_the_confirmed_year(
    app, flow, db_session
):
    assert propose(app, TODAY).done == 2  # 元旦 and 春节 2027 lie within 90 days; 清明 (April) does not yet
    rows = db_session.scalars(sa.select(Freeze).order_by(Freeze.starts_at)).all()
    db_session.commit()
    assert [(f.reason, f.provisional, f.state) for f in rows] == [
        ("元旦假期（推算，待确认）/ New Year's Day holiday (provisional)", True, "proposed"),
        ("春节假期（推算，待确认）/ Spring Festival holiday (provisional)", True, "proposed"),
    ]
    spring = rows[1]
    assert (spring.starts_at, spring.ends_at) == (
        datetime(2027, 2, 4, 16, 0, tzinfo=UTC),
        datetime(2027, 2, 10, 16, 0, tzinfo=UTC),
    )
    shown = flow.client.get(
        f"/api/v1/freezes/{spring.id}", headers=flow.headers(flow.world.city_regulator)
    ).get_json()
    assert shown["provisional"] is True
    assert propose(app, TODAY).done == 0  # idempotent

    assert confirm(flow, NOTICE_2027).status_code == 201
    assert propose(app, TODAY + timedelta(hours=6)).done == 2  # both proposals follow the confirmed year
    moved = db_session.get(Freeze, spring.id)
    db_session.refresh(moved)
    db_session.commit()
    assert (moved.starts_at, moved.ends_at, moved.provisional, moved.state) == (
        datetime(2027, 2, 5, 16, 0, tzinfo=UTC),
        datetime(2027, 2, 14, 16, 0, tzinfo=UTC),
        False,
        "proposed",
    )
    assert moved.reason == "春节假期 / Spring Festival holiday"
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Freeze)) == 2
    db_session.commit()
    assert propose(app, TODAY + timedelta(hours=12)).done == 0


def test_FZ_04_answers_show_a_calendar_change_made_elsewhere_at_once(flow, db_session):
    # Another process (a second worker, the CLI) corrects the day: it moves the context generation (0027) that a
    # permit's statement reads, so this process's kept calendar is read again for the next answer.
    permit = flow.another().file("hot_work", **window("2027-03-03", 9))
    assert permit.reload().permit["calendar_notice"]["days"] == ["2027-03-03"]
    db_session.execute(
        sa.insert(CalendarOverride).values(
            id=uuid.uuid4(),
            region_id=flow.world.enterprise.region_id,
            day=date(2027, 3, 3),
            rest_day=False,
            note="区里确认照常上班",
            created_by="another process",
            created_at=TODAY,
        )
    )
    db_session.commit()
    assert (
        permit.reload().permit["calendar_notice"] is None
    )  # the region decided the day: nothing provisional
    assert flow.another().file("hot_work", **window("2027-03-03", 9)).permit["calendar_notice"] is None
