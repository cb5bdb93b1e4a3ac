"""Freezes acting on real permits end to end: refused or upgraded approvals, suspension at the start, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from permit_service.scheduling.jobs import run_expire_permits, run_freeze_starts
from tests.api.permit_flows import PermitFlow
from tests.api.test_freezes import check, declared, events
from tests.integration.scheduler_helpers import run

# Wed 2026-06-10 10:00 Asia/Shanghai is the suite's "now": a major event freezes the afternoon.
EVENT = {
    "starts_at": "2026-06-10T12:00:00+08:00",
    "ends_at": "2026-06-10T14:00:00+08:00",
    "reason": "重大活动保障",
}


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def test_FZ_02_a_strict_freeze_refuses_the_approval_of_overlapping_work(client, factory, flow):
    world = flow.world
    declared(client, factory, world.regulator, world.district, types=["hot_work"], mode="strict", **EVENT)
    flow.file("hot_work").submit()
    problem = flow.refused("approve", "FZ-02", {"evidence": flow.evidence()}, by=flow.approver())
    assert "approve" not in (problem.get("allowed_actions") or [])
    answer = check(
        client,
        factory,
        world.people["applicant"],
        world.area,
        "hot_work",
        flow.at(),
        flow.at(timedelta(hours=6)),
    )
    assert answer.get_json()["mode"] == "strict"


def test_FZ_02_a_strict_freeze_does_not_touch_other_types_or_windows(client, factory, flow):
    world = flow.world
    declared(client, factory, world.regulator, world.district, types=["lifting"], mode="strict", **EVENT)
    flow.file("hot_work").to_approved()
    assert flow.state == "approved"


def test_FZ_02_an_upgrade_freeze_needs_the_regulators_consent_and_raises_hot_work_a_grade(
    client, factory, flow
):
    world = flow.world
    plain = flow.another().file("hot_work").submit()
    declared(client, factory, world.city_regulator, world.city, types=["hot_work"], mode="upgrade", **EVENT)
    flow.file("hot_work").submit()
    grades = ["level2", "level1", "special"]
    assert grades.index(flow.permit["grade"]) == grades.index(plain.permit["grade"]) + 1
    flow.refused("approve", "HR-01", {"evidence": flow.evidence()}, by=flow.approver())


def test_FZ_03_at_the_start_running_work_is_suspended_once_and_stays_suspended(
    app, client, factory, flow, clock
):
    world = flow.world
    flow.file("hot_work").to_active()
    freeze = declared(
        client, factory, world.regulator, world.district, types=["hot_work"], mode="strict", **EVENT
    )
    start = clock.now() + timedelta(hours=2)
    assert run(app, run_freeze_starts, start - timedelta(seconds=1)).done == 0
    assert flow.reload().state == "active"
    assert run(app, run_freeze_starts, start).done == 1
    assert run(app, run_freeze_starts, start + timedelta(seconds=30)).done == 0
    assert flow.reload().state == "suspended"
    assert flow.permit["status_reason"].endswith("(FZ-03)")
    flow.refused("resume", "FZ-02", {"conditions_confirmed": True}, by="work_leader")
    after = start + timedelta(hours=2)  # the freeze is over: nothing resumes by itself
    assert run(app, run_freeze_starts, after).done == 0
    assert flow.reload().state == "suspended"
    kinds = events(factory.session, flow.id)
    assert kinds.count("permit.suspend") == 1
    assert kinds.count("freeze.permit_suspended") == 1
    assert events(factory.session, freeze["id"]) == ["freeze.declared", "freeze.applied"]


def test_G_12_work_expires_on_time_by_itself(app, factory, flow, clock):
    flow.file("hot_work").to_active()
    until = clock.now() + timedelta(hours=6)
    assert run(app, run_expire_permits, until - timedelta(seconds=1)).done == 0
    assert flow.reload().state == "active"
    assert run(app, run_expire_permits, until).done == 1
    assert flow.reload().state == "expired"
    assert events(factory.session, flow.id)[-1] == "permit.expire"
