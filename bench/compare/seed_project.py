#!/usr/bin/env python3
"""Load the permit service (the project) for a side-by-side run with the floor.

The project's copy of ../shared/perf/seed_project.py, walking the permits as the README's walkthrough does (every
measure line answered and confirmed, the approver's card sighted on site, G-02, G-06, SD-02). Run with the project's
interpreter (it needs psycopg and the service's hashing):

  .venv/bin/python bench/compare/seed_project.py --url http://127.0.0.1:8104 --db postgresql://postgres@127.0.0.1:5432/perfproj CMD

Commands:
  seed --permits N [--live 200]
      Ensure the demo enterprise 日照岚海石化 (lh) has at least N permits. `--live` of them are walked through the
      real API into the live states (draft, submitted, approved, briefed, active, suspended, completed), the rest
      are terminal (closed 90 %, cancelled 7 %, rejected 3 %, as a year of history would be). Those are made by
      walking ONE permit per terminal state through the API and copying its rows by SQL (COPY): the permit, its
      crew, signatures, gas tests, site-checklist confirmations and its audit events, re-chained as the copy's own
      chain (one per permit, AU-02) with the service's own hash, so `verify` still passes. The copies' events get no
      regulators' feed position (the feed numbers events at commit; nothing here reads it).
      Also registers the gas detectors the ingest scenario pushes to (in the three plant units, none in the
      workshop LH-W900). Idempotent: counts first and adds only what is missing.
  fixture --out FILE [--pool 300] [--pool-hours 2] [--new-pool] [--new-hot]
      Write FILE (JSON): tokens, a transition pool (ids, and each one's state and version), a hot permit, the
      permit ids for reads, the detector codes and a draft body for create. The pool is one hot-work permit
      walked by the API to `active` in the workshop LH-W900 and copied by SQL into POOL more (same shape, new
      ids, numbers and chained events). If FILE already names a pool that is still usable (window open for
      another hour, no suspension older than 20 min), it is kept and only its states and versions are re-read
      (one SQL query). Run it right before each transition run: the scenario starts from the states written.
      --new-hot walks a fresh permit for hot-transition (each hot run adds thousands of gas tests to it).
  check
      GET a handful of SQL-copied permits (of each state) through the API and print their state and ETag.

Bulk rows are placed in the workshop LH-W900 and the three units, with created_at spread over the past year.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request
import uuid
from types import SimpleNamespace

import psycopg
from psycopg.types.json import Json

from permit_service.audit.hashing import GENESIS, chain_of, event_hash

PASSWORD = "Demo@Rizhao2026"
CLIENT_ID = "lh-plant-portal"
ENTERPRISE_CREDIT_USER = "lh.admin"
UTC = dt.UTC

# ---------------------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------------------


class Api:
    def __init__(self, url: str):
        self.base = url.rstrip("/") + "/api/v1"
        self.tokens: dict[str, str] = {}

    def call(self, method, path, body=None, token=None, headers=None, ok=(200, 201, 202)):
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                status, hdrs = resp.status, dict(resp.headers)
        except urllib.error.HTTPError as exc:
            raw, status, hdrs = exc.read(), exc.code, dict(exc.headers)
        out = json.loads(raw) if raw else None
        if ok and status not in ok:
            raise RuntimeError(f"{method} {path} -> {status}: {json.dumps(out, ensure_ascii=False)[:800]}")
        return status, out, hdrs

    def login(self, username: str) -> str:
        if username not in self.tokens:
            _, out, _ = self.call("POST", "/auth/login", {"username": username, "password": PASSWORD})
            self.tokens[username] = out["access_token"]
        return self.tokens[username]

    def client_token(self) -> str:
        if "client" not in self.tokens:
            _, out, _ = self.call(
                "POST",
                "/auth/token",
                {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": PASSWORD},
            )
            self.tokens["client"] = out["access_token"]
        return self.tokens["client"]


class Scene:
    """The demo enterprise lh: its id, areas, people, site checklist and the hot-work measure lines."""

    def __init__(self, api: Api):
        self.api = api
        admin = api.login(ENTERPRISE_CREDIT_USER)
        _, me, _ = api.call("GET", "/auth/me", token=admin)
        self.enterprise_id = me["enterprise_id"]
        _, areas, _ = api.call("GET", f"/enterprises/{self.enterprise_id}/areas", token=admin)
        self.areas = {a["code"]: a for a in areas}
        _, people, _ = api.call("GET", f"/enterprises/{self.enterprise_id}/people?limit=200", token=admin)
        self.people = {p["username"]: p for p in people["items"]}
        status, checklist, _ = api.call(
            "GET", f"/enterprises/{self.enterprise_id}/checklists/site", token=admin, ok=None
        )
        self.site_items = [i["code"] for i in checklist.get("items", [])] if status == 200 else []
        _, catalogue, _ = api.call("GET", "/permit-types/hot_work", token=admin)
        self.measure_codes = [
            line["code"] for line in catalogue["measures"]["lines"] if not line.get("other")
        ]

    def pid(self, username: str) -> str:
        return self.people[username]["id"]

    def measures(self) -> list[dict]:
        """Every line of Appendix A.1 answered (G-02), as the README's walkthrough answers them."""
        out = []
        for code in self.measure_codes:
            line = {"code": code, "involved": code in INVOLVED, "counts": {}}
            if code == "A1-02":
                line["counts"] = {"blinds": 2}
            elif code == "A1-08":
                line["counts"] = {"extinguishers": 4, "fire_blankets": 2, "fire_hoses": 1}
            out.append(line)
        return out

    def draft(self, area_code: str, seq: int, hours: float = 7.0) -> dict:
        """A complete hot-work draft (the README's walkthrough: it carries what special grade needs, HW-07, so it
        goes through at any hour)."""
        now = dt.datetime.now(UTC)
        area = self.areas[area_code]
        welder = self.people["lh.welder"]
        facts = {
            "fire_explosion_area": bool(area["fire_explosion_area"]),
            "on_running_equipment": False,
            "outdoor": True,
            "wind_level": 2,
            "methods": ["electric_welding"],
            "continuous_gas_monitoring": True,
            "video_recording": True,
            "written_plan": "《E-101 法兰补焊特级动火作业方案》（设备部 2026-12）",
            # G-04: the live permits share their areas
            "cross_operation_coordinator": "李协调",
            "cross_operation_risk_analysis": "分区隔离，错开作业时间",
        }
        return {
            "type": "hot_work",
            "high_risk_kind": "none",  # HR-01: every permit answers whether it is one of Plan 27's four kinds
            "area_id": area["id"],
            "title": f"{area['name']} E-{100 + seq % 900} 换热器出口法兰补焊",
            "location": f"{area['name']}二层平台 E-{100 + seq % 900}",
            "work_content": f"E-{100 + seq % 900} 出口管线法兰焊缝补焊（电焊），含切割与打磨",
            "valid_from": (now - dt.timedelta(minutes=1)).isoformat(),
            "valid_until": (now + dt.timedelta(hours=hours)).isoformat(),
            "facts": facts,
            "risk_analysis": "可燃气体泄漏遇火花引发火灾爆炸；焊接烟尘；高处坠物",
            "work_unit": "检修车间",
            "measures": self.measures(),
            "crew": [
                {"person_id": self.pid("lh.work_leader"), "role": "work_leader"},
                # G-13: the welder's certificate comes from their record
                {"person_id": welder["id"], "role": "worker"},
                {"person_id": self.pid("lh.guardian"), "role": "guardian"},
            ],
        }


