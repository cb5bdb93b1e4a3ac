"""G-06 / HR-02: an approval carries evidence the service checked itself, strongest first: the approver's own card
seen in the permit's area by positioning, a position fix inside the area's boundary with a stated accuracy, or a
declared presence in an area the regulator exempted. An area id alone, or coordinates the service cannot test, are
refused with G-06 naming what is missing; the kind is stored, printed and counted for the regulator."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.directory.models import PlantArea
from tests.api.checks import assert_problem, peek
from tests.api.permit_flows import PermitFlow
from tests.plant import iso, portal

CARD = "CARD-UL-1"  # the unit leader's, who approves a height permit of grade I
INSIDE = {"lon": 119.52, "lat": 35.38, "accuracy_m": 3}  # inside the factory areas' boundary
OUTSIDE = {"lon": 119.60, "lat": 35.38, "accuracy_m": 3}


@pytest.fixture
def flow(client, factory):
    world = factory.world()
    world.people["unit_leader"].positioning_card_id = CARD
    factory.session.commit()
    return PermitFlow(client, factory, world).file("height").submit()


def _approval(flow) -> dict:
    return next(s for s in flow.permit["signatures"] if s["kind"] == "approval")


def _seen(flow, ago: timedelta, area_code: str | None = None) -> None:
    gate = portal(flow.factory, flow.world)
    code = area_code or flow.world.area.code
    body = {"sightings": [{"card_id": CARD, "area_code": code, "seen_at": iso(-ago)}]}
    resp = flow.client.post(
        "/api/v1/integrations/card-sightings", json=body, headers=gate.push(uuid.uuid4().hex)
    )
    assert resp.status_code == 201, resp.get_json()


def _exempt(flow, reason: str = "罐区无定位基站覆盖") -> None:
    resp = flow.client.put(
        f"/api/v1/areas/{flow.world.area.id}/positioning-exemption",
        json={"reason": reason},
        headers=flow.factory.headers(flow.world.regulator),
    )
    assert resp.status_code == 200, resp.get_json()


def test_G_06_an_area_id_alone_is_refused_naming_what_is_missing(flow):
    problem = flow.refused(
        "approve", "G-06", {"evidence": {"area_id": flow.permit["area_id"]}}, by="unit_leader"
    )
    assert CARD in problem["message_en"] and "no position fix" in problem["message_en"]
    assert "no positioning exemption" in problem["message_en"]
    assert "定位卡" in problem["message_zh"]
    assert flow.reload().state == "submitted"


def test_G_06_the_approvers_own_card_seen_five_minutes_ago_records_card_sighting(flow):
    _seen(flow, timedelta(minutes=5))
    flow.approve(evidence={"area_id": flow.permit["area_id"]})
    evidence = _approval(flow)["evidence"]
    assert evidence["on_site"] == "card_sighting" and evidence["card_id"] == CARD
    assert _approval(flow)["on_site"] == "card_sighting"


def test_G_06_the_card_is_checked_even_when_not_cited_but_only_in_the_window_and_the_area(flow, factory):
    elsewhere = factory.area(flow.world.enterprise)
    _seen(flow, timedelta(minutes=1), elsewhere.code)
    flow.refused("approve", "G-06", {"evidence": {}}, by="unit_leader")
    _seen(flow, timedelta(minutes=11))
    flow.refused("approve", "G-06", {"evidence": {}}, by="unit_leader")


def test_G_06_a_fix_inside_the_boundary_records_position_fix(flow):
    flow.approve(evidence={"position": INSIDE})
    assert _approval(flow)["on_site"] == "position_fix"
    assert _approval(flow)["evidence"]["accuracy_m"] == 3


@pytest.mark.parametrize(
    ("position", "says"),
    [
        (OUTSIDE, "outside the area's boundary"),
        ({**INSIDE, "accuracy_m": 25}, "worse than the limit of 10 m"),
        ({"lon": 119.52, "lat": 35.38}, "must state its accuracy"),
        ({"floor": 2, "accuracy_m": 1}, "incomplete"),
    ],
)
def test_G_06_a_fix_the_service_cannot_accept_is_refused_with_the_reason(flow, position, says):
    problem = flow.refused("approve", "G-06", {"evidence": {"position": position}}, by="unit_leader")
    assert says in problem["message_en"]


def test_G_06_coordinates_without_a_boundary_to_test_them_are_no_evidence(flow):
    flow.factory.session.get(PlantArea, flow.world.area.id).boundary = None
    flow.factory.session.commit()
    problem = flow.refused("approve", "G-06", {"evidence": {"position": INSIDE}}, by="unit_leader")
    assert "no boundary to test the position against" in problem["message_en"]


def test_G_06_the_accuracy_limit_is_policy(app, flow):
    app.config["PERMIT_CONFIG"].policy["position_accuracy_max_m"] = 30
    flow.approve(evidence={"position": {**INSIDE, "accuracy_m": 25}})


def test_G_06_a_declared_presence_passes_only_in_an_area_the_regulator_exempted(flow):
    problem = flow.refused("approve", "G-06", {"evidence": {"declared": True}}, by="unit_leader")
    assert "no positioning exemption" in problem["message_en"]
    _exempt(flow)
    flow.approve(evidence={"declared": True})
    assert _approval(flow)["on_site"] == "declared"
    form = flow.client.get(f"{flow.url}/form", headers=flow.headers("applicant")).get_data(as_text=True)
    assert "自报在场（未经定位核实）" in form and "declared (not seen by positioning)" in form
    overview = flow.client.get(
        "/api/v1/regulator/overview", headers=flow.factory.headers(flow.world.regulator)
    ).get_json()["on_site_evidence"]
    assert overview["totals"] == {"card_sighting": 0, "position_fix": 0, "declared": 1}
    (mine,) = overview["by_enterprise"]
    assert mine["enterprise_id"] == str(flow.world.enterprise.id) and mine["declared"] == 1


def test_G_06_positioning_outranks_a_declaration_in_an_exempt_area(flow):
    _exempt(flow)
    _seen(flow, timedelta(minutes=2))
    flow.approve(evidence={"declared": True})
    assert _approval(flow)["on_site"] == "card_sighting"


def test_G_06_the_regulator_records_and_revokes_an_exemption_and_both_are_audited(app, flow):
    _exempt(flow, "无基站")
    area = flow.client.get(
        f"/api/v1/areas/{flow.world.area.id}", headers=flow.headers("applicant")
    ).get_json()
    assert area["positioning_exemption"]["reason"] == "无基站"
    assert area["positioning_exemption"]["recorded_by_id"] == str(flow.world.regulator.id)
    again = flow.client.put(
        f"/api/v1/areas/{flow.world.area.id}/positioning-exemption",
        json={"reason": "x"},
        headers=flow.factory.headers(flow.world.regulator),
    )
    assert_problem(again, 409)
    resp = flow.client.delete(
        f"/api/v1/areas/{flow.world.area.id}/positioning-exemption",
        json={"reason": "基站已建成"},
        headers=flow.factory.headers(flow.world.regulator),
    )
    assert resp.status_code == 200 and resp.get_json()["positioning_exemption"] is None
    flow.refused("approve", "G-06", {"evidence": {"declared": True}}, by="unit_leader")
    with peek(app) as session:
        kinds = list(
            session.scalars(
                sa.select(Event.kind).where(Event.subject_id == str(flow.world.area.id)).order_by(Event.id)
            )
        )
    assert kinds == ["area.positioning_exempted", "area.positioning_exemption_revoked"]


@pytest.mark.parametrize("who", ["enterprise_admin", "unit_leader"])
def test_G_06_only_a_regulator_of_the_region_exempts_an_area(flow, who):
    path = f"/api/v1/areas/{flow.world.area.id}/positioning-exemption"
    assert_problem(flow.client.put(path, json={"reason": "x"}, headers=flow.headers(who)), 403)
    other = flow.factory.headers(flow.world.other_regulator)
    assert_problem(flow.client.put(path, json={"reason": "x"}, headers=other), 404)
