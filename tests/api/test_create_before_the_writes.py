"""A create checks its draft and judges its answer before its write transaction, which holds only the writes and,
under an Idempotency-Key, the key's claim and the stored answer (issue 14): on SQLite the database's write lock is
held that long, on PostgreSQL the claimed key's row. Retries still get the first answer, however they race it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from flask import Flask

from permit_service.api.models import IdempotencyRecord
from permit_service.config import Config
from permit_service.directory.models import Person
from permit_service.permits.models import Permit
from tests.api.checks import counted, listening, peek
from tests.api.permit_flows import API, draft_body
from tests.api.test_read_round_trips import transaction_states
from tests.factories import Factory


def count(app: Flask, model: type) -> int:
    with peek(app) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_concurrent_retries_of_a_create_file_one_permit_and_answer_alike(
    app: Flask, factory: Factory
) -> None:
    world = factory.world()
    headers = factory.headers(world.people["applicant"], **{"Idempotency-Key": "double-click"})
    body = draft_body(world)
    barrier = threading.Barrier(4)

    def post(_: int) -> tuple[int, dict]:
        client = app.test_client()
        barrier.wait()
        resp = client.post(API, json=body, headers=headers)
        return resp.status_code, resp.get_json()

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(post, range(4)))

    assert [status for status, _ in answers] == [201] * 4
    assert all(answer == answers[0][1] for _, answer in answers)
    assert count(app, Permit) == count(app, IdempotencyRecord) == 1


def test_a_retry_refused_by_its_checks_while_its_original_is_written_gets_the_originals_answer(
    app: Flask, config: Config, factory: Factory
) -> None:
    """The original checks its crew, then the worker leaves the enterprise, so the retry's check refuses the crew
    while the original is still writing: the retry waits for the key and answers what the original stored."""
    world = factory.world()
    headers = factory.headers(world.people["applicant"], **{"Idempotency-Key": "slow-original"})
    body = draft_body(world)
    checked, writing, release, retry_checks = (threading.Event() for _ in range(4))

    def hook(_conn, _cursor, statement: str, _params, _context, _many) -> None:
        thread = threading.current_thread().name
        if thread == "original" and (
            statement == "BEGIN IMMEDIATE" or "INTO idempotency_records" in statement
        ):
            checked.set()
        elif thread == "original" and "INSERT INTO permits " in statement:  # PostgreSQL: within a CTE
            writing.set()
            release.wait(10)
        elif thread == "retry" and "FROM people" in statement:
            retry_checks.set()

    answers: dict[str, tuple[int, dict]] = {}

    def post() -> None:
        resp = app.test_client().post(API, json=body, headers=headers)
        answers[threading.current_thread().name] = (resp.status_code, resp.get_json())

    mover = sa.create_engine(config.database_url).connect()
    original = threading.Thread(target=post, name="original")
    retry = threading.Thread(target=post, name="retry")
    with listening(app, "before_cursor_execute", hook):
        # Uncommitted until the original has checked its crew (on SQLite the original then waits for this lock).
        mover.execute(
            sa.update(Person)
            .where(Person.id == world.people["worker"].id)
            .values(enterprise_id=world.other_enterprise.id)
        )
        original.start()
        assert checked.wait(10)
        mover.commit()
        assert writing.wait(10)
        retry.start()
        assert retry_checks.wait(10)
        release.set()
        original.join(10)
        retry.join(10)
    mover.close()
    mover.engine.dispose()

    status, created = answers["original"]
    assert status == 201, created
    assert answers["retry"] == (201, created)
    assert count(app, Permit) == 1


@pytest.mark.postgres_only
def test_a_create_reads_outside_any_transaction_and_writes_with_its_answer_in_one(
    app: Flask, client, factory: Factory
) -> None:
    from psycopg.pq import TransactionStatus

    world = factory.world()
    headers = factory.headers(world.people["applicant"], **{"Idempotency-Key": "one-transaction"})
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200  # the caller, cached
    with transaction_states(app) as states, counted(app) as statements:
        resp = client.post(API, json=draft_body(world), headers=headers)
    assert resp.status_code == 201, resp.get_json()

    seen = list(zip(statements, states, strict=True))
    checks = states.index(TransactionStatus.INTRANS)
    reads, writes = seen[:checks], seen[checks:]
    # The area, freezes, calendar and crew: no transaction, no lock.
    assert {state for _, state in reads} == {TransactionStatus.IDLE}
    assert all(statement.lstrip().startswith("SELECT") for statement, _ in reads)
    assert any("FROM people" in statement for statement, _ in reads)
    # The key claimed, the number, the rows, the event and the answer stored in the claim: one transaction.
    assert {state for _, state in writes} == {TransactionStatus.INTRANS}
    assert "INSERT INTO idempotency_records" in writes[0][0]
    assert any(statement.lstrip().startswith("UPDATE idempotency_records") for statement, _ in writes)
