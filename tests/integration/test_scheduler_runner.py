"""The scheduler process: its jobs and their APScheduler options and the `--once` mode."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

from permit_service.scheduling.runner import build_scheduler, job_specs, run_all_once
from tests.integration.scheduler_helpers import NOW, arrange, states


def test_every_job_is_scheduled_once_at_a_time_coalesced_and_never_dropped_for_lateness(app):
    scheduler = build_scheduler(app)
    scheduled = {job.id: job for job in scheduler.get_jobs()}
    assert set(scheduled) == {
        "expire_permits", "freeze_starts", "confined_space_monitoring", "hot_work_retests", "working_period_ends",
        "silent_feeds", "outbox", "seal_checkpoints", "purge_revocations", "purge_password_attempts", "purge_idempotency_records", "purge_batch_keys",
        "holiday_proposals",
    }  # fmt: skip
    for job in scheduled.values():
        assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, None)
    assert scheduled["expire_permits"].trigger.interval == timedelta(seconds=30)
    assert scheduled["outbox"].trigger.interval == timedelta(seconds=5)


def test_the_intervals_come_from_the_configuration(app):
    app.config["PERMIT_CONFIG"].scheduler_tick_seconds = 10
    assert {s.name: s.seconds for s in job_specs(app)}["freeze_starts"] == 10


def test_the_web_app_never_starts_a_scheduler(app, client):
    client.get("/healthz")
    assert not [
        t for t in threading.enumerate() if "APScheduler" in t.name or "apscheduler" in repr(t.__class__)
    ]


def test_once_mode_runs_every_job_and_reports(app, factory, db_session):
    world = factory.world()
    ids = arrange(db_session, world, n=2, valid_until=NOW - timedelta(minutes=1))
    reports = {r.job: r for r in run_all_once(app)}
    assert reports["expire_permits"].done == 2
    assert all(r.failed == 0 for r in reports.values())
    assert states(db_session, ids) == {"expired": 2}


def _lags(client) -> dict[str, float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {
        job: float(v)
        for job, v in re.findall(r'^permit_scheduler_lag_seconds\{job="(\w+)"\} (\S+)$', text, re.M)
    }


def test_the_scheduler_lag_of_each_job_is_a_metric(app, client, clock):
    assert _lags(client) == {}
    run_all_once(app)
    specs = {spec.name: spec.seconds for spec in job_specs(app)}
    assert _lags(client) == dict.fromkeys(specs, 0.0)
    clock.advance(timedelta(seconds=specs["expire_permits"] + 100))
    lags = _lags(client)
    assert lags["expire_permits"] == 100.0
    assert lags["purge_revocations"] == 0.0  # hourly: not due yet
    run_all_once(app)
    assert set(_lags(client).values()) == {0.0}
