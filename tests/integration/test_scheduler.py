"""Scheduler job bodies on a real database: expiry (G-12), freeze starts (FZ-03), monitoring (CS-03, HW-04)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from permit_service.api.models import IdempotencyRecord
from permit_service.audit.models import Event
from permit_service.auth.models import PasswordAttempts
from permit_service.freezes.models import Freeze
from permit_service.integrations.models import Alarm, IngestBatch
from permit_service.permits import context
from permit_service.permits.models import GasTest, Permit
from permit_service.scheduling import jobs
from permit_service.scheduling.jobs import (
    run_confined_space_monitoring,
    run_expire_permits,
    run_freeze_starts,
    run_hot_work_retests,
    run_purge_idempotency_records,
    run_purge_password_attempts,
)
from tests.api.test_freezes import freeze_body
from tests.integration.scheduler_helpers import NOW, arrange, event_counts, run, states


class Killed(BaseException):
    """Stands in for the scheduler process dying half-way (not an error a job catches)."""


# --- G-12 expiry ----------------------------------------------------------------------------------


def test_G_12_a_permit_expires_exactly_at_valid_until_and_only_once(app, factory, db_session):
    world = factory.world()
    until = NOW + timedelta(hours=1)
    (permit_id,) = arrange(db_session, world, valid_until=until)
    assert run(app, run_expire_permits, until - timedelta(seconds=1)).done == 0
    assert states(db_session, [permit_id]) == {"active": 1}
    report = run(app, run_expire_permits, until)
    assert (report.done, report.failed) == (1, 0)
    assert states(db_session, [permit_id]) == {"expired": 1}
    assert run(app, run_expire_permits, until + timedelta(minutes=5)).done == 0
    assert event_counts(db_session, "permit.expire") == {str(permit_id): 1}


def test_G_12_every_signed_unfinished_state_expires_but_drafts_and_ends_do_not(app, factory, db_session):
    world = factory.world()
    past = {"valid_from": NOW - timedelta(hours=9), "valid_until": NOW - timedelta(hours=1)}
    expiring = [
        arrange(db_session, world, state=s, **past)[0]
        for s in ("submitted", "approved", "briefed", "active", "suspended", "completed")
    ]
    kept = [
        arrange(db_session, world, state=s, **past)[0] for s in ("draft", "closed", "cancelled", "voided")
    ]
    report = run(app, run_expire_permits, NOW)
    assert report.done == len(expiring)
    assert states(db_session, expiring) == {"expired": len(expiring)}
    assert states(db_session, kept) == {"draft": 1, "closed": 1, "cancelled": 1, "voided": 1}


def test_G_12_the_expiry_event_is_by_the_system(app, factory, db_session):
    world = factory.world()
    (permit_id,) = arrange(db_session, world, valid_until=NOW)
    run(app, run_expire_permits, NOW)
    event = db_session.scalar(sa.select(Event).where(Event.kind == "permit.expire"))
    db_session.commit()
    assert (event.actor_id, event.subject_id, event.enterprise_id) == (
        "system",
        str(permit_id),
        world.enterprise.id,
    )
    assert (event.data["from"], event.data["to"]) == ("active", "expired")


def test_a_runner_killed_half_way_leaves_the_rest_for_the_next_run_without_doubles(
    app, factory, db_session, monkeypatch
):
    world = factory.world()
    ids = arrange(db_session, world, n=10, valid_until=NOW - timedelta(minutes=1))
    real_perform = jobs.permits.perform
    calls = {"n": 0}

    def dying_perform(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise Killed  # inside the sixth item's transaction: it is rolled back with the process
        return real_perform(*args, **kwargs)

    monkeypatch.setattr(jobs.permits, "perform", dying_perform)
    with pytest.raises(Killed):
        run(app, run_expire_permits, NOW)
    assert states(db_session, ids) == {"expired": 5, "active": 5}
    monkeypatch.setattr(jobs.permits, "perform", real_perform)
    assert run(app, run_expire_permits, NOW).done == 5
    assert states(db_session, ids) == {"expired": 10}
    assert event_counts(db_session, "permit.expire") == {str(i): 1 for i in ids}


def test_an_item_that_fails_is_logged_and_skipped_and_the_others_go_on(
    app, factory, db_session, monkeypatch, caplog
):
    world = factory.world()
    ids = arrange(db_session, world, n=3, valid_until=NOW - timedelta(minutes=1))
    real_perform = jobs.permits.perform

    def picky_perform(session, *, permit_id, **kwargs):
        if permit_id == ids[1]:
            raise RuntimeError("broken row")
        return real_perform(session, permit_id=permit_id, **kwargs)

    monkeypatch.setattr(jobs.permits, "perform", picky_perform)
    report = run(app, run_expire_permits, NOW)
    assert (report.done, report.failed, report.failed_ids) == (2, 1, [str(ids[1])])
    assert "left for the next run" in caplog.text
    assert states(db_session, ids) == {"expired": 2, "active": 1}


def test_G_12_expiry_goes_through_the_workflow_not_around_it(app, factory, db_session, clock):
    world = factory.world()
    (permit_id,) = arrange(db_session, world, valid_until=NOW)
    # The job picks the permit at NOW, but the workflow judges at the app clock: one second earlier, G-12 refuses.
    with app.app_context():
        clock.set(NOW - timedelta(seconds=1))
        report = run_expire_permits(app.extensions["db_sessionmaker"], NOW)
    assert (report.done, report.failed) == (0, 1)
    assert states(db_session, [permit_id]) == {"active": 1}


# --- FZ-03 a freeze's start -----------------------------------------------------------------------


def add_freeze(
    db_session, region, *, starts_at, ends_at, types=("hot_work",), mode="strict", state="declared"
):
    freeze = Freeze(
        id=uuid.uuid4(),
        region_id=region.id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason="重大活动保障",
        types=list(types),
        mode=mode,
        state=state,
        created_by="test",
    )
    db_session.add(freeze)
    db_session.commit()
    return freeze


def test_FZ_03_at_its_start_a_freeze_suspends_running_work_of_its_types_once(app, factory, db_session):
    world = factory.world()
    start = NOW + timedelta(hours=2)
    freeze = add_freeze(db_session, world.district, starts_at=start, ends_at=start + timedelta(hours=12))
    (hot,) = arrange(db_session, world)
    (confined,) = arrange(db_session, world, type="confined_space", grade=None)
    (elsewhere,) = arrange(db_session, world, other=True)
    (approved,) = arrange(db_session, world, state="approved")
    (ends_before,) = arrange(db_session, world, valid_until=start)  # touches the start: not in the freeze
    assert run(app, run_freeze_starts, start - timedelta(seconds=1)).done == 0
    assert run(app, run_freeze_starts, start).done == 1
    assert states(db_session, [hot]) == {"suspended": 1}
    assert states(db_session, [confined, elsewhere, ends_before]) == {"active": 3}
    assert states(db_session, [approved]) == {"approved": 1}
    db_session.refresh(freeze)
    assert freeze.applied_at == start
    db_session.commit()
    assert event_counts(db_session, "permit.suspend") == {str(hot): 1}
    assert event_counts(db_session, "freeze.permit_suspended") == {str(hot): 1}
    assert event_counts(db_session, "freeze.applied") == {str(freeze.id): 1}
    # Resumed by hand during the freeze (upgraded work): the applied freeze does not act again.
    db_session.execute(sa.update(Permit).where(Permit.id == hot).values(state="active"))
    db_session.commit()
    assert run(app, run_freeze_starts, start + timedelta(minutes=30)).done == 0
    assert states(db_session, [hot]) == {"active": 1}


def test_FZ_03_a_city_freeze_reaches_every_district_and_upgrade_mode_suspends_too(app, factory, db_session):
    world = factory.world()
    add_freeze(db_session, world.city, starts_at=NOW, ends_at=NOW + timedelta(days=1), mode="upgrade")
    ids = arrange(db_session, world, n=2) + arrange(db_session, world, n=2, other=True)
    assert run(app, run_freeze_starts, NOW).done == 4
    assert states(db_session, ids) == {"suspended": 4}


def test_FZ_03_at_its_end_nothing_resumes_by_itself(app, factory, db_session):
    world = factory.world()
    end = NOW + timedelta(hours=3)
    add_freeze(db_session, world.district, starts_at=NOW, ends_at=end)
    (permit_id,) = arrange(db_session, world, valid_until=NOW + timedelta(hours=7))
    run(app, run_freeze_starts, NOW)
    for job in (run_freeze_starts, run_confined_space_monitoring, run_hot_work_retests):
        run(app, job, end)
    assert states(db_session, [permit_id]) == {"suspended": 1}


@pytest.mark.parametrize(
    ("at", "acts"),
    [
        (timedelta(seconds=-1), False),  # the second before its start
        (timedelta(0), True),  # its first second
        (timedelta(hours=3, seconds=-1), True),  # its last second: a scheduler back from downtime still acts
        (timedelta(hours=3), False),  # its (exclusive) end
    ],
)
def test_FZ_03_a_freeze_acts_from_its_first_to_its_last_second(app, factory, db_session, at, acts):
    world = factory.world()
    start = NOW + timedelta(hours=1)
    add_freeze(db_session, world.district, starts_at=start, ends_at=start + timedelta(hours=3))
    (permit_id,) = arrange(db_session, world, valid_until=NOW + timedelta(hours=7))
    assert run(app, run_freeze_starts, start + at).done == int(acts)
    assert states(db_session, [permit_id]) == {"suspended" if acts else "active": 1}


@pytest.mark.parametrize("case", ["cancelled", "proposed", "over"])
def test_FZ_03_cancelled_proposed_or_ended_freezes_do_not_act(app, factory, db_session, case):
    world = factory.world()
    state = case if case != "over" else "declared"
    ends = NOW if case == "over" else NOW + timedelta(hours=5)
    add_freeze(db_session, world.district, starts_at=NOW - timedelta(hours=1), ends_at=ends, state=state)
    (permit_id,) = arrange(db_session, world)
    assert run(app, run_freeze_starts, NOW).done == 0
    assert states(db_session, [permit_id]) == {"active": 1}


def test_FZ_03_a_runner_killed_mid_freeze_is_finished_by_the_next_without_doubles(
    app, factory, db_session, monkeypatch
):
    world = factory.world()
    freeze = add_freeze(db_session, world.district, starts_at=NOW, ends_at=NOW + timedelta(hours=8))
    ids = arrange(db_session, world, n=6)
    real_perform = jobs.permits.perform
    calls = {"n": 0}

    def dying_perform(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise Killed
        return real_perform(*args, **kwargs)

    monkeypatch.setattr(jobs.permits, "perform", dying_perform)
    with pytest.raises(Killed):
        run(app, run_freeze_starts, NOW)
    assert states(db_session, ids) == {"suspended": 3, "active": 3}
    db_session.refresh(freeze)
    assert freeze.applied_at is None
    db_session.commit()
    monkeypatch.setattr(jobs.permits, "perform", real_perform)
    assert run(app, run_freeze_starts, NOW + timedelta(minutes=1)).done == 3
    assert states(db_session, ids) == {"suspended": 6}
    assert event_counts(db_session, "permit.suspend") == {str(i): 1 for i in ids}
    assert event_counts(db_session, "freeze.applied") == {str(freeze.id): 1}


# --- CS-03 and HW-04 ------------------------------------------------------------------------------


def gas_test(db_session, world, permit_id, sampled_at, passed=True):
    db_session.add(
        GasTest(
            permit_id=permit_id,
            analyst_id=world.people["analyst"].id,
            sampled_at=sampled_at,
            readings=[{"gas": "O2", "value": 20.9, "unit": "%vol"}],
            passed=passed,
            recorded_at=sampled_at,
        )
    )
    db_session.commit()


@pytest.fixture
def people_inside(monkeypatch):
    """A presence provider saying two people are inside every permit's space (the presence area owns the real one)."""
    monkeypatch.setattr(
        context, "_providers", [*context._providers, lambda session, permit: {"people_inside": 2}]
    )


