#!/usr/bin/env python3
"""The permit list at 1,000,000 permits on PostgreSQL (issue 14: a page of 50, filtered, p99 <= 50 ms).

It makes (once) the database `perf1m` on 127.0.0.1:5432: migrated, the demo seeded, then 1,000,000 permits added
by one INSERT … SELECT over generate_series, each a copy of a demo draft's columns with a new id and number, spread
over the two demo enterprises' areas, the eight types and a year of history (90 % closed, 6 % cancelled, 3 %
rejected, the rest in the live states), then VACUUM ANALYZE. The list reads the permit rows alone (the caller and
one page: 2 statements), so the copies carry no crew, signatures or audit events. Later runs reuse the database.

Then, in one process through Flask's test client (no HTTP, no other requests), it times GET /api/v1/permits?limit=50
as lh.work_leader with each filter, and the next page through the first page's cursor, and prints p50/p99.

  .venv/bin/python bench/bench_list_1m.py [--db postgresql://postgres@127.0.0.1:5432/perf1m] [--requests 200]
  .venv/bin/python bench/bench_list_1m.py --explain      # also prints each page's plan (EXPLAIN ANALYZE, BUFFERS)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PERMITS = 1_000_000
PASSWORD = "Demo@Rizhao2026"
# state by the permit's position in 10,000 (a year of history: mostly closed; a few live)
STATE_SQL = """CASE
    WHEN g % 10000 < 9000 THEN 'closed'
    WHEN g % 10000 < 9600 THEN 'cancelled'
    WHEN g % 10000 < 9900 THEN 'rejected'
    WHEN g % 10000 < 9920 THEN 'active'
    WHEN g % 10000 < 9940 THEN 'suspended'
    WHEN g % 10000 < 9960 THEN 'approved'
    WHEN g % 10000 < 9980 THEN 'submitted'
    ELSE 'draft' END"""


def _ensure_database(dsn: str) -> None:
    name = dsn.rsplit("/", 1)[1]
    with psycopg.connect(dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def _migrate(dsn: str, url: str) -> None:
    """Migrate, and seed the demo into an empty database."""
    env = os.environ | {"DATABASE_URL": url}
    bin_dir = Path(sys.executable).parent

    def run(*cmd: str) -> None:
        subprocess.run([bin_dir / "permit-service", *cmd], env=env, cwd=ROOT, check=True, capture_output=True)

    run("db", "upgrade")  # first: a new database has no table to ask about
    with psycopg.connect(dsn) as conn:
        seeded = conn.execute("SELECT EXISTS (SELECT FROM people)").fetchone()[0]
    if not seeded:
        run("seed-demo")


class _InProcessApi:
    """seed_project.Api's calls through the test client."""

    def __init__(self, client) -> None:
        self.client = client

    def call(self, method, path, body=None, token=None, headers=None, ok=None):
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        r = self.client.open("/api/v1" + path, method=method, json=body, headers=auth | (headers or {}))
        return r.status_code, r.json, r.headers

    def login(self, username: str) -> str:
        return self.call("POST", "/auth/login", {"username": username, "password": PASSWORD})[1][
            "access_token"
        ]


def _bulk(dsn: str, client) -> None:
    """Add the bulk permits, copies of one walkthrough draft filed through the app, if they are not there yet."""
    with psycopg.connect(dsn) as conn:
        have = conn.execute("SELECT count(*) FROM permits").fetchone()[0]
        if have >= PERMITS:
            return
        if have == 0:
            sys.path.insert(0, str(ROOT / "bench" / "compare"))
            from seed_project import Scene  # the walkthrough's draft

            api = _InProcessApi(client)
            scene = Scene(api)
            status, out, _ = api.call(
                "POST", "/permits", scene.draft("LH-W900", 1), token=api.login("lh.applicant")
            )
            assert status == 201, out
            have = 1
        t0 = time.perf_counter()
        cols = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'permits' "
                "ORDER BY ordinal_position"
            )
        ]
        n = PERMITS - have
        vary = {
            "id": "gen_random_uuid()",
            "enterprise_id": "a.enterprise_id",
            "area_id": "a.id",
            "number": "'B' || lpad(g::text, 9, '0')",
            "state": STATE_SQL,
            "created_at": f"now() - make_interval(secs => (g * 31536000.0 / {n}))",
            "updated_at": f"now() - make_interval(secs => (g * 31536000.0 / {n}))",
            "version": "1 + g % 9",
        }
        from permit_service.permits.schemas import PERMIT_TYPES

        vary["type"] = f"(ARRAY{list(PERMIT_TYPES)!r})[1 + g % {len(PERMIT_TYPES)}]"
        select = ", ".join(vary.get(c, f"t.{c}") for c in cols)
        # The areas of the permits' enterprises, numbered, so that permit g lands in area g mod their count.
        conn.execute(
            f"""
            WITH t AS (SELECT * FROM permits p ORDER BY pg_column_size(p.*) LIMIT 1),  -- the smallest demo row
                 a AS (SELECT id, enterprise_id, row_number() OVER (ORDER BY code) - 1 AS k FROM plant_areas)
            INSERT INTO permits ({", ".join(cols)})
            SELECT {select} FROM generate_series(1, {n}) AS g, t, a WHERE a.k = g % (SELECT count(*) FROM plant_areas)
            """,
        )
        conn.commit()
        print(f"loaded {n} permits in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE permits")


