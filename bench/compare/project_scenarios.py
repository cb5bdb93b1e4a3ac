"""loadgen scenarios for the permit service (the project), matching the floor's by name.

  python perf/loadgen.py --url http://127.0.0.1:8104 --token '' --scenarios perf/project_scenarios.py \
      --param fixture=/tmp/perf/fixture.json --scenario transition --saturate --connections 16 --duration 10

`--token ''`: every request carries the bearer token of the person who would send it (from the fixture).
The fixture is written by `seed_project.py fixture --out FILE`; make a fresh one before each run of
`transition` (it holds a pool of active permits at a known version) and of `hot-transition`.

| scenario | request | who |
|---|---|---|
| read | GET /api/v1/permits/{random id of the enterprise's ~100k permits} | lh.work_leader |
| list | GET /api/v1/permits?state=active&limit=50 (param list_query) | lh.work_leader |
| transition | POST /api/v1/permits/{id}/suspend, then later /resume on the same permit, with If-Match: the pool's permits are visited in a shuffled round-robin, so two requests never race for one permit and each knows the version it changes (the pool must be larger than the requests in flight, param inflight, default 64; permits whose last request may have gone unsent at a phase end are skipped for the rest of the run); param prefer | lh.guardian suspends, lh.work_leader resumes |
| hot-transition | POST /api/v1/permits/{hot}/gas-tests (a passing CH4 test) on ONE active permit, no If-Match: 16 clients queued on one row. Suspend/resume cannot be hammered concurrently on one permit without 409/412, so the state-keeping act that every permit in work repeats is used; param prefer | lh.analyst |
| create | POST /api/v1/permits, a complete hot-work draft (README walkthrough shape, ~1.3 KB), Idempotency-Key; param prefer | lh.applicant |
| ingest500 | POST /api/v1/integrations/gas-readings, 500 readings of the registered PERF-* detectors, Idempotency-Key (required); 8 bodies built once, each request a new key | client lh-plant-portal |

Param prefer (e.g. `--param prefer=minimal`): transition, hot-transition and create send `Prefer: return=<prefer>`
(RFC 7240; with `return=minimal` the permit writes answer the permit's id, number, type, state, version and
updated_at only, README "API documentation"); without the param they send no Prefer header, as before.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import random
import uuid

API = "/api/v1"
UTC = dt.UTC


def _fixture(ctx) -> dict:
    fx = ctx.cache.get("fixture")
    if fx is None:
        path = ctx.params.get("fixture") or os.environ.get("PROJECT_FIXTURE", "/tmp/perf/fixture.json")
        with open(path) as f:
            fx = ctx.cache["fixture"] = json.load(f)
        ctx.cache["run"] = uuid.uuid4().hex[:12]  # Idempotency-Keys unique across runs
    return fx


def _auth(fx, who: str, **more) -> dict:
    return {"Authorization": f"Bearer {fx['tokens'][who]}", **more}


def _write(ctx, fx, who: str, **more) -> dict:
    """_auth() of a permit write, with `Prefer: return=<param prefer>` when the param is given."""
    prefer = ctx.params.get("prefer")
    return _auth(fx, who, **more, **({"Prefer": f"return={prefer}"} if prefer else {}))


def read(ctx, k):
    fx = _fixture(ctx)
    pid = fx["read_ids"][ctx.rng.randrange(len(fx["read_ids"]))]
    return "GET", f"{API}/permits/{pid}", None, _auth(fx, "lh.work_leader")


def list_permits(ctx, k):
    fx = _fixture(ctx)
    query = ctx.params.get("list_query", "state=active&limit=50")
    return "GET", f"{API}/permits?{query}", None, _auth(fx, "lh.work_leader")


SUSPEND = {"reason": "现场可燃气体检测仪报警，暂停作业排查"}
RESUME = {"conditions_confirmed": True, "comment": "排查完毕，条件复核合格"}


def transition(ctx, k):
    fx = _fixture(ctx)
    st = ctx.cache.get("pool")
    if st is None:
        ids = list(fx["pool"]["ids"])
        ctx.rng.shuffle(ids)
        st = ctx.cache["pool"] = {
            "ids": ids,
            "next": 0,
            "last_k": -1,
            "skip": set(),
            "recent": collections.deque(maxlen=int(ctx.params.get("inflight", 64))),
            "state": dict(fx["pool"]["state"]),
            "version": dict(fx["pool"]["version"]),
        }
    if k <= st["last_k"]:
        # A new phase (warm-up, then measured): in a closed run each connection built one last request after the
        # previous phase ended and never sent it, so the state assumed for those permits may be wrong. The last
        # `inflight` permits built are left alone for the rest of this run; the next fixture re-reads them.
        st["skip"].update(st["recent"])
    st["last_k"] = k
    while True:
        pid = st["ids"][st["next"] % len(st["ids"])]
        st["next"] += 1
        if pid not in st["skip"]:
            break
    st["recent"].append(pid)
    version = st["version"][pid]
    st["version"][pid] = version + 1
    if st["state"][pid] == "active":
        st["state"][pid] = "suspended"
        return (
            "POST",
            f"{API}/permits/{pid}/suspend",
            SUSPEND,
            _write(ctx, fx, "lh.guardian", **{"If-Match": f'"{version}"'}),
        )
    st["state"][pid] = "active"
    return (
        "POST",
        f"{API}/permits/{pid}/resume",
        RESUME,
        _write(ctx, fx, "lh.work_leader", **{"If-Match": f'"{version}"'}),
    )


def hot_transition(ctx, k):
    fx = _fixture(ctx)
    body = {
        "sampled_at": dt.datetime.now(UTC).isoformat(),
        "point": "动火点下风向1m",
        "readings": [{"gas": "CH4", "value": 0.1, "unit": "%vol"}],
    }
    return "POST", f"{API}/permits/{fx['hot']['id']}/gas-tests", body, _write(ctx, fx, "lh.analyst")


def create(ctx, k):
    fx = _fixture(ctx)
    body = dict(fx["draft"])
    seq = ctx.rng.randrange(900)
    body["title"] = f"常减压装置 E-{100 + seq} 换热器出口法兰补焊"
    body["location"] = f"机修车间 2 号工位 E-{100 + seq}"
    return (
        "POST",
        f"{API}/permits",
        body,
        _write(
            ctx, fx, "lh.applicant", **{"Idempotency-Key": f"perf-{ctx.cache['run']}-c{k}-{ctx.rng.random()}"}
        ),
    )


def ingest(ctx, k):
    fx = _fixture(ctx)
    bodies = ctx.cache.get("ingest")
    if bodies is None:
        rng = random.Random(ctx.rng.random())
        now = dt.datetime.now(UTC)
        dets = fx["detectors"]
        bodies = ctx.cache["ingest"] = [
            json.dumps(
                {
                    "readings": [
                        {
                            "detector": dets[rng.randrange(len(dets))],
                            "measured_at": (
                                now - dt.timedelta(seconds=60) + dt.timedelta(milliseconds=10 * j + i)
                            ).isoformat(),
                            "value": round(rng.uniform(0, 1.0), 3),
                        }  # far below every limit: nothing is suspended
                        for j in range(ctx.batch)
                    ]
                },
                separators=(",", ":"),
            ).encode()
            for i in range(8)
        ]
    headers = _auth(fx, "client", **{"Idempotency-Key": f"perf-{ctx.cache['run']}-i{k}-{ctx.rng.random()}"})
    return "POST", f"{API}/integrations/gas-readings", bodies[k % len(bodies)], headers


ingest.items_per_request = lambda ctx: ctx.batch

SCENARIOS = {
    "read": read,
    "list": list_permits,
    "transition": transition,
    "hot-transition": hot_transition,
    "create": create,
    "ingest500": ingest,
}
