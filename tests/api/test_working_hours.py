"""Working hours through the HTTP API and the scheduler (HW-03, HW-06): a 72 h level-2 day-shift hot work is issued,
works only in its periods, is suspended by the system at the end of each, and resumes only in a period and, after
the break, with a fresh gas test."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.integrations.models import WebhookDelivery
from permit_service.scheduling.jobs import run_working_period_ends
from tests.api.checks import assert_problem, peek
from tests.api.permit_flows import API, PermitFlow
from tests.api.test_statement_budgets import BUDGETS, counted
from tests.integration.scheduler_helpers import run
from tests.plant import portal

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY_SHIFT = [{"start": "08:00", "end": "12:00"}, {"start": "13:30", "end": "17:30"}]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of June 2026 in Shanghai: the 10th is a working Wednesday, the 13th a Saturday."""
    return datetime(2026, 6, day, hour, minute, tzinfo=SHANGHAI)


THREE_DAYS = {
    "valid_from": local(10, 8).isoformat(),
    "valid_until": local(13, 8).isoformat(),
}  # Wed 08:00-Sat 08:00


@pytest.fixture
def flow(client, factory, clock):
    clock.set(local(10, 7, 30))
    return PermitFlow(client, factory, factory.world())


def level2_area(flow: PermitFlow) -> str:
    """An area outside the fire-explosion zone, where hot work is level 2 (HW-01)."""
    area = flow.factory.area(
        flow.world.enterprise, running_unit=False, flammable=False, fire_explosion_area=False
    )
    return str(area.id)


def day_shift(flow: PermitFlow, **overrides) -> PermitFlow:
    return flow.file(
        "hot_work", area_id=level2_area(flow), working_periods=DAY_SHIFT, **{**THREE_DAYS, **overrides}
    )


def test_HW_03_a_72_h_day_shift_hot_work_is_level_2_and_approved_by_the_unit_leader(flow):
    day_shift(flow)
    assert flow.permit["working_periods"] == DAY_SHIFT
    assert flow.submit().permit["grade"] == "level2"
    assert flow.approve(by="unit_leader").state == "approved"


def test_HW_03_the_same_72_h_without_periods_is_level_1_at_night_and_refused_its_length(flow):
    body = flow.body("hot_work", area_id=level2_area(flow), **THREE_DAYS)
    problem = assert_problem(flow.client.post(API, json=body, headers=flow.headers("applicant")), 409)
    assert problem["rule"] == "G-12" and "8" in problem["message_en"]
    evening = [*DAY_SHIFT, {"start": "19:00", "end": "21:00"}]
    body["working_periods"] = evening  # a period reaching past 20:00 upgrades it again
    assert (
        assert_problem(flow.client.post(API, json=body, headers=flow.headers("applicant")), 409)["rule"]
        == "G-12"
    )


@pytest.mark.parametrize(
    ("periods", "status", "where"),
    [
        ([{"start": "24:00", "end": "12:00"}], 422, "working_periods.0.start"),
        ([{"start": "8:00", "end": "12:00"}], 422, "working_periods.0.start"),
        ([{"start": "08:00"}], 422, "working_periods.0.end"),
        ([{"start": "08:00", "end": "08:00"}], 409, "cannot start and end at once"),
        ([{"start": "08:00", "end": "12:00"}, {"start": "11:00", "end": "14:00"}], 409, "overlap"),
        ([{"start": "22:00", "end": "02:00"}, {"start": "01:00", "end": "03:00"}], 409, "overlap"),
    ],
)
def test_HW_03_malformed_and_overlapping_periods_are_refused_and_nothing_is_filed(
    flow, periods, status, where
):
    body = flow.body("hot_work", area_id=level2_area(flow), working_periods=periods, **THREE_DAYS)
    problem = assert_problem(flow.client.post(API, json=body, headers=flow.headers("applicant")), status)
    if status == 422:
        assert where in problem["errors"]
    else:
        assert problem["rule"] == "HW-03" and where in problem["message_en"]
    listed = flow.client.get(API, headers=flow.headers("applicant")).get_json()
    assert listed["items"] == []


def test_HW_03_a_period_outside_the_validity_is_refused_also_when_a_draft_is_edited(flow):
    day = {"valid_from": local(10, 8).isoformat(), "valid_until": local(10, 18).isoformat()}
    body = flow.body("hot_work", working_periods=[{"start": "20:00", "end": "23:00"}], **day)
    problem = assert_problem(flow.client.post(API, json=body, headers=flow.headers("applicant")), 409)
    assert (problem["rule"], problem["message_en"]) == (
        "HW-03",
        "working periods outside the validity: 20:00-23:00",
    )
    flow.file("hot_work", area_id=level2_area(flow), working_periods=DAY_SHIFT, **day)
    headers = flow.headers("applicant", **{"If-Match": f'"{flow.permit["version"]}"'})
    edit = flow.client.patch(flow.url, json={"valid_until": local(10, 11).isoformat()}, headers=headers)
    assert assert_problem(edit, 409)["rule"] == "HW-03"  # 13:30-17:30 no longer falls in it
    edit = flow.client.patch(flow.url, json={"working_periods": None}, headers=headers)
    assert edit.status_code == 200 and edit.get_json()["working_periods"] is None


