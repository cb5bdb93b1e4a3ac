"""Several scheduler processes against one database still act once per item (FZ-03, G-12)."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from permit_service.freezes.models import Freeze
from permit_service.scheduling import jobs
from tests.conftest import TEST_JWT_SECRET
from tests.integration.scheduler_helpers import NOW, arrange, event_counts, run, states


def scheduler_process(database_url: str, job: str, now_iso: str, barrier: Any) -> dict[str, Any]:
    """One scheduler process: its own app, engine and connections; all processes start the job together."""
    from permit_service import create_app
    from permit_service.clock import FixedClock
    from permit_service.config import Config

    now = datetime.fromisoformat(now_iso)
    app = create_app(Config(env="test", database_url=database_url, jwt_secret_key=TEST_JWT_SECRET))
    app.extensions["clock"] = FixedClock(now)
    try:
        barrier.wait(timeout=60)
        with app.app_context():
            return getattr(jobs, job)(app.extensions["db_sessionmaker"], now).as_dict()
    finally:
        app.extensions["db_engine"].dispose()


def in_processes(database_url: str, job: str, now: datetime, n: int) -> list[dict[str, Any]]:
    """Run `job` at `now` in `n` scheduler processes at once."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        barrier = manager.Barrier(n)
        futures = [
            pool.submit(scheduler_process, database_url, job, now.isoformat(), barrier) for _ in range(n)
        ]
        return [f.result(timeout=600) for f in futures]


@pytest.mark.postgres_only
def test_FZ_03_four_scheduler_processes_suspend_each_running_permit_exactly_once(
    app, factory, db_session, database_url
):
    world = factory.world()
    freeze = Freeze(
        id=uuid.uuid4(),
        region_id=world.city.id,
        starts_at=NOW,
        ends_at=NOW + timedelta(days=7),
        reason="国庆节假期",
        types=["hot_work", "confined_space"],
        mode="strict",
        state="declared",
        created_by="test",
    )
    db_session.add(freeze)
    db_session.commit()
    ids = arrange(db_session, world, n=30) + arrange(db_session, world, n=30, other=True)
    reports = in_processes(database_url, "run_freeze_starts", NOW, 4)
    assert sum(r["done"] for r in reports) == 60
    assert sum(r["failed"] for r in reports) == 0
    assert states(db_session, ids) == {"suspended": 60}
    assert event_counts(db_session, "permit.suspend") == {str(i): 1 for i in ids}
    assert event_counts(db_session, "freeze.permit_suspended") == {str(i): 1 for i in ids}
    assert event_counts(db_session, "freeze.applied") == {str(freeze.id): 1}


@pytest.mark.postgres_only
def test_G_12_a_thousand_permits_due_in_one_minute_expire_once_with_four_processes(
    app, factory, db_session, database_url
):
    world = factory.world()
    ids = []
    for n in range(20):  # a city's worth: 20 enterprises with 50 permits each, due across one minute
        enterprise = factory.enterprise(world.district if n % 2 else world.other_district)
        area = factory.area(enterprise)
        for second in range(0, 60, 12):
            ids += arrange(
                db_session,
                world,
                n=10,
                enterprise_id=enterprise.id,
                area_id=area.id,
                valid_until=NOW - timedelta(seconds=60 - second),
            )
    reports = in_processes(database_url, "run_expire_permits", NOW, 4)
    assert sum(r["done"] for r in reports) == 1000
    assert sum(r["failed"] for r in reports) == 0
    assert all(r["done"] > 0 for r in reports)  # the work really was shared
    assert states(db_session, ids) == {"expired": 1000}
    counts = event_counts(db_session, "permit.expire")
    assert len(counts) == 1000
    assert set(counts.values()) == {1}


def test_G_12_two_runners_in_threads_expire_each_permit_once(app, factory, db_session):
    """The same on whichever database the suite runs (SQLite: BEGIN IMMEDIATE serialises the runners)."""
    world = factory.world()
    ids = arrange(db_session, world, n=40, valid_until=NOW - timedelta(seconds=1))
    reports: list[jobs.RunReport] = []
    barrier = threading.Barrier(2)

    def runner() -> None:
        barrier.wait()
        reports.append(run(app, jobs.run_expire_permits, NOW))

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.done for r in reports) == 40
    assert sum(r.failed for r in reports) == 0
    assert states(db_session, ids) == {"expired": 40}
    assert event_counts(db_session, "permit.expire") == {str(i): 1 for i in ids}


@pytest.mark.postgres_only
def test_one_per_cluster_jobs_take_an_advisory_lock(app, database_url):
    engine = sa.create_engine(database_url)
    factory = sa.orm.sessionmaker(bind=engine)
    try:
        with factory() as first, first.begin():
            assert jobs.cluster_lock(first, "holiday_proposals") is True
            with factory() as second, second.begin():
                assert jobs.cluster_lock(second, "holiday_proposals") is False
                assert jobs.cluster_lock(second, "silent_feeds") is True
        with factory() as third, third.begin():
            assert jobs.cluster_lock(third, "holiday_proposals") is True  # released with the transaction
    finally:
        engine.dispose()