def _time(client, path: str, headers: dict, n: int) -> tuple[float, float, dict]:
    first = client.get(path, headers=headers)
    assert first.status_code == 200, first.data[:300]
    for _ in range(5):  # warm: plans cached, pages in shared buffers
        client.get(path, headers=headers)
    took = []
    cpu = time.process_time()
    for _ in range(n):
        t = time.perf_counter()
        client.get(path, headers=headers)
        took.append((time.perf_counter() - t) * 1000)
    cpu_ms = (time.process_time() - cpu) * 1000 / n
    took.sort()
    return statistics.median(took), took[int(0.99 * (len(took) - 1))], cpu_ms, first.json


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/perf1m")
    ap.add_argument("--requests", type=int, default=200, help="timed requests per query")
    ap.add_argument("--explain", action="store_true", help="print each page's plan")
    args = ap.parse_args(argv)
    url = args.db.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        _ensure_database(args.db)
    except psycopg.OperationalError as exc:
        print(f"skipped: no PostgreSQL at {args.db} ({exc})")
        return 0
    _migrate(args.db, url)

    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from permit_service import create_app
    from permit_service.db import get_engine

    app = create_app()
    client = app.test_client()
    _bulk(args.db, client)
    headers = {"Authorization": f"Bearer {_InProcessApi(client).login('lh.work_leader')}"}
    with psycopg.connect(args.db) as conn:
        total = conn.execute("SELECT count(*) FROM permits").fetchone()[0]
        area, number = conn.execute(
            "SELECT p.area_id, p.number FROM permits p JOIN people u ON u.enterprise_id = p.enterprise_id "
            "WHERE u.username = 'lh.work_leader' ORDER BY p.created_at DESC OFFSET 5000 LIMIT 1"
        ).fetchone()
    queries = {
        "no filter": "",
        "type=hot_work": "&type=hot_work",
        "state=active": "&state=active",
        "state=closed": "&state=closed",
        f"area_id ({str(area)[:8]}…)": f"&area_id={area}",
        f"number={number}": f"&number={number}",
    }
    statements: list[tuple[str, object]] = []
    with app.app_context():
        engine = get_engine()
    sa.event.listen(
        engine, "before_cursor_execute", lambda _c, _cur, stmt, params, *_a: statements.append((stmt, params))
    )
    load1 = os.getloadavg()[0]
    rows = []
    for label, query in queries.items():
        path = f"/api/v1/permits?limit=50{query}"
        p50, p99, cpu, page = _time(client, path, headers, args.requests)
        rows.append((label, len(page["items"]), p50, p99, cpu))
        if page.get("next_cursor"):
            nxt = f"{path}&cursor={page['next_cursor']}"
            p50, p99, cpu, page2 = _time(client, nxt, headers, args.requests)
            rows.append((f"{label}, next page", len(page2["items"]), p50, p99, cpu))
        if args.explain:
            for what, url_ in (
                (label, path),
                (f"{label}, next page", nxt if page.get("next_cursor") else None),
            ):
                if url_ is None:
                    continue
                statements.clear()
                client.get(url_, headers=headers)
                stmt, params = statements[-1]
                with engine.connect() as conn:
                    plan = conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + stmt, params
                    ).scalars()
                    print(f"-- {what}\n" + "\n".join(plan), file=sys.stderr)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit.stdout.strip()}, {total:,} permits, "
        f"{os.cpu_count()} CPUs, load {load1:.1f}; in-process GET /api/v1/permits?limit=50 as lh.work_leader, "
        f"{args.requests} requests each after 5 warm-up"
    )
    print("| query | items | p50 ms | p99 ms | this process's CPU ms per request |\n|---|---|---|---|---|")
    for label, items, p50, p99, cpu in rows:
        print(f"| {label} | {items} | {p50:.1f} | {p99:.1f} | {cpu:.1f} |")
    worst = max(p99 for *_, p99, _cpu in rows)
    print(f"target (p99 <= 50 ms): {'met' if worst <= 50 else 'missed'} (worst p99 {worst:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