def test_HW_03_only_hot_work_states_working_periods(flow):
    body = flow.body("confined_space", working_periods=DAY_SHIFT)
    problem = assert_problem(flow.client.post(API, json=body, headers=flow.headers("applicant")), 422)
    assert "working_periods" in problem["errors"]
    types = flow.client.get("/api/v1/permit-types", headers=flow.headers("applicant")).get_json()["items"]
    assert {t["type"]: t["working_periods_rule"] for t in types}["hot_work"] == "HW-03"
    assert {t["type"]: t["working_periods_rule"] for t in types}["confined_space"] is None


def test_HW_03_the_printed_form_shows_the_daily_periods(flow):
    night = [{"start": "20:00", "end": "23:00"}, {"start": "23:30", "end": "03:30"}]
    window = {"valid_from": local(10, 20).isoformat(), "valid_until": local(11, 4).isoformat()}
    flow.file("hot_work", area_id=level2_area(flow), working_periods=night, **window)
    page = flow.client.get(f"{flow.url}/form", headers=flow.headers("applicant")).get_data(as_text=True)
    assert "每日 20:00-23:00、23:30-次日03:30" in page
    assert "daily 20:00-23:00, 23:30-03:30 next day" in page


# -- at work only within its periods: the scheduler suspends at each end, resuming follows HW-06 ---------------


def at(flow: PermitFlow, moment: datetime) -> None:
    flow.factory.app.extensions["clock"].set(moment)


def test_HW_03_HW_06_the_scheduler_suspends_a_day_shift_at_the_end_of_each_period(app, flow):
    gate = portal(flow.factory, flow.world)
    sub = flow.client.post(
        "/api/v1/webhooks/subscriptions",
        json={"url": "https://portal.example/hooks", "secret": "s" * 32, "event_kinds": ["permit.suspend"]},
        headers=gate.headers,
    )
    assert sub.status_code == 201, sub.get_json()
    day_shift(flow).submit().approve(by="unit_leader").brief().shift_check()
    at(flow, local(10, 12, 45))  # lunch
    problem = flow.gas_test().refused("activate", "HW-03", by="work_leader")
    assert (
        "2026-06-10 13:30-17:30" in problem["message_en"]
        and "2026-06-10 13:30-17:30" in problem["message_zh"]
    )
    at(flow, local(10, 13, 35))
    flow.gas_test().activate()

    assert run(app, run_working_period_ends, local(10, 17, 29)).done == 0
    for day in (10, 11, 12):
        assert run(app, run_working_period_ends, local(day, 17, 30)).done == 1
        assert flow.reload().state == "suspended"
        assert run(app, run_working_period_ends, local(day, 17, 31)).done == 0  # once
        if day == 12:
            break  # Friday: the validity ends Saturday 08:00, before another period
        at(flow, local(day + 1, 8, 10))  # the night's break is over 60 min: re-test (level 2, HW-06)
        flow.refused("resume", "HW-06", {"conditions_confirmed": True}, by="work_leader")
        flow.gas_test().resume()
        assert run(app, run_working_period_ends, local(day + 1, 12)).done == 1
        at(flow, local(day + 1, 12, 30))
        problem = flow.refused("resume", "HW-03", {"conditions_confirmed": True}, by="work_leader")
        assert f"2026-06-{day + 1} 13:30-17:30" in problem["message_en"]
        at(flow, local(day + 1, 13, 35))  # 95 min after the suspension
        flow.refused("resume", "HW-06", {"conditions_confirmed": True}, by="work_leader")
        flow.gas_test().resume()
    at(flow, local(12, 18))
    problem = flow.refused("resume", "HW-03", {"conditions_confirmed": True}, by="work_leader")
    assert problem["message_en"] == "none of the permit's working periods is left"

    with peek(app) as session:
        suspensions = session.scalars(
            sa.select(Event)
            .where(Event.kind == "permit.suspend", Event.subject_id == flow.id)
            .order_by(Event.id)
        ).all()
        outbox = session.scalars(
            sa.select(WebhookDelivery.event_kind).where(
                WebhookDelivery.subscription_id == uuid.UUID(sub.get_json()["id"])
            )
        ).all()
    assert len(suspensions) == 5  # 17:30 on each of the three days, 12:00 on Thursday and Friday
    assert {e.actor_id for e in suspensions} == {"system"}
    first = suspensions[0].data
    assert first["signature"]["evidence"]["reason_code"] == "working_period_ended"
    assert first["reason"].startswith("作业时段结束") and first["reason"].endswith("(HW-03)")
    assert "the next is 2026-06-11 08:00-12:00" in first["reason"]
    assert outbox == ["permit.suspend"] * 5  # each goes out like any other suspension (DC-04)


def test_HW_03_permits_without_periods_are_never_suspended_for_them(app, flow):
    flow.file("hot_work", valid_from=local(10, 8).isoformat(), valid_until=local(10, 15).isoformat())
    at(flow, local(10, 8))
    flow.to_active()
    assert run(app, run_working_period_ends, local(10, 12)).done == 0
    assert flow.reload().state == "active"


def test_HW_03_a_tick_with_nothing_due_is_one_statement_and_a_suspension_costs_what_a_suspension_costs(
    app, flow
):
    day_shift(flow).submit().approve(by="unit_leader").brief().shift_check()
    at(flow, local(10, 13, 35))
    flow.gas_test().activate()
    with counted(app) as idle:
        run(app, run_working_period_ends, local(10, 17, 29))
    with counted(app) as one:
        run(app, run_working_period_ends, local(10, 17, 30))
    assert len(idle) == 1  # the scan of active permits stating periods, their judged columns only
    # the scan, the locked re-check, the suspension as the HTTP path does it, the scan that finds nothing left
    assert len(one) <= 1 + 1 + BUDGETS["suspend"] + 1
