"""On SQLite (WAL) writes queue for the write lock, one at a time, and a request's reads run beside a writer (issue 14)."""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask

from permit_service import create_app, db
from permit_service.config import Config
from tests.api.checks import assert_problem, listening
from tests.api.permit_flows import draft_body
from tests.conftest import ON_POSTGRES
from tests.factories import Factory

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="SQLite's database-wide write lock")


@pytest.fixture
def impatient(config: Config, app: Flask) -> Iterator[Flask]:
    """A second app on the same file whose writers give up after 100 ms instead of 5 s."""
    other = create_app(dataclasses.replace(config, sqlite_busy_timeout_ms=100))
    other.extensions["clock"] = app.extensions["clock"]
    yield other
    other.extensions["db_engine"].dispose()


@pytest.fixture
def other_writer(config: Config) -> Iterator[sqlite3.Connection]:
    """Another process's connection to the file, to hold the write lock with BEGIN IMMEDIATE."""
    conn = sqlite3.connect(config.database_url.removeprefix("sqlite:///"), isolation_level=None)
    yield conn
    conn.close()


def test_a_permit_and_the_list_are_read_while_another_writer_holds_the_lock(
    client, factory: Factory, impatient: Flask, other_writer: sqlite3.Connection
) -> None:
    world = factory.world()
    created = client.post(
        "/api/v1/permits", json=draft_body(world), headers=factory.headers(world.people["applicant"])
    )
    assert created.status_code == 201, created.json
    reader = impatient.test_client()
    headers = factory.headers(world.people["work_leader"])
    other_writer.execute("BEGIN IMMEDIATE")

    one = reader.get(f"/api/v1/permits/{created.json['id']}", headers=headers)
    page = reader.get("/api/v1/permits?limit=50", headers=headers)

    assert one.status_code == 200, one.json
    assert one.json["number"] == created.json["number"]
    assert [p["id"] for p in page.json["items"]] == [created.json["id"]]
    other_writer.rollback()


def test_a_write_still_waits_for_the_lock_and_changes_nothing_when_it_gives_up(
    client, factory: Factory, impatient: Flask, other_writer: sqlite3.Connection
) -> None:
    world = factory.world()
    headers = factory.headers(world.people["applicant"])
    other_writer.execute("BEGIN IMMEDIATE")

    refused = impatient.test_client().post("/api/v1/permits", json=draft_body(world), headers=headers)
    other_writer.rollback()
    listed = client.get("/api/v1/permits?limit=50", headers=headers)

    assert refused.status_code >= 500
    assert listed.json["items"] == []


def test_a_refused_create_and_a_retried_one_answer_while_another_writer_holds_the_lock(
    client, factory: Factory, impatient: Flask, other_writer: sqlite3.Connection
) -> None:
    world = factory.world()
    headers = factory.headers(world.people["applicant"], **{"Idempotency-Key": "filed-before"})
    created = client.post("/api/v1/permits", json=draft_body(world), headers=headers)
    assert created.status_code == 201, created.json
    waiting = impatient.test_client()
    other_writer.execute("BEGIN IMMEDIATE")

    # Neither writes: the retry finds the stored answer, the other is refused by its checks (an unknown crew
    # member), both before asking for the write lock. (A refused request with a key of its own would wait for the
    # lock to look for its key's answer once more: see test_create_before_the_writes.)
    retried = waiting.post("/api/v1/permits", json=draft_body(world), headers=headers)
    refused = waiting.post(
        "/api/v1/permits",
        json=draft_body(world, crew=[{"person_id": str(uuid.uuid4()), "role": "worker"}]),
        headers=factory.headers(world.people["applicant"]),
    )
    other_writer.rollback()

    assert retried.status_code == 201 and retried.json == created.json
    assert_problem(refused, 422, fields={"crew.0.person_id"})


def _queue_is_free(config: Config) -> bool:
    fd = os.open(config.database_url.removeprefix("sqlite:///") + "-writers", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_writers_leave_the_queue_when_their_transaction_ends_committed_or_rejected(
    app: Flask, client, config: Config, factory: Factory
) -> None:
    world = factory.world()
    headers = factory.headers(world.people["applicant"])

    created = client.post("/api/v1/permits", json=draft_body(world), headers=headers)
    after_commit = _queue_is_free(config)
    rejected = client.post(
        "/api/v1/permits", json=draft_body(world, area_id=str(world.enterprise.id)), headers=headers
    )
    after_rejection = _queue_is_free(config)

    assert created.status_code == 201
    assert rejected.status_code in (404, 422)
    assert after_commit and after_rejection


def test_concurrent_creates_all_succeed_one_writer_at_a_time(app: Flask, factory: Factory) -> None:
    world = factory.world()
    headers = factory.headers(world.people["applicant"])
    body = draft_body(world)

    def create(_: int) -> tuple[int, str | None]:
        answer = app.test_client().post("/api/v1/permits", json=body, headers=headers)
        return answer.status_code, answer.json.get("number")

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(create, range(16)))

    assert [status for status, _ in answers] == [201] * 16
    assert len({number for _, number in answers}) == 16