INVOLVED = ("A1-02", "A1-03", "A1-08", "A1-09", "A1-13")
APPROVER_OF_GRADE = {"level2": "lh.unit_leader", "level1": "lh.safety_dept", "special": "lh.leader_in_charge"}
# HW-05: the representative gas of every medium of the bulk areas (CH4; H2S and C4H10 in the units)
SAFE_AIR = [{"gas": g, "value": v, "unit": "%vol"} for g, v in (("CH4", 0.1), ("H2S", 0.0), ("C4H10", 0.0))]


class Walk:
    """One permit driven through the API by the right people (the README's walkthrough)."""

    def __init__(self, scene: Scene, area_code: str, seq: int, hours: float = 7.0):
        self.s, self.api, self.area_code = scene, scene.api, area_code
        _, self.p, _ = self.api.call(
            "POST",
            "/permits",
            scene.draft(area_code, seq, hours),
            token=self.api.login("lh.applicant"),
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )

    @property
    def id(self):
        return self.p["id"]

    def _if_match(self):
        return {"If-Match": f'"{self.p["version"]}"'}

    def do(self, action, body=None, who="lh.work_leader"):
        _, self.p, _ = self.api.call(
            "POST",
            f"/permits/{self.id}/{action}",
            body or {},
            token=self.api.login(who),
            headers=self._if_match(),
        )
        return self

    def submit(self):
        self.do("submit", who="lh.applicant")
        # G-02, SD-02: every involved measure line and every site-checklist item gets its confirmer
        applicant, shift = self.api.login("lh.applicant"), self.s.pid("lh.shift_leader")
        for code in INVOLVED:
            self.api.call(
                "PUT",
                f"/permits/{self.id}/measures/{code}/confirmation",
                {"confirmed_by": shift},
                token=applicant,
                headers=self._if_match(),
            )
            self.reload()
        if self.s.site_items:
            items = [{"checklist": "site", "code": c, "confirmed_by": shift} for c in self.s.site_items]
            self.api.call(
                "PUT",
                f"/permits/{self.id}/checklist-confirmations",
                {"items": items},
                token=applicant,
                headers=self._if_match(),
            )
            self.reload()
        return self

    def approve(self):
        # The grade names the approver (GB B.1); special work raised again at night goes to the principal (HW-03).
        # G-06: the plant's positioning platform reports the approver's card in the area first.
        last = None
        for approver in dict.fromkeys(
            (APPROVER_OF_GRADE[self.p["grade"]], "lh.leader_in_charge", "lh.principal")
        ):
            sighting = {
                "card_id": self.s.people[approver]["positioning_card_id"],
                "area_code": self.area_code,
                "seen_at": dt.datetime.now(UTC).isoformat(),
            }
            self.api.call(
                "POST",
                "/integrations/card-sightings",
                {"sightings": [sighting]},
                token=self.api.client_token(),
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            try:
                return self.do("approve", {"evidence": {}}, who=approver)
            except RuntimeError as exc:
                last = exc
        raise last

    def reject(self):
        last = None
        for who in dict.fromkeys((APPROVER_OF_GRADE[self.p["grade"]], "lh.leader_in_charge", "lh.principal")):
            try:
                return self.do("reject", {"reason": "措施不全，退回补充"}, who=who)
            except RuntimeError as exc:
                last = exc
        raise last

    def reload(self):
        _, self.p, _ = self.api.call("GET", f"/permits/{self.id}", token=self.api.login("lh.applicant"))
        return self

    def brief(self):
        self.do("brief", who="lh.work_leader")
        self.do("brief", who="lh.welder")
        return self.do("shift-check", who="lh.shift_leader")  # HW-09

    def gas(self):
        body = {"sampled_at": dt.datetime.now(UTC).isoformat(), "point": "作业点", "readings": SAFE_AIR}
        return self.do("gas-tests", body, who="lh.analyst")

    def activate(self):
        return self.do("activate", {}, who="lh.work_leader")

    def to_active(self):
        return self.submit().approve().gas().brief().activate()

    def suspend(self):
        return self.do("suspend", {"reason": "现场异常"}, who="lh.guardian")

    def resume(self):
        return self.do("resume", {"conditions_confirmed": True}, who="lh.work_leader")

    def complete(self):
        return self.do("complete", {}, who="lh.work_leader")

    def close(self):
        self.do("accept", {"site_restored": True}, who="lh.unit_leader")
        return self.do("close", {}, who="lh.unit_leader")

    def cancel(self):
        return self.do("cancel", {"reason": "计划变更"}, who="lh.applicant")


LIVE_STEPS = {
    "draft": lambda w: w,
    "submitted": lambda w: w.submit(),
    "approved": lambda w: w.submit().approve(),
    "briefed": lambda w: w.submit().approve().brief(),
    "active": lambda w: w.to_active(),
    "suspended": lambda w: w.to_active().suspend(),
    "completed": lambda w: w.to_active().complete(),
}
LIVE_MIX = {
    "draft": 25,
    "submitted": 15,
    "approved": 10,
    "briefed": 5,
    "active": 25,
    "suspended": 5,
    "completed": 15,
}
TERMINAL_STEPS = {
    "closed": lambda w: w.to_active().complete().close(),
    "cancelled": lambda w: w.cancel(),
    "rejected": lambda w: w.submit().reject(),
}
TERMINAL_MIX = {"closed": 90, "cancelled": 7, "rejected": 3}
BULK_AREAS = ("LH-W900", "LH-U100", "LH-U300", "LH-T200")
DETECTOR_AREAS = ("LH-U100", "LH-U300", "LH-T200")


# ---------------------------------------------------------------------------------------------------------
# SQL copies
# ---------------------------------------------------------------------------------------------------------

CHILD_TABLES = {  # table -> column holding the permit id (rows are copied with new ids where they have one)
    "permit_crew": "permit_id",
    "signatures": "permit_id",
    "gas_tests": "permit_id",
    "permit_checklist_confirmations": "permit_id",
}


def _columns(cur, table):
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "AND table_schema = 'public' ORDER BY ordinal_position",
        (table,),
    )
    return [r[0] for r in cur.fetchall()]


