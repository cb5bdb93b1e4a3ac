"""HR-01 through the HTTP API: every permit answers whether it is Plan-27 work, the obvious cases cannot answer
none, and a 切水 job in a tank-farm dike stops hot work there whether or not it carries a permit (HW-10)."""

from __future__ import annotations

import pytest

from tests.api.checks import assert_problem
from tests.api.permit_flows import API, PermitFlow
from tests.api.test_jobs import act, file_job


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def test_HR_01_a_permit_is_filed_only_with_its_answer(flow):
    body = flow.body("hot_work")
    del body["high_risk_kind"]
    problem = assert_problem(flow.client.post(API, json=body, headers=flow.headers("applicant")), 422)
    assert set(problem["errors"]) == {"high_risk_kind"}
    assert flow.file("hot_work").permit["high_risk_kind"] == "none"


def test_HR_01_a_tank_cleaning_entry_filed_as_none_is_still_plan27_work(flow):
    cleaning = {"space_kind": "tank", "purpose": "cleaning"}
    flow.file("confined_space", facts=cleaning)
    problem = flow.refused("submit", "HR-01", by="applicant")
    assert "tank cleaning" in problem["message_en"] and "清罐" in problem["message_zh"]
    declared = flow.file("confined_space", facts=cleaning, high_risk_kind="tank_cleaning").submit()
    assert declared.permit["high_risk_kind"] == "tank_cleaning"
    # Plan-27 work: approved only under a consented job (HR-01)
    assert declared.refused("approve", "HR-01", {"evidence": declared.evidence()}, by="unit_leader")


def test_HR_01_work_on_a_leaking_line_is_leak_plugging(flow):
    flow.file("blind_plate", facts={"leaking_line": True})
    assert "leak plugging" in flow.refused("submit", "HR-01", by="applicant")["message_en"]


def test_HW_10_a_water_draining_job_without_permits_stops_hot_work_in_its_dike(client, factory, flow):
    world = flow.world
    east = factory.area(world.enterprise, dike_code="D-9")
    west = factory.area(world.enterprise, dike_code="D-9", code="TF-W")
    other_dike = factory.area(world.enterprise, dike_code="D-10")
    factory.session.commit()
    job = file_job(client, factory, world, kind="water_draining", area_id=str(west.id), title="3#罐切水")
    assert act(client, factory, world.people["applicant"], job, "report").status_code == 200

    flow.file("hot_work", area_id=str(east.id)).submit()
    problem = flow.refused("approve", "HW-10", {"evidence": flow.evidence()}, by="safety_dept")
    assert "3#罐切水" in problem["message_zh"] and "D-9" in problem["message_en"]
    assert flow.file("hot_work", area_id=str(other_dike.id)).to_approved().state == "approved"
