"""What an action decides by is read after it holds the permit's row lock (issue 14): the rows that writers change
while they hold that lock are never read from a snapshot older than the lock. An action judged before it takes the
lock (permits.service.judge) reads them again holding it, and is judged again if they moved."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from permit_service.directory.models import Enterprise
from tests.api.checks import assert_problem, counted
from tests.api.permit_flows import PermitFlow
from tests.conftest import ON_POSTGRES
from tests.plant import give_cards


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def _waiting_for_a_lock(app) -> bool:
    with app.extensions["db_engine"].connect() as conn:
        return bool(
            conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
        )


@pytest.mark.postgres_only
def test_RG_02_an_activation_that_waited_for_the_grading_sees_the_red_grade(app, flow):
    flow.file("hot_work").to_briefed().gas_test()
    engine = app.extensions["db_engine"]
    grading = engine.connect()
    tx = grading.begin()
    # A regulator's grading as stop_unconsented_work runs it: the enterprise's open permits locked, the grade set.
    grading.execute(sa.text("SELECT 1 FROM permits WHERE id = :id FOR UPDATE"), {"id": flow.id})
    grading.execute(
        sa.text("UPDATE enterprises SET risk_grade = 'red' WHERE id = :id"), {"id": flow.world.enterprise.id}
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        client = app.test_client()
        activation = pool.submit(
            client.post, f"{flow.url}/activate", json={}, headers=flow.headers("work_leader")
        )
        deadline = time.monotonic() + 10
        while not _waiting_for_a_lock(app) and time.monotonic() < deadline:
            time.sleep(0.05)
        tx.commit()
        grading.close()
        resp = activation.result(timeout=30)
    # RG-02: a red enterprise's work starts only with the regulator's consent (HR-01), which it lacks.
    assert resp.status_code == 409, resp.get_json()
    assert resp.get_json()["rule"] == "HR-01"


@contextmanager
def holding_the_permit(app, permit_id: str, config) -> Iterator[Callable[[str, dict], None]]:
    """Another writer holding the permit's lock (PostgreSQL: its row; SQLite: the database's write lock) as the
    writers that change presence, grades and jobs do; yields how to run its statements. It commits once the request
    started in the block has reached the lock (PostgreSQL: is waiting for it; SQLite: after a pause)."""
    if ON_POSTGRES:
        conn = app.extensions["db_engine"].connect()
        tx = conn.begin()
        conn.execute(sa.text("SELECT 1 FROM permits WHERE id = :id FOR UPDATE"), {"id": permit_id})
        yield lambda sql, params: conn.execute(sa.text(sql), params)
        deadline = time.monotonic() + 10
        while not _waiting_for_a_lock(app) and time.monotonic() < deadline:
            time.sleep(0.05)
        tx.commit()
        conn.close()
        return
    raw = sqlite3.connect(config.database_url.removeprefix("sqlite:///"), isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    yield lambda sql, params: raw.execute(sql, params)
    time.sleep(0.5)  # the request judges without the lock meanwhile, then queues for it
    raw.execute("COMMIT")
    raw.close()


def _uid(value) -> str:
    # SQLite stores UUIDs as 32 hex digits; PostgreSQL takes either form.
    return value.hex if not ON_POSTGRES else str(value)


def _in_the_background(app, flow: PermitFlow, action: str, body: dict, who: str) -> Callable[[], object]:
    pool = ThreadPoolExecutor(max_workers=1)
    started = threading.Event()

    def post():
        started.set()
        return app.test_client().post(f"{flow.url}/{action}", json=body, headers=flow.headers(who))

    future = pool.submit(post)
    started.wait()

    def result():
        try:
            return future.result(timeout=30)
        finally:
            pool.shutdown()

    return result


def test_RG_02_a_resumption_judged_before_a_red_grading_is_refused_once_it_holds_the_lock(app, config, flow):
    flow.file("hot_work").to_active().suspend()
    version = flow.permit["version"]
    with holding_the_permit(app, flow.id, config) as run:
        # A regulator's grading as stop_unconsented_work runs it: the enterprise's open permits locked, the grade set.
        run(
            "UPDATE enterprises SET risk_grade = 'red' WHERE id = :id", {"id": _uid(flow.world.enterprise.id)}
        )
        resumption = _in_the_background(app, flow, "resume", {"conditions_confirmed": True}, "work_leader")
    # RG-02: a red enterprise's work goes on only with the regulator's consent (HR-01), which it lacks; the
    # judgement made on the green grade before the lock is not the one written.
    refused = assert_problem(resumption(), 409)
    assert "HR-01" in {v["rule"] for v in refused["violations"]}
    assert (flow.reload().state, flow.permit["version"]) == ("suspended", version)


def test_HC_04_a_resumption_judged_with_the_guardian_inside_is_refused_once_the_guardian_checked_out(
    app, config, flow
):
    flow.file("hot_work").to_active()
    guardian = flow.person("guardian")
    give_cards(flow.factory, guardian)  # HC-03
    checked_in = flow.client.post(
        f"{flow.url}/presence/check-ins",
        json={"person_id": str(guardian.id)},
        headers=flow.headers("work_leader"),
    )
    assert checked_in.status_code == 201, checked_in.get_json()
    flow.suspend()
    version = flow.permit["version"]
    with holding_the_permit(app, flow.id, config) as run:
        # The guardian's check-out as the register writes it, holding the permit's lock.
        run(
            "UPDATE presence_entries SET checked_out_at = created_at WHERE permit_id = :id AND person_id = :person",
            {"id": _uid(uuid.UUID(flow.id)), "person": _uid(guardian.id)},
        )
        resumption = _in_the_background(app, flow, "resume", {"conditions_confirmed": True}, "work_leader")
    refused = assert_problem(resumption(), 409)
    assert "HC-04" in {v["rule"] for v in refused["violations"]}
    assert (flow.reload().state, flow.permit["version"]) == ("suspended", version)


CONTENDERS = 6


def _at_once(app, flow: PermitFlow, action: str, body: Callable[[], dict], who: str) -> list:
    start = threading.Barrier(CONTENDERS)

    def post(_):
        client = app.test_client()
        sent = body()
        start.wait()
        return client.post(f"{flow.url}/{action}", json=sent, headers=flow.headers(who))

    with ThreadPoolExecutor(max_workers=CONTENDERS) as pool:
        return list(pool.map(post, range(CONTENDERS)))


def test_gas_tests_posted_at_once_to_one_permit_are_each_recorded_once_with_a_version_of_their_own(app, flow):
    flow.file("hot_work").to_active()
    before = flow.permit["version"]
    answers = _at_once(app, flow, "gas-tests", flow.gas_body, "analyst")
    assert [a.status_code for a in answers] == [200] * CONTENDERS, [a.get_json() for a in answers]
    # Each judged without the lock on a version another one moved: each stands (a gas test is judged by nothing a
    # gas test changes) and is written once, on the version before it.
    assert sorted(a.get_json()["version"] for a in answers) == list(
        range(before + 1, before + CONTENDERS + 1)
    )
    assert flow.reload().permit["version"] == before + CONTENDERS
    events = flow.client.get(f"{flow.url}/events", headers=flow.headers("applicant")).get_json()["items"]
    assert [e["kind"] for e in events].count("permit.record_gas_test") == CONTENDERS + 1


def test_G_08_suspensions_posted_at_once_let_one_through_and_refuse_the_others(app, flow):
    flow.file("hot_work").to_active()
    before = flow.permit["version"]
    answers = _at_once(app, flow, "suspend", lambda: {"reason": "现场异常"}, "guardian")
    # Judged on the active permit, each but the first finds the permit moved and is judged again: suspended.
    assert sorted(a.status_code for a in answers) == [200] + [409] * (CONTENDERS - 1)
    assert (flow.reload().state, flow.permit["version"]) == ("suspended", before + 1)
    events = flow.client.get(f"{flow.url}/events", headers=flow.headers("applicant")).get_json()["items"]
    assert [e["kind"] for e in events].count("permit.suspend") == 1


def _permit_reads(statements: list[str]) -> list[str]:
    """How each read of the permit's row was made: `if free` (SKIP LOCKED), `locked` (waits) or `unlocked`."""
    reads = []
    for sql in statements:
        flat = " ".join(sql.split())
        if not flat.startswith("SELECT permits.") or "FROM permits" not in flat:
            continue
        reads.append("if free" if "SKIP LOCKED" in flat else "locked" if "FOR UPDATE" in flat else "unlocked")
    return reads