def _hash(ev: dict) -> str:
    """The service's own event hash (permit_service.audit.hashing), on a row dict."""
    return event_hash(SimpleNamespace(**ev))


def _sub(value, mapping):
    """Replace template ids and numbers inside JSON-ish values."""
    if isinstance(value, str):
        for old, new in mapping.items():
            if old in value:
                value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_sub(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: _sub(v, mapping) for k, v in value.items()}
    return value


def copy_permits(
    dsn: str,
    template_id: str,
    count: int,
    *,
    areas: dict | None = None,
    spread_days: float = 0,
    with_events: bool = True,
    rng: random.Random | None = None,
) -> list[str]:
    """COPY `count` copies of a permit (and its child rows and events) with new ids and numbers.
    areas: {area_id: weight}, to place copies across areas (None = the template's area)."""
    rng = rng or random.Random(7)
    new_ids = []
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        pcols = _columns(cur, "permits")
        cur.execute(f"SELECT {', '.join(pcols)} FROM permits WHERE id = %s", (template_id,))
        tpl = dict(zip(pcols, cur.fetchone(), strict=False))
        children = {}
        for table, fk in CHILD_TABLES.items():
            cols = _columns(cur, table)
            cur.execute(f"SELECT {', '.join(cols)} FROM {table} WHERE {fk} = %s", (template_id,))
            children[table] = (cols, [dict(zip(cols, r, strict=False)) for r in cur.fetchall()])
        ecols = [c for c in _columns(cur, "events") if c != "id"]
        cur.execute(
            f"SELECT {', '.join(ecols)} FROM events WHERE subject_id = %s ORDER BY id", (template_id,)
        )
        events = [dict(zip(ecols, r, strict=False)) for r in cur.fetchall()] if with_events else []
        # The number counter, locked: copies take the next numbers, the service continues after them.
        prefix, year = tpl["number"].split("-")[0], int(tpl["number"].split("-")[1])
        cur.execute(
            "SELECT last FROM permit_number_counters WHERE enterprise_id = %s AND prefix = %s AND year = %s "
            "FOR UPDATE",
            (tpl["enterprise_id"], prefix, year),
        )
        last = cur.fetchone()[0]
        area_ids = list(areas) if areas else [tpl["area_id"]]
        weights = list(areas.values()) if areas else [1]
        json_cols = {"facts", "measures", "evidence", "readings", "findings", "actor_roles", "data"}

        def enc(col, v):
            return Json(v) if col in json_cols and v is not None else v

        rows = {"permits": [], **{t: [] for t in CHILD_TABLES}, "events": [], "event_chain_heads": []}
        hcols = ["chain", "last_hash", "length", "enterprise_id", "region_id", "sealed_length"]
        for _i in range(count):
            nid = str(uuid.uuid4())
            last += 1
            number = f"{prefix}-{year}-{last:06d}"
            mapping = {str(template_id): nid, tpl["number"]: number}
            p = dict(tpl, id=nid, number=number)
            if areas:
                p["area_id"] = rng.choices(area_ids, weights)[0]
                mapping[str(tpl["area_id"])] = str(p["area_id"])
            if spread_days:
                shift = dt.timedelta(seconds=rng.uniform(0, spread_days * 86400))
                for col in (
                    "created_at",
                    "updated_at",
                    "valid_from",
                    "valid_until",
                    "activated_at",
                    "suspended_at",
                ):
                    if p[col] is not None:
                        p[col] = p[col] - shift
            rows["permits"].append(tuple(enc(c, p[c]) for c in pcols))
            for table, (cols, trows) in children.items():
                for r in trows:
                    r2 = dict(r, permit_id=nid)
                    if "id" in r2:
                        r2["id"] = uuid.uuid4()
                    if table == "signatures":
                        r2["evidence"] = _sub(r2["evidence"], mapping)
                    rows[table].append(tuple(enc(c, r2[c]) for c in cols))
            # Each copy is a subject of its own, so its events form a chain of their own (AU-02).
            chain, head_hash = chain_of("permit", nid), GENESIS
            for seq, ev in enumerate(events, 1):
                e = dict(
                    ev,
                    subject_id=nid,
                    data=_sub(ev["data"], mapping),
                    chain=chain,
                    seq=seq,
                    prev_hash=head_hash,
                )
                e["hash"] = head_hash = _hash(e)
                rows["events"].append(tuple(enc(c, e[c]) for c in ecols))
            if events:
                rows["event_chain_heads"].append(
                    (chain, head_hash, len(events), tpl["enterprise_id"], events[0]["region_id"], 0)
                )
            new_ids.append(nid)
        for table, cols in [
            ("permits", pcols),
            *[(t, c[0]) for t, c in children.items()],
            ("events", ecols),
            ("event_chain_heads", hcols),
        ]:
            if not rows[table]:
                continue
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                for r in rows[table]:
                    cp.write_row(r)
        cur.execute(
            "UPDATE permit_number_counters SET last = %s WHERE enterprise_id = %s AND prefix = %s "
            "AND year = %s",
            (last, tpl["enterprise_id"], prefix, year),
        )
        conn.commit()
    return new_ids


