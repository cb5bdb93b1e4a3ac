"""Two password changes of one account at once: the second is judged against the password the first set."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from permit_service.directory.models import Person
from tests.api.checks import bearer
from tests.factories import PASSWORD

PASSWORD_URL = "/api/v1/auth/password"
LOGIN = "/api/v1/auth/login"
NEW_PASSWORDS = ("第一个新口令-2026-甲", "第二个新口令-2026-乙")


def _wait_for_lock_waiters(engine: sa.Engine, count: int, *, deadline_s: float = 60.0) -> None:
    """Block until `count` backends of this database wait on a row lock (both requests are inside the race)."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    give_up = time.monotonic() + deadline_s
    with engine.connect() as conn:
        while conn.execute(query).scalar_one() < count:
            assert time.monotonic() < give_up, "the two password changes never reached the person's row lock"
            conn.rollback()
            time.sleep(0.01)


@pytest.mark.postgres_only
def test_concurrent_password_changes_judge_the_second_against_the_first_ones_new_password(app, factory):
    """The person's row is locked for the change: the loser re-checks its current password against the new
    hash and gets 403, issuing no tokens; the winner's new password is the one that logs in. (Read without
    the lock, both checked the old password and the loser's write failed Person's version check: a 412 about
    an If-Match it never sent.)"""
    person = factory.world().people["applicant"]
    token = factory.token(person)
    engine = app.extensions["db_engine"]

    def change(new_password: str) -> tuple[int, str]:
        body = {"current_password": PASSWORD, "new_password": new_password}
        return app.test_client().post(
            PASSWORD_URL, json=body, headers=bearer(token)
        ).status_code, new_password

    # A third transaction holds the person's row until both changes are waiting on it, so that both have
    # started (and, without the lock on read, both have already checked the old password) before either writes.
    with engine.connect() as holder, ThreadPoolExecutor(max_workers=2) as pool:
        holder.execute(sa.select(Person.id).where(Person.id == person.id).with_for_update())
        answers = [pool.submit(change, new) for new in NEW_PASSWORDS]
        _wait_for_lock_waiters(engine, 2)
        holder.commit()
        results = sorted(future.result() for future in answers)

    assert [status for status, _ in results] == [200, 403]
    winner = next(new for status, new in results if status == 200)
    loser = next(new for status, new in results if status == 403)
    client = app.test_client()
    assert client.post(LOGIN, json={"username": person.username, "password": winner}).status_code == 200
    assert client.post(LOGIN, json={"username": person.username, "password": loser}).status_code == 401
    with engine.connect() as conn:
        generation = conn.scalar(sa.select(Person.token_generation).where(Person.id == person.id))
    assert generation == person.token_generation + 1
