"""BP-02 and the other conflict rules hold under concurrent approvals: the second approval sees the first."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from permit_service.db import advisory_xact_lock
from tests.api.permit_flows import CROSS_OPERATION, PermitFlow

CONTENDERS = 4


@pytest.mark.postgres_only
def test_BP_02_two_blind_plate_jobs_on_one_pipeline_approved_at_once_let_only_one_through(app, factory):
    """Read committed alone lets each approval miss the other, still submitted when it looked (both pass)."""
    world = factory.world()
    client = app.test_client()
    flows = [
        PermitFlow(client, factory, world).file("blind_plate", facts=CROSS_OPERATION).submit()
        for i in range(CONTENDERS)
    ]
    start = threading.Barrier(CONTENDERS)

    def approve(flow: PermitFlow) -> tuple[int, str | None]:
        own = app.test_client()
        body = {"evidence": flow.evidence()}
        headers = flow.headers("unit_leader")
        start.wait()
        resp = own.post(f"{flow.url}/approve", json=body, headers=headers)
        return resp.status_code, (resp.get_json() or {}).get("rule")

    with ThreadPoolExecutor(max_workers=CONTENDERS) as pool:
        answers = list(pool.map(approve, flows))
    assert sorted(answers, key=str) == sorted([(200, None)] + [(409, "BP-02")] * (CONTENDERS - 1), key=str)
    assert sorted(flow.reload().state for flow in flows) == ["approved"] + ["submitted"] * (CONTENDERS - 1)


@pytest.mark.postgres_only
def test_reading_a_permit_never_queues_behind_an_approval_in_flight(app, factory):
    """Only changes take the neighbours' lock: a GET of a submitted permit answers while an approval holds it."""
    world = factory.world()
    flow = PermitFlow(app.test_client(), factory, world).file("blind_plate", facts=CROSS_OPERATION).submit()
    holder = app.extensions["db_sessionmaker"]()
    try:
        advisory_xact_lock(holder, f"nearby:{world.enterprise.id}")  # as an approval of the enterprise does
        answers: list[int] = []
        reader = threading.Thread(
            target=lambda: answers.append(
                app.test_client().get(flow.url, headers=flow.headers("applicant")).status_code
            )
        )
        reader.start()
        reader.join(timeout=30)  # a deadlock guard, not a speed limit: a blocked GET would wait forever
        assert answers == [200]
    finally:
        holder.rollback()
        holder.close()
        reader.join()
