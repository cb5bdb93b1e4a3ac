"""Statement budgets of the hot endpoints (issue 14): a request may send at most so many SQL statements.

A guard against regressions that is not a timed test: round trips are counted in-process around one test-client
call, whatever the machine's speed. Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT) is not counted:
SQLite's BEGIN IMMEDIATE is a statement, PostgreSQL's is implicit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from permit_service.permits.models import Permit
from tests.api.checks import compiled_uncached, counted
from tests.api.permit_flows import PermitFlow
from tests.conftest import ON_POSTGRES
from tests.plant import at_work, iso, portal

# Measured on both databases; raise one only with a reason in the commit message.
BUDGETS: dict[str, int] = {
    # the caller and its revocation come from the process's cache (0; the first request of a token reads them: 1);
    # the permit with its area, enterprise, crew and links, and what other areas read with it: the context
    # generation, the enterprise's grade and the Plan-27 job (1); its signatures and gas tests (1); first, the
    # finished permit's document looked for (1), which answers 90 % of a plant's reads in 1 (below). Freezes and the
    # calendar are the process's copies at the generation read with the permit (0; 1 each after a change); presence
    # only where a guard reads it
    "get_permit": 3,
    # a finished permit: the permit's scope and version with its document (1)
    "get_finished_permit": 1,
    "list_permits": 1,
    # judged before the write transaction (issue 14): the permit with what is read with it (1); then, holding the
    # lock, the permit's row again with the context generation to check the judgement stands (1; PostgreSQL: the
    # grade and the Plan-27 job after the lock where a guard read them, 1); the chain head, the event (which moves the
    # head's hash), the permit (its version checked) and the signature (4; PostgreSQL 1, one statement of
    # data-modifying CTEs: permits.service._write_in_one); at commit the feed's counter, returning the webhook
    # generation (subscriptions only when it moved), and row (2; PostgreSQL 1, one statement of data-modifying
    # CTEs); its signatures and gas tests (1: after the commit, for the answer, unless a guard of the action read
    # them; PostgreSQL: 0, the writes' statement reads them); the grade and the Plan-27 job (PostgreSQL: none after
    # the commit, the writes' statement answers them for the answer's approval slots); the presence counts only
    # where a guard reads them, once to judge and once holding the lock (resume: HC-04)
    "suspend": 9,
    "resume": 11,  # the guardian's check-out (HC-04) comes with the presence counts
    # the area with its enterprise, the context generation (freezes and the calendar are the process's copies at it)
    # and the crew's people with their certificates (1), the number (one upsert), the permit, its crew (3;
    # PostgreSQL 1, with its links), the chain head and event (2; PostgreSQL 1) and the feed (2; PostgreSQL 1);
    # nothing read back; a draft's guards read neither presence nor the Plan-27 job
    "create_draft": 8,
    # the client from the cache (0); the key claimed (1: the batch's row, unless a repeat's), its detectors (1), the
    # readings (1 on SQLite; PostgreSQL's COPY is not a statement here), the feed (1 per feed); the active permits'
    # ids, locked (1), and only when there are any: them with their crew and links joined (1), signatures (1), gas
    # tests (1); the answer kept for repeats (1)
    "ingest": 9,
    # as a suspend, the gas test's row in place of the signature's (its guards read neither the gas tests nor presence)
    "record_gas_test": 9,
    # `Prefer: return=minimal` (RFC 7240): the answer is the permit's columns as written, so nothing is read after
    # the commit (a suspend or a gas test: the signatures and gas tests, 1 fewer); a resume's guards have read them
    # already and a new draft's answer reads nothing, so theirs are the whole answer's
    "suspend_minimal": 8,
    "resume_minimal": 11,
    "record_gas_test_minimal": 8,
    "create_draft_minimal": 8,
    # a create under an Idempotency-Key (every portal retry sends one): the key claimed as the write transaction
    # begins and the answer stored in the claim (2; SQLite looks for an answer first, without the write lock: 3)
    "create_draft_with_key": 11,
}


# PostgreSQL's where it sends fewer: an action's writes (the event's chain head and row, the permit with its version
# checked, the signature or gas test it adds: permits.service._write_in_one), the feed's counter and rows, and a new
# permit's number and rows are one statement each there (SQLite has no data-modifying CTEs), and a filing numbers its
# event with the event's append (feed.positions.append_numbered: no statement at commit); an action on a permit
# nobody else holds is judged on the permit read holding its row lock (service.act): no read before the lock, and
# what the guards read (the signatures, the presence counts) read once, in one statement where the guards of that
# action have read more than one of them before (context.read_holding_lock: a resume's signatures and gas tests,
# grade and Plan-27 job, and presence counts); the writes' statement answers what the whole
# answer reads that the guards did not (the signatures and gas tests, the grade and the Plan-27 job), read holding
# the lock, so a suspend or a gas test sends as many statements for the whole answer as for the minimal one.
POSTGRES_BUDGETS = {
    "suspend": 3,
    "resume": 4,
    "create_draft": 3,
    "record_gas_test": 3,
    "suspend_minimal": 3,
    "resume_minimal": 4,
    "record_gas_test_minimal": 3,
    "create_draft_minimal": 3,
    "create_draft_with_key": 5,
}


def within_budget(app: Flask, name: str, call: Callable[[], TestResponse], status: int = 200) -> None:
    """Run `call` and assert its answer, that it sent no more statements than its budget, and that SQLAlchemy could
    cache the compiled form of each."""
    with counted(app) as statements, compiled_uncached(app) as uncached:
        resp = call()
    assert resp.status_code == status, resp.get_json()
    budget = POSTGRES_BUDGETS.get(name, BUDGETS[name]) if ON_POSTGRES else BUDGETS[name]
    listing = "\n".join(f"  {i + 1}. {' '.join(s.split())[:160]}" for i, s in enumerate(statements))
    assert len(statements) <= budget, f"{name}: {len(statements)} statements, budget {budget}:\n{listing}"
    assert not uncached, (
        f"{name}: compiled again on every request (a construct without inherit_cache?):\n"
        + ("\n".join(f"  {' '.join(s.split())[:160]}" for s in uncached))
    )


@pytest.fixture(autouse=True)
def _cache_clock_stands_still(app):
    # A slow machine must not push the measured request past AUTH_CACHE_SECONDS after its caller was read.
    app.extensions["auth_cache"].timer = lambda: 0.0


def reused(client, headers: dict[str, str]) -> dict[str, str]:
    """`headers` after one request with their token: a client reuses its token, so the measured request's caller
    and revocation come from the process's cache (the first request of a token reads them: one statement more)."""
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    return headers


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def test_get_permit_within_budget(app, flow):
    flow.file("hot_work")
    headers = reused(flow.client, flow.headers("work_leader"))
    flow.client.get(flow.url, headers=headers)  # a portal polls a live permit: the calendar is recent
    within_budget(app, "get_permit", lambda: flow.client.get(flow.url, headers=headers))