def test_CS_03_confined_space_work_without_a_gas_record_for_two_hours_is_suspended(
    app, factory, db_session, people_inside
):
    world = factory.world()
    (overdue,) = arrange(db_session, world, type="confined_space", grade=None)
    (recent,) = arrange(db_session, world, type="confined_space", grade=None)
    gas_test(db_session, world, overdue, NOW - timedelta(hours=2, seconds=1))
    gas_test(db_session, world, recent, NOW - timedelta(hours=1, minutes=59))
    report = run(app, run_confined_space_monitoring, NOW)
    assert report.done == 1
    assert states(db_session, [overdue]) == {"suspended": 1}
    assert states(db_session, [recent]) == {"active": 1}
    assert (
        run(app, run_confined_space_monitoring, NOW + timedelta(minutes=2)).done == 1
    )  # now `recent` is overdue too
    assert event_counts(db_session, "permit.suspend") == {str(overdue): 1, str(recent): 1}


def test_CS_03_nobody_inside_means_no_suspension(app, factory, db_session):
    world = factory.world()
    (permit_id,) = arrange(db_session, world, type="confined_space", grade=None)
    gas_test(db_session, world, permit_id, NOW - timedelta(hours=5))
    assert run(app, run_confined_space_monitoring, NOW).done == 0
    assert states(db_session, [permit_id]) == {"active": 1}