@pytest.mark.postgres_only
def test_an_action_on_a_permit_nobody_holds_reads_it_once_holding_its_lock(app, flow):
    flow.file("hot_work").to_active()
    with counted(app) as statements:
        flow.suspend()
    # Judged holding the lock taken by the one read of the permit (service.act): no read before the lock.
    assert _permit_reads(statements) == ["if free"]
    assert flow.state == "suspended"


@pytest.mark.postgres_only
def test_an_action_on_a_permit_another_transaction_holds_is_judged_while_it_waits(app, config, flow):
    flow.file("hot_work").to_active()
    version = flow.permit["version"]
    with counted(app) as statements, holding_the_permit(app, flow.id, config):
        suspension = _in_the_background(app, flow, "suspend", {"reason": "现场异常"}, "guardian")
    resp = suspension()
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["version"] == version + 1
    # The lock was not free: judged on the permit read without it, then the lock waited for, the judgement checked
    # holding it, and written (G-08).
    assert _permit_reads(statements) == ["if free", "unlocked", "locked"]


@pytest.mark.postgres_only
def test_an_action_written_over_a_version_another_writer_moved_is_412_and_writes_nothing(
    app, flow, monkeypatch
):
    # The write checks the version it moves (PostgreSQL: in its one statement, as the ORM's version_id does on
    # SQLite): were a writer ever to move the row past the permit's lock, the action would not write over it.
    from permit_service.permits import service

    flow.file("hot_work").to_active()
    engine = app.extensions["db_engine"]
    written = sa.text(
        "SELECT (SELECT count(*) FROM events WHERE subject_id = :id), (SELECT count(*) FROM signatures WHERE"
        " CAST(permit_id AS TEXT) = :id), (SELECT count(*) FROM event_feed)"
    )
    with engine.connect() as conn:
        before = tuple(conn.execute(written, {"id": flow.id}).one())

    def moved_underneath(*_args, **_kwargs) -> bool:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE permits SET version = version + 1 WHERE CAST(id AS TEXT) = :id"),
                {"id": flow.id},
            )
        return True

    read_permit = service._read_permit

    def held_by_another(
        *args, lock=None, **kwargs
    ):  # as if another transaction held the row: judge, carry_out
        return None if lock == "if_free" else read_permit(*args, lock=lock, **kwargs)

    monkeypatch.setattr(service, "_read_permit", held_by_another)
    monkeypatch.setattr(service, "_still_holds", moved_underneath)
    resp = flow.client.post(
        f"{flow.url}/suspend", json={"reason": "现场异常"}, headers=flow.headers("guardian")
    )
    assert_problem(resp, 412)
    with engine.connect() as conn:
        assert tuple(conn.execute(written, {"id": flow.id}).one()) == before
    assert flow.reload().state == "active"


