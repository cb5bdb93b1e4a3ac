"""BP-02 and the other conflict rules hold under concurrent approvals: the second approval sees the first."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

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