def alarms_by_permit(db_session, kind: str = "gas_retest_due") -> Counter[str]:
    """How many alarms of `kind` each permit has."""
    found = Counter(str(i) for i in db_session.scalars(sa.select(Alarm.permit_id).where(Alarm.kind == kind)))
    db_session.commit()
    return found


def test_HW_04_hot_work_without_todays_gas_test_raises_an_alarm_once_a_day(app, factory, db_session):
    world = factory.world()
    (yesterday,) = arrange(db_session, world, valid_from=NOW - timedelta(hours=20))
    (today,) = arrange(db_session, world)
    gas_test(db_session, world, yesterday, datetime(2026, 6, 9, 8, 0, tzinfo=UTC))  # 16:00 on 06-09 Shanghai
    gas_test(db_session, world, today, datetime(2026, 6, 9, 16, 1, tzinfo=UTC))  # 00:01 on 06-10 Shanghai
    assert run(app, run_hot_work_retests, NOW).done == 1
    assert run(app, run_hot_work_retests, NOW + timedelta(hours=1)).done == 0
    assert alarms_by_permit(db_session) == {str(yesterday): 1}
    assert states(db_session, [yesterday, today]) == {"active": 2}  # HW-04 asks for a test, not a suspension
    # The next Shanghai day (from 16:00 UTC) both are due once more.
    assert run(app, run_hot_work_retests, datetime(2026, 6, 10, 16, 0, tzinfo=UTC)).done == 2
    assert alarms_by_permit(db_session) == {str(yesterday): 2, str(today): 1}


