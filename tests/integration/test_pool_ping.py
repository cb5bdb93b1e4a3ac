"""PostgreSQL connections are tested only after sitting idle in the pool (issue 14: no ping round trip per request).

A connection the server dropped while it sat idle is replaced before a request gets it; one dropped while in steady
use fails one request as "database unavailable" (503 with Retry-After) and the next request gets a fresh one.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from permit_service import db
from tests.api.checks import assert_problem

pytestmark = pytest.mark.postgres_only


def _drop_the_apps_connections(database_url: str) -> int:
    """Terminate every other backend of the test database, as a server restart or a firewall would."""
    admin = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        dropped = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    return dropped


@pytest.fixture
def reader(client, factory, db_session):
    world = factory.world()
    db_session.close()  # the test's own connection goes back to the pool too
    headers = factory.headers(world.people["applicant"])
    return lambda: client.get("/api/v1/permits", headers=headers)


def test_a_connection_dropped_while_idle_is_replaced_before_a_request_gets_it(
    reader, database_url, monkeypatch
):
    assert reader().status_code == 200
    assert _drop_the_apps_connections(database_url) >= 1
    idle_since = db.time.monotonic()
    monkeypatch.setattr(db.time, "monotonic", lambda: idle_since + db.PING_AFTER_IDLE_SECONDS + 1)
    assert reader().status_code == 200


def test_a_connection_dropped_in_steady_use_fails_one_request_with_503_then_recovers(reader, database_url):
    assert reader().status_code == 200
    assert _drop_the_apps_connections(database_url) >= 1
    answer = reader()  # no ping: the request finds the connection dead
    assert_problem(answer, 503)
    assert int(answer.headers["Retry-After"]) > 0
    assert reader().status_code == 200