def test_get_finished_permit_within_budget(app, flow):
    flow.file("hot_work").to_closed()
    headers = flow.headers("work_leader")
    flow.client.get(
        flow.url, headers=headers
    )  # the calendar of its notices, as a process keeps it until it changes
    within_budget(app, "get_finished_permit", lambda: flow.client.get(flow.url, headers=headers))


def test_list_permits_within_budget(app, flow):
    for _ in range(3):
        flow.another().file("hot_work")
    headers = reused(flow.client, flow.headers("work_leader"))
    within_budget(
        app, "list_permits", lambda: flow.client.get("/api/v1/permits?state=draft&limit=50", headers=headers)
    )


# The answers to `Prefer: return=minimal` (RFC 7240), measured as their variants "<name>_minimal".
ANSWERS = pytest.mark.parametrize(
    ("suffix", "prefer"), [("", {}), ("_minimal", {"Prefer": "return=minimal"})]
)


@ANSWERS
def test_suspend_and_resume_within_budget(app, flow, suffix, prefer):
    # A running service has judged a resume before: what its guards read, read in one statement (perform).
    flow.file("hot_work").to_active().suspend().resume()
    suspend = {"reason": "交叉作业，暂停 / paused for crossing work"}
    guardian = reused(
        flow.client, flow.headers("guardian", **{"If-Match": f'"{flow.permit["version"]}"', **prefer})
    )
    within_budget(
        app,
        f"suspend{suffix}",
        lambda: flow.client.post(f"{flow.url}/suspend", json=suspend, headers=guardian),
    )
    flow.reload()
    leader = reused(
        flow.client, flow.headers("work_leader", **{"If-Match": f'"{flow.permit["version"]}"', **prefer})
    )
    within_budget(
        app,
        f"resume{suffix}",
        lambda: flow.client.post(f"{flow.url}/resume", json={"conditions_confirmed": True}, headers=leader),
    )


