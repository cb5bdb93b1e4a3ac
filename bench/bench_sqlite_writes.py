#!/usr/bin/env python3
"""Writes on SQLite as `make run` serves them (issue 14): gunicorn with 5 sync workers on one WAL file.

Target: 100 writes/s offered, all achieved, no 5xx, p99 <= 200 ms.

It migrates and seeds the demo into a fresh temporary SQLite file (`permit-service db upgrade`, `seed-demo`),
starts `gunicorn --config gunicorn.conf.py wsgi:app` on a free loopback port, logs in as the demo users, files
the drafts the cancels will need, then offers the writes open-loop with the shared load generator
(`loadgen.py`, $PERF_DIR, by default the main checkout's ../shared/perf): evenly spaced, 4 in 5 creates (POST
/api/v1/permits, the README walkthrough's hot-work draft, by lh.applicant with an Idempotency-Key) and 1 in 5
cancels of a draft (POST /api/v1/permits/{id}/cancel with If-Match, each draft cancelled once). It prints the
generator's JSON line and a one-line summary; nothing is kept afterwards.

  .venv/bin/python bench/bench_sqlite_writes.py [--rate 100] [--duration 20] [--workers 5]

This file is also the generator's scenario plug-in (`SCENARIOS` below): loadgen imports it, so the code at module
level uses the standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"
CANCEL_EVERY = 5  # one request in CANCEL_EVERY is a cancel
CANCEL = {"reason": "作业计划调整，取消本次作业"}


def _fixture(ctx) -> dict:
    if "fixture" not in ctx.cache:
        with open(ctx.params["fixture"]) as f:
            ctx.cache["fixture"] = json.load(f)
        ctx.cache["drafts"] = iter(ctx.cache["fixture"]["drafts"])
    return ctx.cache["fixture"]


def writes(ctx, k):
    """Request k of the mix: a cancel of a prepared draft every CANCEL_EVERY-th, a create otherwise."""
    fx = _fixture(ctx)
    auth = {"Authorization": f"Bearer {fx['token']}"}
    if k % CANCEL_EVERY == CANCEL_EVERY - 1:
        draft = next(ctx.cache["drafts"], None)
        if draft is not None:
            return (
                "POST",
                f"{API}/permits/{draft['id']}/cancel",
                CANCEL,
                auth | {"If-Match": f'"{draft["version"]}"'},
            )
    body = dict(fx["draft"], title=f"{fx['draft']['title']} #{k}")
    return "POST", f"{API}/permits", body, auth | {"Idempotency-Key": f"bench-{fx['run']}-{k}"}


SCENARIOS = {"sqlite-writes": writes}


def _perf_dir() -> Path:
    if os.environ.get("PERF_DIR"):
        return Path(os.environ["PERF_DIR"])
    # A worktree's ../shared is not the main checkout's: ask git where the main checkout is.
    common = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(common).parent.parent / "shared" / "perf"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True
    )
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _workers_cpu_s(server: subprocess.Popen) -> float:
    """CPU seconds the server's workers have used so far (Linux /proc)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    ticks = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer within 60 s")


def _prepare(url: str, drafts: int) -> dict:
    """Log in, and file the drafts the cancels will take (sequentially, before the measured run)."""
    sys.path.insert(0, str(ROOT / "bench" / "compare"))
    from seed_project import Api, Scene  # the walkthrough's users, areas and draft body

    api = Api(url)
    scene = Scene(api)
    token = api.login("lh.applicant")
    draft = scene.draft("LH-W900", 1, hours=6.0)
    made = []
    for i in range(drafts):
        _, p, _ = api.call("POST", "/permits", scene.draft("LH-W900", i, hours=6.0), token=token)
        made.append({"id": p["id"], "version": p["version"]})
    return {"token": token, "draft": draft, "drafts": made, "run": uuid.uuid4().hex[:8]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=100.0, help="writes offered per second")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds measured")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds offered first, not measured")
    ap.add_argument("--workers", type=int, default=5, help="gunicorn workers (WEB_CONCURRENCY)")
    ap.add_argument("--connections", type=int, default=64, help="the generator's connections")
    args = ap.parse_args(argv)

    bin_dir = Path(sys.executable).parent
    loadgen = _perf_dir() / "loadgen.py"
    if not loadgen.exists():
        print(f"skipped: no {loadgen} (set PERF_DIR to the shared harness)")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = os.environ | {
            "DATABASE_URL": f"sqlite:///{tmp}/permits.db",
            "WEB_CONCURRENCY": str(args.workers),
            "PORT": str(port),
            "LISTEN_HOST": "127.0.0.1",
            "LOG_LEVEL": "warning",
            "PROMETHEUS_MULTIPROC_DIR": f"{tmp}/metrics",
        }
        env.pop("PERMIT_ENV", None)
        for cmd in (["db", "upgrade"], ["seed-demo"]):
            subprocess.run(
                [bin_dir / "permit-service", *cmd], env=env, cwd=ROOT, check=True, capture_output=True
            )
        log = open(f"{tmp}/gunicorn.log", "w")  # noqa: SIM115 - closed with the server below
        server = subprocess.Popen(
            [bin_dir / "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_up(url, server)
            offered = args.rate * (args.duration + args.warmup)
            fixture = _prepare(url, drafts=int(offered / CANCEL_EVERY) + 10)
            fixture_path = f"{tmp}/fixture.json"
            Path(fixture_path).write_text(json.dumps(fixture, ensure_ascii=False))
            load1 = os.getloadavg()[0]
            cpu0 = _workers_cpu_s(server)
            run = subprocess.run(
                [sys.executable, loadgen, "--url", url, "--token", "", "--scenarios", __file__,
                 "--scenario", "sqlite-writes", "--param", f"fixture={fixture_path}",
                 "--rate", str(args.rate), "--duration", str(args.duration), "--warmup", str(args.warmup),
                 "--connections", str(args.connections), "--label", f"sqlite-{args.workers}w"],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            cpu = _workers_cpu_s(server) - cpu0
        finally:
            server.terminate()
            server.wait(timeout=60)
            log.close()
        result = json.loads(run.stdout.strip().splitlines()[-1])
        locked = Path(f"{tmp}/gunicorn.log").read_text().count("database is locked")
    status = result.get("status", {})
    answered = sum(status.values()) + result["warmup"]["ok"]
    server_errors = sum(n for code, n in status.items() if code.startswith("5"))
    print(json.dumps(result))
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} commit {_commit()} {os.cpu_count()} CPUs, "
        f"load {load1:.1f}: offered {args.rate:g}/s for {args.duration:g} s "
        f"({args.workers} workers, 1 in {CANCEL_EVERY} a cancel): achieved {result['achieved_rate']}/s, "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms, status {status}, "
        f"5xx {server_errors}, errors {result['errors']}, unsent {result.get('unsent', 0)}, "
        f"'database is locked' in the log {locked}; the workers' CPU {cpu * 1000 / max(answered, 1):.1f} ms "
        "per answered request"
    )
    met = (
        server_errors == 0
        and not result["errors"]
        and not result.get("unsent")
        and result["achieved_rate"] >= 0.98 * args.rate
        and result["p99_ms"] <= 200
    )
    print("target (all achieved, no 5xx, p99 <= 200 ms):", "met" if met else "missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