def test_a_writer_checkpoints_the_wal_once_it_has_left_the_queue(
    app: Flask, client, config: Config, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "CHECKPOINT_FRAMES", 1)  # every commit finds frames to copy
    world = factory.world()
    queue_free_at_checkpoints: list[bool] = []

    def trace(statement: str) -> None:
        if statement.startswith("PRAGMA wal_checkpoint"):
            queue_free_at_checkpoints.append(_queue_is_free(config))

    with listening(app, "connect", lambda dbapi_conn, _record: dbapi_conn.set_trace_callback(trace)):
        app.extensions["db_engine"].dispose()  # the request's connection is a new one, traced
        created = client.post(
            "/api/v1/permits", json=draft_body(world), headers=factory.headers(world.people["applicant"])
        )

    assert created.status_code == 201, created.json
    assert queue_free_at_checkpoints and all(queue_free_at_checkpoints)
    wal_index = os.open(config.database_url.removeprefix("sqlite:///") + "-shm", os.O_RDONLY)
    try:
        assert db._frames_to_checkpoint(wal_index) == 0
    finally:
        os.close(wal_index)


def test_a_waiting_writer_sleeps_until_the_holder_leaves_instead_of_polling(
    app: Flask, config: Config, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = factory.world()
    headers = factory.headers(world.people["applicant"])
    other_process = db._WritersQueue(config.database_url.removeprefix("sqlite:///") + "-writers")
    other_process.join(timeout_s=1)
    tries = 0
    first_try = threading.Event()
    flock = fcntl.flock

    def counted_flock(fd: int, operation: int) -> None:
        nonlocal tries
        if threading.current_thread().name == "waiting" and operation & fcntl.LOCK_EX:
            tries += 1
            first_try.set()
        flock(fd, operation)

    monkeypatch.setattr(db.fcntl, "flock", counted_flock)
    answers = []
    waiting = threading.Thread(
        target=lambda: answers.append(
            app.test_client().post("/api/v1/permits", json=draft_body(world), headers=headers)
        ),
        name="waiting",
    )
    waiting.start()
    # From its first try on, the create waits for the queue (on a loaded host it may take a while to get there).
    assert first_try.wait(10)
    time.sleep(0.5)  # the create waits for the queue all this while
    other_process.leave()
    waiting.join(10)
    other_process.close()

    assert answers[0].status_code == 201, answers[0].json
    # Polling each millisecond tried ~500 times; sleeping until a ring, at most every RECHECK_SECONDS, ~25.
    assert 1 < tries <= 0.5 / db.RECHECK_SECONDS + 5


def test_without_a_doorbell_writers_poll_the_queue_and_concurrent_creates_still_all_succeed(
    app: Flask,
    config: Config,
    factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def no_fifos(path: str, mode: int = 0o666) -> None:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported", path)

    monkeypatch.setattr(db.os, "mkfifo", no_fifos)
    app.extensions["db_engine"].dispose()  # every connection from here on is made without a doorbell
    world = factory.world()
    headers = factory.headers(world.people["applicant"])
    body = draft_body(world)
    other_process = db._WritersQueue(config.database_url.removeprefix("sqlite:///") + "-writers")
    other_process.join(timeout_s=1)

    def create(_: int) -> tuple[int, str | None]:
        answer = app.test_client().post("/api/v1/permits", json=body, headers=headers)
        return answer.status_code, answer.json.get("number")

    with ThreadPoolExecutor(max_workers=8) as pool:
        pending = [pool.submit(create, i) for i in range(16)]
        time.sleep(0.3)  # far less than the busy timeout: every create waits for the queue
        waited = not any(p.done() for p in pending)
        other_process.leave()  # no ring: the waiters find the queue free by polling
        answers = [p.result() for p in pending]
    other_process.close()

    assert waited
    assert [status for status, _ in answers] == [201] * 16
    assert len({number for _, number in answers}) == 16
    warnings = [r for r in caplog.records if "doorbell" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert not os.path.exists(config.database_url.removeprefix("sqlite:///") + "-writers.bell")