@ANSWERS
def test_gas_test_within_budget(app, flow, suffix, prefer):
    flow.file("hot_work").to_active()
    analyst = reused(flow.client, flow.headers("analyst", **prefer))
    body = flow.gas_body()
    within_budget(
        app,
        f"record_gas_test{suffix}",
        lambda: flow.client.post(f"{flow.url}/gas-tests", json=body, headers=analyst),
    )


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite's unit of work writes the permit")
@ANSWERS
def test_an_actions_writes_leave_the_unit_of_work_nothing_of_the_permit(flow, suffix, prefer):
    """PostgreSQL writes an action's permit in its own statement (_write_in_one): the flushes that follow in the
    request find the permit as written, with nothing to compare attribute by attribute (issue 14: 9.5 % of a
    minimal suspend or resume's instructions)."""
    flow.file("hot_work").to_active()
    flushed_permits: list[object] = []

    def note(session: Session, *_args: object) -> None:
        flushed_permits.extend(obj for obj in session.dirty if isinstance(obj, Permit))

    sa.event.listen(Session, "before_flush", note)
    try:
        analyst = flow.headers("analyst", **prefer)
        resp = flow.client.post(f"{flow.url}/gas-tests", json=flow.gas_body(), headers=analyst)
        assert resp.status_code == 200, resp.get_json()
        guardian = flow.headers("guardian", **{"If-Match": resp.headers["ETag"], **prefer})
        reason = {"reason": "交叉作业，暂停 / paused for crossing work"}
        resp = flow.client.post(f"{flow.url}/suspend", json=reason, headers=guardian)
        assert resp.status_code == 200, resp.get_json()
    finally:
        sa.event.remove(Session, "before_flush", note)
    assert flushed_permits == []


@ANSWERS
def test_create_draft_within_budget(app, flow, suffix, prefer):
    flow.another().file("hot_work")  # a running service: the process has read its regions (region_lineage)
    body, headers = flow.body("hot_work"), reused(flow.client, flow.headers("applicant", **prefer))
    within_budget(
        app,
        f"create_draft{suffix}",
        lambda: flow.client.post("/api/v1/permits", json=body, headers=headers),
        201,
    )


def test_create_draft_with_an_idempotency_key_within_budget(app, flow):
    flow.another().file("hot_work")  # a running service: the process has read its regions (region_lineage)
    body = flow.body("hot_work")
    headers = reused(flow.client, flow.headers("applicant", **{"Idempotency-Key": "portal-7f3a"}))
    within_budget(
        app,
        "create_draft_with_key",
        lambda: flow.client.post("/api/v1/permits", json=body, headers=headers),
        201,
    )


@pytest.mark.parametrize("size", [10, 500])
def test_ingest_batch_within_budget_whatever_its_size(app, client, factory, size):
    world = factory.world()
    at_work(factory, world)
    gate = portal(factory, world)
    feed = {"code": "GDS", "kind": "gas", "interval_minutes": 5, "area_codes": [world.area.code]}
    assert client.post("/api/v1/integrations/feeds", json=feed, headers=gate.headers).status_code == 201
    for code in ("GD-1", "GD-2"):
        detector = {"code": code, "area_code": world.area.code, "gas": "CH4", "unit": "%LEL", "feed": "GDS"}
        assert (
            client.post("/api/v1/integrations/detectors", json=detector, headers=gate.headers).status_code
            == 201
        )
    readings = [
        {"detector": f"GD-{1 + i % 2}", "value": 1.0, "measured_at": iso(timedelta(seconds=-i))}
        for i in range(size)
    ]
    within_budget(
        app,
        "ingest",
        lambda: client.post(
            "/api/v1/integrations/gas-readings", json={"readings": readings}, headers=gate.push(f"b-{size}")
        ),
        201,
    )
