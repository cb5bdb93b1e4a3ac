"""G-06 by positioning card: a card id is on-site evidence of an approval when it is the approver's own card
and the plant's positioning last placed it in the permit's area within the evidence window
(POLICY_CARD_EVIDENCE_MINUTES)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from permit_service.directory.models import PlantArea
from tests.api.permit_flows import PermitFlow
from tests.plant import Portal, iso, portal

CARD = "CARD-APPROVER-7"  # the unit leader's, who approves a height permit of grade I
WORKER_CARD = "CARD-WORKER-3"


@pytest.fixture
def flow(client, factory):
    world = factory.world()
    world.people["unit_leader"].positioning_card_id = CARD
    world.people["worker"].positioning_card_id = WORKER_CARD
    factory.session.commit()
    return PermitFlow(client, factory, world)


@pytest.fixture
def gate(flow, factory):
    return portal(factory, flow.world)


def _area_code(flow) -> str:
    return flow.factory.session.get(PlantArea, uuid.UUID(flow.permit["area_id"])).code


def _seen(flow, gate, *sightings: tuple[str, timedelta], card: str = CARD) -> None:
    """Push sightings of `card`: (area code, how long ago)."""
    body = {
        "sightings": [{"card_id": card, "area_code": code, "seen_at": iso(-ago)} for code, ago in sightings]
    }
    resp = flow.client.post(
        "/api/v1/integrations/card-sightings", json=body, headers=gate.push(uuid.uuid4().hex)
    )
    assert resp.status_code == 201, resp.get_json()


def _by_card(flow, card: str = CARD) -> dict:
    return {"evidence": {"card_id": card}}


def test_G_06_the_approvers_own_card_seen_in_the_area_just_now_is_on_site_evidence(flow, gate):
    flow.file("height").submit()
    _seen(flow, gate, (_area_code(flow), timedelta(minutes=2)))
    flow.do("approve", _by_card(flow), by="unit_leader")
    approval = next(s for s in flow.permit["signatures"] if s["kind"] == "approval")
    assert approval["evidence"]["card_id"] == CARD


def test_G_06_a_workers_card_seen_in_the_area_is_no_evidence_that_the_approver_is_there(flow, gate):
    flow.file("height").submit()
    _seen(flow, gate, (_area_code(flow), timedelta(minutes=1)), card=WORKER_CARD)
    problem = flow.refused("approve", "G-06", _by_card(flow, WORKER_CARD), by="unit_leader")
    assert WORKER_CARD in problem["message_en"] and "not the approver's own" in problem["message_en"]
    assert "不是审批人本人的定位卡" in problem["message_zh"]


def test_G_06_an_approver_without_a_card_cannot_cite_one(flow, gate, factory):
    flow.world.people["unit_leader"].positioning_card_id = None
    factory.session.commit()
    flow.file("height").submit()
    _seen(flow, gate, (_area_code(flow), timedelta(minutes=1)))
    flow.refused("approve", "G-06", _by_card(flow), by="unit_leader")


def test_G_06_a_card_never_seen_is_refused(flow, gate):
    flow.file("height").submit()
    problem = flow.refused("approve", "G-06", _by_card(flow), by="unit_leader")
    assert CARD in problem["message_en"]


def test_G_06_a_card_seen_longer_ago_than_the_window_is_refused(flow, gate):
    flow.file("height").submit()
    _seen(flow, gate, (_area_code(flow), timedelta(minutes=10, seconds=1)))
    flow.refused("approve", "G-06", _by_card(flow), by="unit_leader")


def test_G_06_a_card_seen_in_another_area_is_refused(flow, gate, factory):
    flow.file("height").submit()
    elsewhere = factory.area(flow.world.enterprise)
    _seen(flow, gate, (elsewhere.code, timedelta(minutes=1)))
    flow.refused("approve", "G-06", _by_card(flow), by="unit_leader")


def test_G_06_a_card_that_left_the_area_since_is_refused(flow, gate, factory):
    flow.file("height").submit()
    elsewhere = factory.area(flow.world.enterprise)
    _seen(flow, gate, (_area_code(flow), timedelta(minutes=3)), (elsewhere.code, timedelta(minutes=1)))
    flow.refused("approve", "G-06", _by_card(flow), by="unit_leader")


def test_G_06_a_sighting_pushed_late_does_not_move_the_card_back_a_newer_one_does(flow, gate, factory):
    flow.file("height").submit()
    elsewhere = factory.area(flow.world.enterprise)
    _seen(flow, gate, (elsewhere.code, timedelta(minutes=1)))
    _seen(flow, gate, (_area_code(flow), timedelta(minutes=3)))  # pushed after, seen before
    flow.refused("approve", "G-06", _by_card(flow), by="unit_leader")
    _seen(flow, gate, (_area_code(flow), timedelta(seconds=30)))
    flow.do("approve", _by_card(flow), by="unit_leader")


def test_G_06_the_window_is_configurable(app, flow, gate):
    app.config["PERMIT_CONFIG"].policy["card_evidence_minutes"] = 30
    flow.file("height").submit()
    _seen(flow, gate, (_area_code(flow), timedelta(minutes=20)))
    flow.do("approve", _by_card(flow), by="unit_leader")


def test_G_06_a_card_seen_by_another_enterprise_is_refused(flow, factory, client):
    flow.file("height").submit()
    other = flow.world.other_enterprise
    other_area = factory.area(other, code=_area_code(flow))  # the same area code, in another plant
    other_gate = Portal(account := factory.integration_client(other), factory.headers(account))
    body = {
        "sightings": [{"card_id": CARD, "area_code": other_area.code, "seen_at": iso(-timedelta(minutes=1))}]
    }
    resp = client.post("/api/v1/integrations/card-sightings", json=body, headers=other_gate.push("x"))
    assert resp.status_code == 201, resp.get_json()
    flow.refused("approve", "G-06", _by_card(flow), by="unit_leader")
