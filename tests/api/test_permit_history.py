"""A permit's signatures and gas tests are read as plain rows (issue 14); its answers list them as ever."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.permit_flows import PermitFlow

FAILING = [{"gas": "CH4", "value": 0.8, "unit": "%vol"}]


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def _listed(flow: PermitFlow) -> list[dict]:
    resp = flow.client.get(f"{flow.url}/gas-tests", headers=flow.headers("applicant"))
    assert resp.status_code == 200
    return resp.get_json()["items"]


def test_every_answer_lists_the_gas_tests_as_their_own_endpoint_does_in_sampling_order(flow):
    flow.file("hot_work").submit()
    flow.gas_test(ago=timedelta(minutes=5))
    # Sampled earlier: listed first, whatever the order they were recorded in.
    flow.gas_test(FAILING, ago=timedelta(minutes=20))
    answered = flow.do(
        "record_gas_test",
        {**flow.gas_body(ago=timedelta(minutes=10)), "point": '罐 "T-1" 人孔'},
        by="analyst",
    ).permit["gas_tests"]

    listed = _listed(flow)
    assert answered == listed == flow.reload().permit["gas_tests"]
    assert [t["passed"] for t in listed] == [False, True, True]
    assert listed[0]["findings"][0]["rule"] == "HW-05" and listed[1]["point"] == '罐 "T-1" 人孔'
    assert [t["sampled_at"] for t in listed] == sorted(t["sampled_at"] for t in listed)


def test_an_action_answers_with_the_signature_it_added(flow):
    flow.file("hot_work").to_active()
    before = len(flow.permit["signatures"])
    flow.suspend()
    assert len(flow.permit["signatures"]) == before + 1
    assert flow.permit["signatures"] == flow.reload().permit["signatures"]
    assert flow.permit["signatures"][-1]["kind"] == "suspension"