def test_HW_04_the_day_ends_at_23_59_59_asia_shanghai(app, factory, db_session):
    world = factory.world()
    last_second = datetime(2026, 6, 10, 15, 59, 59, tzinfo=UTC)  # 23:59:59 on 06-10 in Shanghai
    (permit_id,) = arrange(db_session, world, valid_until=last_second + timedelta(hours=4))
    gas_test(db_session, world, permit_id, datetime(2026, 6, 9, 15, 59, 59, tzinfo=UTC))  # 23:59:59 on 06-09
    assert run(app, run_hot_work_retests, NOW).done == 1  # yesterday's last-second test does not count today
    gas_test(db_session, world, permit_id, NOW)
    assert run(app, run_hot_work_retests, last_second).done == 0  # still 06-10: alarmed once, tested since
    assert run(app, run_hot_work_retests, last_second + timedelta(seconds=1)).done == 1  # 06-11 00:00:00
    assert alarms_by_permit(db_session) == {str(permit_id): 2}


def test_HW_04_the_alarm_shows_in_the_alarm_list_with_its_rule(app, client, factory, db_session):
    world = factory.world()
    (permit_id,) = arrange(db_session, world)
    run(app, run_hot_work_retests, NOW)
    for who in (world.people["applicant"], world.regulator):
        listed = client.get(f"/api/v1/alarms?permit_id={permit_id}", headers=factory.headers(who))
        assert listed.status_code == 200, listed.get_json()
        (alarm,) = listed.get_json()["items"]
        assert (alarm["kind"], alarm["rule"], alarm["source"]) == ("gas_retest_due", "HW-04", "service")
        assert alarm["data"]["day"] == "2026-06-10"
    other = client.get(
        f"/api/v1/alarms?permit_id={permit_id}", headers=factory.headers(world.other_people["applicant"])
    )
    assert other.get_json()["items"] == []
    raised = db_session.scalar(sa.select(Event).where(Event.kind == "alarm.raised"))
    db_session.commit()
    assert (raised.actor_id, raised.data["rule"], raised.data["permit_id"]) == (
        "system",
        "HW-04",
        str(permit_id),
    )


