"""Reads of permits, and an action's answer, open no transaction on PostgreSQL: no BEGIN and no ROLLBACK or COMMIT
round trip around their statements (issue 14; under READ COMMITTED each statement has its own snapshot anyway)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from psycopg.pq import TransactionStatus

from tests.api.checks import listening
from tests.api.permit_flows import PermitFlow

pytestmark = pytest.mark.postgres_only


@contextmanager
def transaction_states(app) -> Iterator[list[TransactionStatus]]:
    """The server-side transaction status after each statement of the app."""
    seen: list[TransactionStatus] = []

    def note(conn, _cursor, _statement, _params, _context, _many) -> None:  # after: psycopg sends BEGIN first
        seen.append(conn.connection.dbapi_connection.info.transaction_status)

    with listening(app, "after_cursor_execute", note):
        yield seen


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


@pytest.mark.parametrize("state", ["closed", "active"])
def test_reading_a_permit_and_the_list_sends_statements_outside_any_transaction(app, flow, state):
    flow.file("hot_work")
    flow.to_closed() if state == "closed" else flow.to_active()
    headers = flow.headers("work_leader")
    assert flow.client.get("/api/v1/auth/me", headers=headers).status_code == 200  # the caller, cached
    with transaction_states(app) as seen:
        assert flow.client.get(flow.url, headers=headers).status_code == 200
        assert flow.client.get("/api/v1/permits?limit=5", headers=headers).status_code == 200
    assert seen and set(seen) == {TransactionStatus.IDLE}


def test_an_action_runs_in_one_transaction_and_its_answer_outside_any(app, flow):
    flow.file("hot_work").to_active()
    headers = flow.headers("guardian", **{"If-Match": f'"{flow.permit["version"]}"'})
    assert flow.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    with transaction_states(app) as seen:
        resp = flow.client.post(f"{flow.url}/suspend", json={"reason": "现场异常"}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    # Nobody else holds the permit (issue 14, service.act): the suspension is judged on the permit read holding its
    # lock, and written, in one transaction, whose writes also read what the answer needs that the action did not
    # read (the permit's signatures and gas tests, the grade and the Plan-27 job of its next actions' approval
    # slots): nothing is sent after the commit.
    assert len(seen) > 1 and seen == [TransactionStatus.INTRANS] * len(seen)