def test_RG_02_an_actions_answer_weighs_the_next_actions_by_the_grade_its_write_read(app, flow):
    # PostgreSQL reads the grade and the Plan-27 job in the action's writes, holding the permit's lock, for the
    # answer (permits.service._act_in_one); SQLite reads them for the answer after the commit.
    flow.file("hot_work").to_active()
    with app.extensions["db_engine"].begin() as conn:  # graded red, as a regulator's grading leaves it
        conn.execute(
            sa.update(Enterprise).where(Enterprise.id == flow.world.enterprise.id).values(risk_grade="red")
        )
    answer = flow.suspend(by="work_leader").permit
    blocked = {b["action"]: [v["rule"] for v in b["violations"]] for b in answer["blocked_actions"]}
    assert "HR-01" in blocked["resume"]  # RG-02: red work waits for the regulator's consent
    read = flow.reload(by="work_leader").permit
    assert (answer["allowed_actions"], answer["blocked_actions"]) == (
        read["allowed_actions"],
        read["blocked_actions"],
    )


def test_a_gas_test_sampled_before_the_last_takes_its_place_in_the_actions_answer(app, flow):
    # The whole answer lists the gas tests in sampling order; on PostgreSQL the writes read those the permit had and
    # the new one is put in its place (children.add), on SQLite all are read after the commit.
    flow.file("hot_work").to_active()
    latest = flow.gas_test().permit["gas_tests"][-1]
    answer = flow.gas_test(ago=timedelta(minutes=5)).permit
    sampled = [t["sampled_at"] for t in answer["gas_tests"]]
    assert sampled == sorted(sampled, key=datetime.fromisoformat) and answer["gas_tests"][-1] == latest
    assert answer["gas_tests"] == flow.reload(by="analyst").permit["gas_tests"]