def count_permits(dsn, enterprise_id):
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT count(*) FROM permits WHERE enterprise_id = %s", (enterprise_id,)
        ).fetchone()[0]


# ---------------------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------------------


def ensure_detectors(api: Api, scene: Scene, db: str, n: int = 240) -> list[str]:
    token = api.client_token()
    with psycopg.connect(db) as conn:
        have = {
            r[0]
            for r in conn.execute(
                "SELECT code FROM detectors WHERE enterprise_id = %s AND code LIKE 'PERF-%%'",
                (scene.enterprise_id,),
            )
        }
    codes = []
    for i in range(n):
        area = DETECTOR_AREAS[i % len(DETECTOR_AREAS)]
        gas, unit = ("CH4", "%LEL") if i % 3 else ("H2S", "ppm")
        code = f"PERF-{area}-{i:04d}"
        codes.append(code)
        if code in have:
            continue
        status, out, _ = api.call(
            "POST",
            "/integrations/detectors",
            {"code": code, "area_code": area, "gas": gas, "unit": unit},
            token=token,
            ok=None,
        )
        if status not in (200, 201, 409, 422):
            raise RuntimeError(f"detector {code}: {status} {out}")
    return codes


def cmd_seed(args, api, scene):
    t0 = time.perf_counter()
    have = count_permits(args.db, scene.enterprise_id)
    print(f"seed: {have} permits of lh exist, want {args.permits}", file=sys.stderr)
    rng = random.Random(args.seed)
    if have < args.live:
        todo = args.live - have
        states = [s for s, w in LIVE_MIX.items() for _ in range(w)]
        random.Random(args.seed).shuffle(states)
        for i in range(todo):
            state = states[i % len(states)]
            area = BULK_AREAS[i % len(BULK_AREAS)]
            LIVE_STEPS[state](Walk(scene, area, have + i, hours=7.0))
        print(
            f"seed: walked {todo} live permits through the API in {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )
        have = count_permits(args.db, scene.enterprise_id)
    if have < args.permits:
        bulk = args.permits - have
        total = sum(TERMINAL_MIX.values())
        areas = {scene.areas[c]["id"]: 1 for c in BULK_AREAS}
        for state, weight in TERMINAL_MIX.items():
            n = (
                bulk * weight // total
                if state != "closed"
                else bulk - sum(bulk * w // total for s, w in TERMINAL_MIX.items() if s != "closed")
            )
            w = TERMINAL_STEPS[state](Walk(scene, "LH-W900", rng.randrange(10**6)))
            done = 0
            while done < n:
                chunk = min(20000, n - done)
                copy_permits(
                    args.db,
                    w.id,
                    chunk,
                    areas=areas,
                    spread_days=365,
                    rng=rng,
                    with_events=not args.no_events,
                )
                done += chunk
            print(
                f"seed: copied {n} {state} permits (template {w.id}) by SQL, "
                f"{time.perf_counter() - t0:.0f} s so far",
                file=sys.stderr,
            )
        with psycopg.connect(args.db, autocommit=True) as conn:
            for table in (
                "permits",
                "events",
                "signatures",
                "permit_crew",
                "gas_tests",
                "permit_checklist_confirmations",
            ):
                conn.execute(f"VACUUM (ANALYZE) {table}")
    ensure_detectors(api, scene, args.db)
    print(
        f"seed: {count_permits(args.db, scene.enterprise_id)} permits of lh, done in "
        f"{time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )


def _pool_states(db: str, ids: list[str]) -> dict | None:
    """States and versions of a previous pool, if every permit is still usable: active or suspended, its window
    open for another hour, and no suspension older than 20 minutes (a longer break needs a gas re-test, HW-06)."""
    now = dt.datetime.now(UTC)
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT id, state, version, valid_until, suspended_at FROM permits WHERE id = ANY(%s)",
            ([uuid.UUID(i) for i in ids],),
        ).fetchall()
    if len(rows) != len(ids):
        return None
    for _, state, _, until, suspended_at in rows:
        if state not in ("active", "suspended") or until < now + dt.timedelta(hours=1):
            return None
        if state == "suspended" and (suspended_at is None or now - suspended_at > dt.timedelta(minutes=20)):
            return None
    return {"ids": ids, "state": {str(r[0]): r[1] for r in rows}, "version": {str(r[0]): r[2] for r in rows}}


def cmd_fixture(args, api, scene):
    t0 = time.perf_counter()
    old = None
    if os.path.exists(args.out) and not args.new_pool:
        with open(args.out) as f:
            old = json.load(f)
    pool = (
        _pool_states(args.db, old["pool"]["ids"])
        if old and len(old["pool"]["ids"]) == args.pool + 1
        else None
    )
    made = pool is None
    if made:
        tpl = Walk(scene, "LH-W900", random.randrange(10**6), hours=args.pool_hours).to_active()
        ids = [tpl.id, *copy_permits(args.db, tpl.id, args.pool, rng=random.Random())]
        pool = {
            "ids": ids,
            "state": dict.fromkeys(ids, "active"),
            "version": dict.fromkeys(ids, tpl.p["version"]),
        }
    hot = None
    if old and not args.new_hot:
        hot = _pool_states(args.db, [old["hot"]["id"]])
        hot = {"id": old["hot"]["id"], "version": hot["version"][old["hot"]["id"]]} if hot else None
    if hot is None:
        w = Walk(scene, "LH-W900", random.randrange(10**6), hours=args.pool_hours).to_active()
        hot = {"id": w.id, "version": w.p["version"]}
    if old and old.get("read_ids") and len(old["read_ids"]) >= min(args.read_ids, 1000):
        read_ids = old["read_ids"]
    else:
        with psycopg.connect(args.db) as conn:
            read_ids = [
                str(r[0])
                for r in conn.execute(
                    "SELECT id FROM permits WHERE enterprise_id = %s ORDER BY random() LIMIT %s",
                    (scene.enterprise_id, args.read_ids),
                )
            ]
    fixture = {
        "created": dt.datetime.now(UTC).isoformat(),
        "url": args.url,
        "tokens": {u: api.login(u) for u in ("lh.applicant", "lh.work_leader", "lh.guardian", "lh.analyst")}
        | {"client": api.client_token()},
        "enterprise_id": scene.enterprise_id,
        "pool": pool,
        "hot": hot,
        "read_ids": read_ids,
        "detectors": ensure_detectors(api, scene, args.db),
        "draft": scene.draft("LH-W900", 1, hours=6.0),
        "areas": {c: a["id"] for c, a in scene.areas.items()},
    }
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(fixture, f, ensure_ascii=False)
    os.replace(tmp, args.out)
    states = sorted(pool["state"].values())
    print(
        f"fixture: {'new' if made else 'reused'} pool of {len(pool['ids'])} permits "
        f"({states.count('active')} active, {states.count('suspended')} suspended), hot permit {hot['id']} "
        f"(version {hot['version']}), {len(read_ids)} read ids -> {args.out} in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )


def cmd_check(args, api, scene):
    token = api.login("lh.work_leader")
    with psycopg.connect(args.db) as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (state) id, state, number FROM permits WHERE enterprise_id = %s "
            "ORDER BY state, number DESC",
            (scene.enterprise_id,),
        ).fetchall()
        chain = conn.execute(
            "SELECT count(*) FROM event_chain_heads WHERE enterprise_id = %s", (scene.enterprise_id,)
        ).fetchone()
    for pid, state, number in rows:
        status, out, hdrs = api.call("GET", f"/permits/{pid}", token=token, ok=None)
        print(
            f"{number} {state:10} GET -> {status} state={out.get('state')} etag={hdrs.get('ETag')} "
            f"allowed={out.get('allowed_actions')}"
        )
    print(f"{chain[0]} chains of the enterprise")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=os.environ.get("PROJECT_URL", "http://127.0.0.1:8104"))
    p.add_argument(
        "--db", default=os.environ.get("PROJECT_DB", "postgresql://postgres@127.0.0.1:5432/perfproj")
    )
    p.add_argument("--seed", type=int, default=1)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--permits", type=int, default=100_000)
    s.add_argument("--live", type=int, default=200)
    s.add_argument("--no-events", action="store_true", help="copy permits without their audit events")
    s = sub.add_parser("fixture")
    s.add_argument("--out", required=True)
    s.add_argument("--pool", type=int, default=300)
    s.add_argument("--pool-hours", type=float, default=2.0)
    s.add_argument("--read-ids", type=int, default=100_000)
    s.add_argument(
        "--new-pool", action="store_true", help="make a new pool even if the previous one is usable"
    )
    s.add_argument(
        "--new-hot", action="store_true", help="walk a new hot permit (each hot run adds its gas tests)"
    )
    sub.add_parser("check")
    args = p.parse_args(argv)
    args.db = args.db.replace("postgresql+psycopg://", "postgresql://")
    api = Api(args.url)
    scene = Scene(api)
    {"seed": cmd_seed, "fixture": cmd_fixture, "check": cmd_check}[args.command](args, api, scene)
    return 0


if __name__ == "__main__":
    sys.exit(main())
