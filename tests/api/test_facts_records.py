"""Evidence, not claims, through the HTTP API (issue 11): facts typed and taken from the area's record (G-14),
representative gases (HW-05, CS-02), HW-02's relief, WH-01 and TE-01/TE-02 from the record."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from permit_service.permits.models import Permit
from tests.api.checks import assert_problem
from tests.api.permit_flows import API, PermitFlow


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def area_of(flow: PermitFlow, **record) -> str:
    """A plant area of the enterprise with `record` (media, dike, classification), its id."""
    area = flow.factory.area(flow.world.enterprise, **record)
    flow.factory.session.commit()
    return str(area.id)


def permits_stored(db_session) -> int:
    count = db_session.scalar(sa.select(sa.func.count()).select_from(Permit))
    db_session.commit()  # SQLite: release the read snapshot
    return count


# -- G-14: the area record ----------------------------------------------------------------------------------


def test_G_14_an_area_records_its_media_dike_and_major_hazard(client, factory):
    world = factory.world()
    admin = factory.headers(world.people["enterprise_admin"])
    body = {
        "code": "TF-1",
        "name": "原油罐区",
        "major_hazard": True,
        "dike_code": "D-1",
        "media": ["CH4", "H2S"],
    }
    areas = f"/api/v1/enterprises/{world.enterprise.id}/areas"
    resp = client.post(areas, json=body, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    area = client.get(f"/api/v1/areas/{resp.get_json()['id']}", headers=admin).get_json()
    assert (area["major_hazard"], area["dike_code"], area["media"]) == (True, "D-1", ["CH4", "H2S"])
    bad = client.post(areas, json={**body, "code": "TF-2", "media": ["原油"]}, headers=admin)
    assert "media" in assert_problem(bad, 422)["errors"]


# -- G-14: typed facts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("wind", ["6", True, 1e300, -5, 18])
def test_G_14_a_wind_level_that_is_not_a_force_0_to_17_is_a_422_and_nothing_is_stored(flow, db_session, wind):
    before = permits_stored(db_session)
    resp = flow.client.post(
        API, json=flow.body(facts={"wind_level": wind}), headers=flow.headers("applicant")
    )
    problem = assert_problem(resp, 422)
    assert problem["rule"] == "G-14" and list(problem["errors"]) == ["facts.wind_level"]
    assert problem["errors"]["facts.wind_level"][0].startswith("须")
    assert permits_stored(db_session) == before


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "1e400"])
def test_G_14_non_finite_numbers_in_facts_are_refused_as_not_json(flow, db_session, raw):
    """RFC 8259 has no NaN or Infinity, and 1e400 is no finite number: the body is refused before any fact."""
    before = permits_stored(db_session)
    body = flow.body(facts={"wind_level": 0})
    text = flow.client.application.json.dumps(body).replace('"wind_level": 0', f'"wind_level": {raw}')
    resp = flow.client.post(
        API, data=text, content_type="application/json", headers=flow.headers("applicant")
    )
    assert assert_problem(resp, 400)["type"] == "/problems/invalid-json"
    assert permits_stored(db_session) == before


def test_G_14_a_flag_is_true_or_false_and_an_unknown_fact_is_named(flow):
    body = flow.body(facts={"fire_explosion_area": "yes", "dike_id": "D-9"})
    problem = assert_problem(flow.client.post(API, json=body, headers=flow.headers("applicant")), 422)
    assert set(problem["errors"]) == {"facts.fire_explosion_area", "facts.dike_id"}


def test_G_14_editing_a_draft_checks_the_facts_and_changes_nothing_when_refused(flow):
    flow.file("height")
    resp = flow.client.patch(
        flow.url,
        json={"facts": {"height_m": "3", "objective_hazards": ["sunshine"]}},
        headers=flow.headers("applicant", **{"If-Match": f'"{flow.permit["version"]}"'}),
    )
    problem = assert_problem(resp, 422)
    assert set(problem["errors"]) == {"facts.height_m", "facts.objective_hazards"}
    assert flow.reload().permit["facts"]["height_m"] == 4


def test_G_14_the_catalogue_publishes_each_fact_type(client, factory):
    world = factory.world()
    hot_work = client.get("/api/v1/permit-types/hot_work", headers=factory.headers(world.people["applicant"]))
    facts = {f["name"]: f for f in hot_work.get_json()["facts"]}
    assert (
        facts["wind_level"]["schema"]["type"] == ["integer", "null"]
        and facts["wind_level"]["schema"]["maximum"] == 17
    )
    gases = client.get("/api/v1/gases", headers=factory.headers(world.people["applicant"])).get_json()[
        "items"
    ]
    assert {"code": "H2S", "zh": "硫化氢"}.items() <= next(g for g in gases if g["code"] == "H2S").items()


# -- HW-02 / HW-01: the dike on record ----------------------------------------------------------------------


def test_HW_02_a_dike_job_with_unit_shutdown_isolated_stays_special(flow):
    dike = area_of(flow, major_hazard=True, dike_code="D-1", running_unit=False)
    flow.file("hot_work", area_id=dike, grade="level2", facts={"unit_shutdown_isolated": True})
    problem = flow.refused("submit", "HW-01", by="applicant")
    assert "special" in problem["message_en"]
    flow.client.patch(
        flow.url,
        json={"grade": "special"},
        headers=flow.headers("applicant", **{"If-Match": f'"{flow.permit["version"]}"'}),
    )
    flow.reload().submit()
    assert flow.permit["grade"] == "special"


def test_G_14_a_running_unit_on_record_cannot_be_declared_shut_down(flow):
    flow.file("hot_work", facts={"unit_shutdown_isolated": True})  # the standard area is a running unit
    problem = flow.refused("submit", "G-14", by="applicant")
    assert "running" in problem["detail"]


# -- HW-05 / CS-02 / TE-02: representative gases ----------------------------------------------------------------

O2 = {"gas": "O2", "value": 20.9, "unit": "%vol"}
NO2 = {"gas": "NO2", "value": 0, "unit": "mg/m3"}
CH4 = {"gas": "CH4", "value": 0.1, "unit": "%vol"}
H2 = {"gas": "H2", "value": 0.05, "unit": "%vol"}
H2S = {"gas": "H2S", "value": 1, "unit": "mg/m3"}


@pytest.mark.parametrize("readings", [[O2], [NO2]])
def test_HW_05_an_oxygen_or_no2_only_hot_work_test_is_incomplete(flow, readings):
    flow.file("hot_work").submit().approve()
    problem = flow.refused("record_gas_test", "HW-05", flow.gas_body(readings), by="analyst")
    assert "no flammable gas measured" in problem["detail"]
    assert flow.reload().permit["gas_tests"] == []


def test_HW_05_the_refusal_names_the_missing_representative_gas_of_the_area_media(flow):
    area = area_of(flow, media=["CH4", "H2", "Cl2"])
    flow.file("hot_work", area_id=area, facts={"media": ["C3H8"]}).submit().approve()
    problem = flow.refused("record_gas_test", "HW-05", flow.gas_body([O2, CH4]), by="analyst")
    assert "hydrogen (H2)" in problem["detail"] and "propane (C3H8)" in problem["detail"]
    assert "chlorine" not in problem["detail"]  # toxic only: hot work tests the flammables
    flow.gas_test([CH4, H2, {"gas": "C3H8", "value": 0.05, "unit": "%vol"}])
    assert flow.permit["gas_tests"][-1]["passed"] is True


def test_CS_02_a_confined_space_test_without_the_space_toxic_medium_is_incomplete(flow):
    area = area_of(flow, media=["CH4", "H2S"])
    flow.file("confined_space", area_id=area).submit().approve()
    problem = flow.refused("record_gas_test", "CS-02", flow.gas_body([O2, CH4]), by="analyst")
    assert "hydrogen sulfide (H2S)" in problem["message_en"] and "硫化氢(H2S)" in problem["message_zh"]
    flow.gas_test([O2, CH4, H2S])


def test_TE_02_temporary_power_in_a_shut_down_fire_explosion_area_needs_a_gas_test(flow):
    area = area_of(flow, running_unit=False)
    flow.file("temporary_power", area_id=area).submit().approve().brief()
    flow.refused("activate", "TE-02", by="work_leader")
    flow.gas_test().activate()


# -- TE-01: tied to its parent ----------------------------------------------------------------------------------


def test_TE_01_temporary_power_cannot_outlast_the_permit_it_serves(flow):
    parent = flow.another().file("hot_work", valid_until=flow.at(timedelta(hours=3)))
    flow.file("temporary_power", linked_permit_ids=[parent.id], facts={"parent_permit_number": parent.number})
    problem = flow.refused("submit", "TE-01", by="applicant")
    assert parent.number in problem["detail"]


# -- WH-01: the area's hazards count ----------------------------------------------------------------------------


def test_WH_01_three_metres_in_a_toxic_area_on_record_is_at_least_level_II(flow):
    area = area_of(flow, toxic=True)
    flow.file("height", area_id=area, facts={"height_m": 3}).submit()
    assert flow.permit["grade"] == "II"


# -- HW-10: the same dike, from the records ---------------------------------------------------------------------


def test_HW_10_sampling_in_the_same_dike_on_record_blocks_hot_work(flow):
    east = area_of(flow, dike_code="D-7")
    west = area_of(flow, dike_code="D-7")
    sampling = flow.another().file("confined_space", area_id=west, facts={"activities": ["sampling"]})
    sampling.submit().approve()
    flow.file("hot_work", area_id=east).submit()
    problem = flow.refused("approve", "HW-10", {"evidence": flow.evidence()}, by=flow.approver())
    assert sampling.number in problem["detail"]
