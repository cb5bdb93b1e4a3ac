"""What an action decides by is read after it holds the permit's row lock (issue 14): the rows that writers change
while they hold that lock are never read from a snapshot older than the lock."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from tests.api.permit_flows import PermitFlow

pytestmark = pytest.mark.postgres_only


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
