"""Expiry throughput (G-12): N permits due at once, expired by 1, 2 and 4 scheduler processes on PostgreSQL.

Every expiry goes the whole way the scheduler's does: take the row with FOR UPDATE SKIP LOCKED, re-check it,
fire `expire` through the workflow with the context providers, bump the version, append the hash-chained event
(and the webhook outbox rows its listeners write), commit. The bench also checks each permit expired once.

    .venv/bin/python bench/bench_expiry.py                       # 1,000 permits, 20 enterprises, 1/2/4 runners
    .venv/bin/python bench/bench_expiry.py --permits 300 --runners 1 4
    BENCH_PG_URL=postgresql+psycopg://user@host:5432/postgres .venv/bin/python bench/bench_expiry.py

Runs in a scratch database `permit_bench_expiry`, dropped and re-created for each runner count.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from permit_service import create_app
from permit_service.audit import service as audit
from permit_service.audit.models import Event
from permit_service.auth.principal import SYSTEM
from permit_service.clock import FixedClock
from permit_service.config import Config
from permit_service.directory.models import Enterprise, Person, PlantArea, Region
from permit_service.migrate import upgrade
from permit_service.permits.models import Permit
from permit_service.scheduling.jobs import run_expire_permits

NOW = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_DB = "permit_bench_expiry"
SECRET = "bench-secret-0123456789abcdef0123456789"


def fresh_database() -> str:
    """Drop and re-create the scratch database, migrated."""
    admin = sa.make_url(PG_ADMIN)
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{PG_DB}"')
    engine.dispose()
    url = admin.set(database=PG_DB).render_as_string(hide_password=False)
    upgrade(url)
    return url


def app_for(url: str) -> Any:
    app = create_app(Config(env="test", database_url=url, jwt_secret_key=SECRET))
    app.extensions["clock"] = FixedClock(NOW)
    return app


def seed(url: str, permits: int, enterprises: int) -> None:
    """`permits` active hot-work permits spread over `enterprises`, all due within the last minute."""
    app = app_for(url)
    with app.app_context(), app.extensions["db_sessionmaker"]() as session, session.begin():
        region = Region(id=uuid.uuid4(), code="371102", name="东港区", level="district")
        session.add(region)
        session.flush()
        rows = []
        for e in range(enterprises):
            enterprise = Enterprise(
                id=uuid.uuid4(), name=f"基准化工{e}", credit_code=f"91371100BENCH{e:05d}", region_id=region.id
            )
            session.add(enterprise)
            session.flush()
            area = PlantArea(id=uuid.uuid4(), enterprise_id=enterprise.id, code="A1", name="装置区")
            person = Person(
                id=uuid.uuid4(),
                username=f"bench{e}",
                name="申请人",
                roles=["applicant"],
                enterprise_id=enterprise.id,
            )
            session.add_all([area, person])
            session.flush()
            audit.record(
                session, kind="bench.seeded", actor=SYSTEM, subject_type="enterprise", subject_id=enterprise.id,
                enterprise_id=enterprise.id,
            )  # fmt: skip
            for i in range(permits // enterprises):
                rows.append(
                    {
                        "id": uuid.uuid4(), "enterprise_id": enterprise.id, "area_id": area.id,
                        "number": f"DH-2026-{i:06d}", "type": "hot_work", "grade": "level1", "state": "active",
                        "version": 1, "title": "补焊", "valid_from": NOW - timedelta(hours=8),
                        "valid_until": NOW - timedelta(seconds=i % 60), "facts": {}, "measures": [],
                        "applicant_id": person.id, "created_at": NOW - timedelta(hours=9),
                        "updated_at": NOW - timedelta(hours=9),
                    }
                )  # fmt: skip
        session.execute(sa.insert(Permit), rows)
    app.extensions["db_engine"].dispose()


def runner(url: str, barrier: Any) -> dict[str, Any]:
    """One scheduler process running the expiry job once."""
    app = app_for(url)
    barrier.wait(timeout=120)
    cpu = time.process_time()
    with app.app_context():
        report = run_expire_permits(app.extensions["db_sessionmaker"], NOW).as_dict()
    report["cpu_s"] = time.process_time() - cpu
    app.extensions["db_engine"].dispose()
    return report


def measure(permits: int, enterprises: int, runners: int) -> None:
    url = fresh_database()
    seed(url, permits, enterprises)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ProcessPoolExecutor(max_workers=runners, mp_context=ctx) as pool:
        barrier = manager.Barrier(runners + 1)
        futures = [pool.submit(runner, url, barrier) for _ in range(runners)]
        barrier.wait(timeout=120)
        started = time.perf_counter()
        reports = [f.result() for f in futures]
        elapsed = time.perf_counter() - started
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        expired = conn.scalar(sa.select(sa.func.count()).where(Permit.state == "expired"))
        events = conn.execute(
            sa.select(Event.subject_id, sa.func.count())
            .where(Event.kind == "permit.expire")
            .group_by(Event.subject_id)
        ).all()
    engine.dispose()
    once = len(events) == expired and all(n == 1 for _, n in events)
    done = [r["done"] for r in reports]
    # The runners' own CPU per item does not move with the shared machine's load the way wall time does.
    cpu_ms = 1000 * sum(r["cpu_s"] for r in reports) / max(expired, 1)
    print(
        f"{runners} runner(s): {expired} expired in {elapsed:.1f} s = {expired / elapsed:.0f}/s "
        f"({1000 * elapsed / max(expired, 1):.1f} ms/item wall, {cpu_ms:.1f} ms/item runner CPU), "
        f"per runner {done}, failed {sum(r['failed'] for r in reports)}, each exactly once: {once}, "
        f"load {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permits", type=int, default=1000)
    parser.add_argument("--enterprises", type=int, default=20)
    parser.add_argument("--runners", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    print(
        f"PostgreSQL {PG_ADMIN.split('@')[-1]}, {args.permits} permits in {args.enterprises} enterprises, {os.cpu_count()} CPUs"
    )
    for n in args.runners:
        measure(args.permits, args.enterprises, n)


if __name__ == "__main__":
    main()