# --- housekeeping ---------------------------------------------------------------------------------


def test_the_scheduler_purges_idempotency_answers_past_their_ttl_and_the_key_is_free_again(
    app, client, factory, db_session
):
    world = factory.world()
    headers = factory.headers(world.regulator, **{"Idempotency-Key": "national-day-2026"})
    first = client.post("/api/v1/freezes", json=freeze_body(world.district), headers=headers)
    assert first.status_code == 201
    ttl = timedelta(hours=app.config["IDEMPOTENCY_TTL_HOURS"])
    assert run(app, run_purge_idempotency_records, NOW + ttl - timedelta(seconds=1)).done == 0
    assert run(app, run_purge_idempotency_records, NOW + ttl).done == 1
    assert db_session.scalar(sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 0
    db_session.commit()
    # The same key now files a new freeze instead of replaying the first answer.
    again = client.post("/api/v1/freezes", json=freeze_body(world.district), headers=headers)
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first.get_json()["id"]


def test_the_scheduler_forgets_password_attempt_counts_once_their_window_has_ended(
    app, client, factory, db_session
):
    world = factory.world()
    for account in (world.people["applicant"].username, "nobody-at-all"):
        resp = client.post("/api/v1/auth/login", json={"username": account, "password": "wrong-password-1"})
        assert resp.status_code == 401
    window = timedelta(minutes=app.config["PERMIT_CONFIG"].auth_failure_window_minutes)
    assert run(app, run_purge_password_attempts, NOW + window - timedelta(seconds=1)).done == 0
    assert run(app, run_purge_password_attempts, NOW + window).done == 2
    assert db_session.scalar(sa.select(sa.func.count()).select_from(PasswordAttempts)) == 0


def test_DC_05_the_scheduler_forgets_plant_batch_keys_past_their_retention(app, factory, db_session):
    world = factory.world()
    retention = timedelta(days=app.config["PERMIT_CONFIG"].ingest_key_retention_days)
    for key, age in (("old", retention), ("recent", retention - timedelta(seconds=1))):
        db_session.add(
            IngestBatch(
                enterprise_id=world.enterprise.id, client_id="plant-portal", idempotency_key=key, kind="gas",
                request_hash="0" * 64, item_count=1, status_code=201, received_at=NOW - age,
            )
        )  # fmt: skip
    db_session.commit()
    assert run(app, jobs.run_purge_batch_keys, NOW).done == 1
    assert run(app, jobs.run_purge_batch_keys, NOW).done == 0
    keys = set(db_session.scalars(sa.select(IngestBatch.idempotency_key)))
    db_session.commit()
    assert keys == {None, "recent"}  # the batches stay as provenance; only the old key is forgotten
