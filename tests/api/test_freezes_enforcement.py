"""Freezes acting on real permits end to end: refused or upgraded approvals, suspension at the start, expiry."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.scheduling.jobs import run_expire_permits, run_freeze_starts
from tests.api.permit_flows import PermitFlow
from tests.api.test_freezes import check, declared, events
from tests.api.test_jobs import act, file_job
from tests.api.test_jobs_flow import attach
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


UPGRADED_FACTS = {
    # HW-07: special-grade hot work
    "continuous_gas_monitoring": True,
    "written_plan": "专项方案",
    "video_recording": True,
    # G-04: the other permit in the area
    "cross_operation_coordinator": "王五",
    "cross_operation_risk_analysis": "交叉作业已辨识",
}


def upgraded_to_active(client, factory, flow, clock):
    """Hot work filed under an upgrade freeze and taken the upgraded way to work (FZ-02): one grade up,
    the regulator's consent (a consent report), the principal's approval beside the grade's approver."""
    world = flow.world
    flow.file(
        "hot_work",
        facts=UPGRADED_FACTS,
        valid_from=flow.at(timedelta(hours=1)),
        valid_until=flow.at(timedelta(hours=5)),
    ).submit()
    assert flow.permit["grade"] == "special"
    job = file_job(client, factory, world, kind="consent_report", title="冻结期动火报备")
    attach(client, factory, world, job, flow.permit)
    assert act(client, factory, world.people["applicant"], job, "report").get_json()["grounds"] == ["FZ-02"]
    assert act(client, factory, world.regulator, job, "consent", {"reason": "同意"}).status_code == 200
    flow.approve(by="leader_in_charge")
    assert flow.state == "submitted"  # HR-02: the principal's approval is still missing
    flow.approve(by="principal")
    assert flow.state == "approved"
    flow.brief().shift_check()
    clock.advance(timedelta(hours=1, minutes=5))
    return flow.gas_test().activate()


def test_FZ_03_an_upgrade_freeze_suspends_only_running_work_without_its_upgraded_management(
    app, client, factory, flow, clock
):
    world = flow.world
    plain = flow.another().file("hot_work").to_active()  # approved before the freeze was declared
    freeze = declared(
        client, factory, world.regulator, world.district, types=["hot_work"], mode="upgrade", **EVENT
    )
    upgraded = upgraded_to_active(client, factory, flow, clock)
    start = datetime.fromisoformat(EVENT["starts_at"])
    assert run(app, run_freeze_starts, start).done == 1
    assert run(app, run_freeze_starts, start + timedelta(seconds=30)).done == 0
    assert (plain.reload().state, upgraded.reload().state) == ("suspended", "active")
    assert "HR-01" in plain.permit["status_reason"] and plain.permit["status_reason"].endswith("(FZ-03)")
    assert events(factory.session, upgraded.id).count("permit.suspend") == 0
    assert events(factory.session, plain.id).count("permit.suspend") == 1
    applied = factory.session.scalar(
        sa.select(Event.data).where(Event.kind == "freeze.applied", Event.subject_id == freeze["id"])
    )
    factory.session.commit()
    assert (applied["suspended"], applied["running_upgraded"]) == (1, 1)


def test_FZ_03_work_an_upgrade_freeze_stopped_resumes_only_under_the_whole_upgraded_management(
    app, client, factory, flow, clock
):
    """Consent alone is not enough: the principal's approval and the raised grade are missing (FZ-02, HR-02)."""
    world = flow.world
    flow.file("hot_work").to_active()  # approved before the freeze: level 2, no principal
    declared(client, factory, world.regulator, world.district, types=["hot_work"], mode="upgrade", **EVENT)
    assert run(app, run_freeze_starts, datetime.fromisoformat(EVENT["starts_at"])).done == 1
    assert flow.reload().state == "suspended"
    window = {"starts_at": flow.permit["valid_from"], "ends_at": flow.permit["valid_until"]}
    job = file_job(client, factory, world, kind="consent_report", title="冻结期动火报备", **window)
    attach(client, factory, world, job, flow.permit)
    act(client, factory, world.people["applicant"], job, "report")
    assert act(client, factory, world.regulator, job, "consent", {"reason": "同意"}).status_code == 200
    problem = flow.refused("resume", "SD-01", {"conditions_confirmed": True}, by="work_leader")
    assert "principal" in problem["message_en"] and "re-issue" in problem["message_en"]
    assert {v["rule"] for v in problem["violations"]} >= {"SD-01", "HW-01"}
    assert flow.reload().state == "suspended"


def test_FZ_03_a_strict_freeze_suspends_even_upgraded_work(app, client, factory, flow, clock):
    world = flow.world
    declared(client, factory, world.regulator, world.district, types=["hot_work"], mode="upgrade", **EVENT)
    upgraded = upgraded_to_active(client, factory, flow, clock)
    declared(
        client,
        factory,
        world.city_regulator,
        world.city,
        types=["hot_work"],
        mode="strict",
        starts_at="2026-06-10T13:00:00+08:00",
        ends_at="2026-06-10T14:00:00+08:00",
        reason="国庆安保",
    )
    assert run(app, run_freeze_starts, datetime.fromisoformat(EVENT["starts_at"])).done == 0
    assert upgraded.reload().state == "active"
    assert run(app, run_freeze_starts, datetime.fromisoformat("2026-06-10T13:00:00+08:00")).done == 1
    assert upgraded.reload().state == "suspended"


def test_G_12_work_expires_on_time_by_itself(app, factory, flow, clock):
    flow.file("hot_work").to_active()
    until = clock.now() + timedelta(hours=6)
    assert run(app, run_expire_permits, until - timedelta(seconds=1)).done == 0
    assert flow.reload().state == "active"
    assert run(app, run_expire_permits, until).done == 1
    assert flow.reload().state == "expired"
    assert events(factory.session, flow.id)[-1] == "permit.expire"
