"""Throughput of gas-reading pushes: batches of 1,000 through the HTTP API on SQLite and PostgreSQL.

Each batch goes the whole way a plant's push goes: JWT, Idempotency-Key, schema, detector and range checks,
one set-wise insert, the feed's liveness, and the gas rule of the active permits in the batch's areas.

    .venv/bin/python bench/bench_readings.py                      # SQLite file and local PostgreSQL
    .venv/bin/python bench/bench_readings.py --batches 50 --only sqlite
    BENCH_PG_URL=postgresql+psycopg://user@host:5432/postgres .venv/bin/python bench/bench_readings.py

PostgreSQL runs in a scratch database `permit_bench_readings`, dropped and re-created each run.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from permit_service import create_app
from permit_service.auth.models import IntegrationClient
from permit_service.auth.passwords import hash_secret
from permit_service.auth.tokens import issue_tokens, principal_of_client
from permit_service.clock import FixedClock
from permit_service.config import Config
from permit_service.directory.models import Enterprise, Person, PlantArea, Region
from permit_service.migrate import upgrade
from permit_service.permits.models import Permit, PermitCrewMember

BATCH = 1000
DETECTORS = 200
AREAS = 10
NOW = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_DB = "permit_bench_readings"


def _pg_url() -> str:
    admin = sa.make_url(PG_ADMIN)
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{PG_DB}"')
    engine.dispose()
    return admin.set(database=PG_DB).render_as_string(hide_password=False)


def _scene(app) -> tuple[str, list[str]]:
    """An enterprise with areas, detectors and one active hot-work permit per area; returns a token and codes."""
    session = app.extensions["db_sessionmaker"]()
    region = Region(code="371102", name="东港区", level="district")
    session.add(region)
    session.flush()
    enterprise = Enterprise(name="基准化工", credit_code="91371100BENCH00001", region_id=region.id)
    session.add(enterprise)
    session.flush()
    areas = [
        PlantArea(
            enterprise_id=enterprise.id, code=f"A{i}", name=f"装置区{i}", running_unit=True, flammable=True
        )
        for i in range(AREAS)
    ]
    session.add_all(areas)
    people = {
        role: Person(username=f"bench-{role}", name=role, roles=[role], enterprise_id=enterprise.id)
        for role in ("applicant", "work_leader", "guardian")
    }
    client = IntegrationClient(
        client_id="bench-dcs",
        secret_hash=hash_secret("bench-secret-0123456789"),
        name="DCS",
        enterprise_id=enterprise.id,
    )
    session.add_all([*people.values(), client])
    session.flush()
    for i, area in enumerate(areas):
        permit = Permit(
            enterprise_id=enterprise.id, area_id=area.id, number=f"DH-BENCH-{i}", type="hot_work", grade="level1",
            state="active", title="bench", valid_from=NOW - timedelta(hours=1), valid_until=NOW + timedelta(hours=7),
            applicant_id=people["applicant"].id, activated_at=NOW - timedelta(hours=1), created_at=NOW,
        )  # fmt: skip
        permit.crew = [
            PermitCrewMember(person_id=people["work_leader"].id, role="work_leader"),
            PermitCrewMember(person_id=people["guardian"].id, role="guardian", position=1),
        ]
        session.add(permit)
    session.commit()
    with app.app_context():
        token = issue_tokens(principal_of_client(client), with_refresh=False)["access_token"]
    session.close()
    headers = {"Authorization": f"Bearer {token}"}
    http = app.test_client()
    http.post(
        "/api/v1/integrations/feeds",
        json={"code": "GDS", "kind": "gas", "area_codes": [a.code for a in areas]},
        headers=headers,
    )
    codes = []
    for i in range(DETECTORS):
        code = f"GD-{i:03d}"
        resp = http.post(
            "/api/v1/integrations/detectors",
            json={"code": code, "area_code": f"A{i % AREAS}", "gas": "CH4", "unit": "%LEL", "feed": "GDS"},
            headers=headers,
        )
        assert resp.status_code == 201, resp.get_json()
        codes.append(code)
    return token, codes


def run(name: str, url: str, batches: int) -> float:
    """Push `batches` batches of 1,000 readings (all within the limits) and return readings per second."""
    cfg = Config(env="test", database_url=url, jwt_secret_key="bench-secret-key-0123456789abcdef0123")
    upgrade(url)
    app = create_app(cfg)
    app.extensions["clock"] = FixedClock(NOW)
    token, codes = _scene(app)
    http = app.test_client()
    rng = random.Random(7)
    bodies = [
        {
            "readings": [
                {"detector": rng.choice(codes), "value": round(rng.uniform(0, 8), 2),
                 "measured_at": (NOW - timedelta(seconds=rng.randint(0, 600))).isoformat()}
                for _ in range(BATCH)
            ]
        }
        for _ in range(batches)
    ]  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    http.post(
        "/api/v1/integrations/gas-readings", json=bodies[0], headers={**headers, "Idempotency-Key": "warm-up"}
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    for body in bodies:
        resp = http.post(
            "/api/v1/integrations/gas-readings",
            json=body,
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert resp.status_code == 201, resp.get_json()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    app.extensions["db_engine"].dispose()
    rate = batches * BATCH / elapsed
    # CPU seconds of this process (client and service; not PostgreSQL's): a figure a busy machine disturbs less.
    print(f"{name:<11} {batches} batches x {BATCH} readings in {elapsed:6.2f} s = {rate:9,.0f} readings/s "
          f"({elapsed / batches * 1000:6.1f} ms per batch; {batches * BATCH / cpu:9,.0f} readings per CPU-second)")  # fmt: skip
    return rate


def main() -> None:
    """Run the benchmark on the chosen databases and print readings per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    print(f"{AREAS} areas with an active hot-work permit each, {DETECTORS} detectors, every batch judged")
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.batches)
    if args.only != "sqlite":
        run("PostgreSQL", _pg_url(), args.batches)


if __name__ == "__main__":
    main()
