"""The scheduler process: APScheduler's BlockingScheduler running the job bodies on intervals, never in gunicorn.

Several of these processes may run at once (by mistake, or during a rolling deploy): the job bodies
make every act happen once. In-process, each job runs at most one instance at a time, late runs are
coalesced into one, and a run is never dropped for being late (it scans by time, so it catches up).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy.dialects import postgresql, sqlite

from permit_service import clock
from permit_service.scheduling import jobs
from permit_service.scheduling.models import SchedulerRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """A scheduled job: its body, how often it runs, and the rule it serves."""

    name: str
    run: Callable[[jobs.SessionFactory, datetime], jobs.RunReport]
    seconds: int
    rule: str


def job_specs(app: Flask) -> list[JobSpec]:
    """Every job with its interval from the configuration."""
    cfg = app.config["PERMIT_CONFIG"]
    tick = cfg.scheduler_tick_seconds
    return [
        JobSpec("expire_permits", jobs.run_expire_permits, tick, "G-12"),
        JobSpec("freeze_starts", jobs.run_freeze_starts, tick, "FZ-03"),
        JobSpec("confined_space_monitoring", jobs.run_confined_space_monitoring, tick, "CS-03"),
        JobSpec("hot_work_retests", jobs.run_hot_work_retests, 5 * tick, "HW-04"),
        JobSpec("working_period_ends", jobs.run_working_period_ends, tick, "HW-03"),
        JobSpec("silent_feeds", jobs.run_silent_feeds, tick, "DC-03"),
        JobSpec("outbox", jobs.run_outbox, cfg.scheduler_outbox_seconds, "DC-04"),
        JobSpec("seal_checkpoints", jobs.run_seal_checkpoints, tick, "AU-02"),
        JobSpec("purge_revocations", jobs.run_purge_revocations, 3600, "tokens"),
        JobSpec("purge_password_attempts", jobs.run_purge_password_attempts, 3600, "password attempts"),
        JobSpec("purge_idempotency_records", jobs.run_purge_idempotency_records, 3600, "Idempotency-Key"),
        JobSpec("purge_batch_keys", jobs.run_purge_batch_keys, 3600, "DC-05"),
        JobSpec("holiday_proposals", jobs.run_holiday_proposals, 6 * 3600, "FZ-04"),
    ]


def run_job(app: Flask, spec: JobSpec) -> jobs.RunReport:
    """Run one job now, in a fresh app context (request-scoped caches start empty each run), and record that it
    ran (the scheduler-lag metric reads it)."""
    with app.app_context():
        report = spec.run(app.extensions["db_sessionmaker"], clock.now())
        record_run(app.extensions["db_sessionmaker"], spec, clock.now())
    level = (
        logging.WARNING if report.failed or report.note else logging.INFO if report.done else logging.DEBUG
    )
    log.log(
        level,
        "job %s (%s): done=%d skipped=%d failed=%d %s",
        spec.name,
        spec.rule,
        report.done,
        report.skipped,
        report.failed,
        report.note,
    )
    return report


def record_run(sessions: jobs.SessionFactory, spec: JobSpec, finished_at: datetime) -> None:
    """Upsert when `spec` last finished (two schedulers may record at once: the last write wins)."""
    with sessions() as session, session.begin():
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        values = {"finished_at": finished_at, "interval_seconds": spec.seconds}
        session.execute(
            dialect.insert(SchedulerRun)
            .values(job=spec.name, **values)
            .on_conflict_do_update(index_elements=[SchedulerRun.job], set_=values)
        )


def run_all_once(app: Flask) -> list[jobs.RunReport]:
    """Run every job once (the `--once` mode: cron, a Kubernetes CronJob, a smoke test)."""
    return [run_job(app, spec) for spec in job_specs(app)]


def build_scheduler(app: Flask) -> BlockingScheduler:
    """A BlockingScheduler with every job; each first runs at start-up to catch up."""
    scheduler = BlockingScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=4)},
    )
    started = datetime.now(UTC)
    for spec in job_specs(app):
        scheduler.add_job(
            run_job,
            "interval",
            seconds=spec.seconds,
            args=(app, spec),
            id=spec.name,
            name=f"{spec.name} ({spec.rule})",
            next_run_time=started,
            # One run of a job at a time; runs missed while busy or down collapse into one; a late run
            # still runs (APScheduler's default grace of 1 s would drop it): the job scans by time.
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
    return scheduler


def serve(app: Flask) -> None:
    """Run the scheduler in the foreground until SIGTERM or SIGINT, finishing the runs in progress."""
    scheduler = build_scheduler(app)
    # APScheduler logs every run at INFO (the outbox runs every few seconds); our own line per run says more.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("scheduler stopping on signal %d", signum)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("scheduler starting with jobs: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    scheduler.start()
