"""HC-02: more than 3 people only with an expert demonstration and the regulator's consent for a stated number."""

from __future__ import annotations

import sqlalchemy as sa

from permit_service.presence.models import HeadcountRaise
from tests.api.checks import assert_problem
from tests.plant import at_work, give_cards

DEMONSTRATION = {
    "number": 5,
    "expert_report_ref": "RZ-AQ-2026-017 专家论证报告",
    "experts": ["王工", "李工", "赵工"],
    "demonstrated_on": "2026-06-08",
    "reason": "大型换热器抽芯需 5 人协同",
}


def _scene(factory, workers=5):
    world = factory.world()
    people = [factory.person("worker", enterprise=world.enterprise) for _ in range(workers)]
    give_cards(factory, *people)
    crew = {"work_leader": world.people["work_leader"], "guardian": world.people["guardian"]}
    crew.update({f"w{i}": p for i, p in enumerate(people)})
    return world, at_work(factory, world, crew=crew), people


def _request(client, factory, world, permit, **overrides):
    return client.post(
        f"/api/v1/permits/{permit.id}/headcount-raises",
        json={**DEMONSTRATION, **overrides},
        headers=factory.headers(world.people["safety_dept"]),
    )


def _check_in_all(client, factory, world, permit, people):
    guardian = factory.headers(world.people["guardian"])
    return [
        client.post(
            f"/api/v1/permits/{permit.id}/presence/check-ins", json={"person_id": str(p.id)}, headers=guardian
        )
        for p in people
    ]


def test_HC02_consented_raise_lets_the_stated_number_in(client, factory):
    world, permit, people = _scene(factory)
    raised = _request(client, factory, world, permit)
    assert raised.status_code == 201
    body = raised.get_json()
    assert body["status"] == "requested" and body["experts"] == DEMONSTRATION["experts"]
    queue = client.get(
        "/api/v1/headcount-raises?status=requested", headers=factory.headers(world.regulator)
    ).get_json()
    assert [r["id"] for r in queue["items"]] == [body["id"]]
    consent = client.post(
        f"/api/v1/headcount-raises/{body['id']}/consent",
        json={"number": 4},
        headers=factory.headers(world.regulator),
    )
    assert consent.status_code == 200
    assert consent.get_json()["consented_number"] == 4
    answers = _check_in_all(client, factory, world, permit, people)
    assert [a.status_code for a in answers] == [201, 201, 201, 201, 409]
    problem = answers[-1].get_json()
    assert problem["rule"] == "HC-02" and problem["limit"] == 4


def test_HC02_without_consent_the_limit_stays_three(client, factory):
    world, permit, people = _scene(factory, workers=4)
    pending = _request(client, factory, world, permit).get_json()
    answers = _check_in_all(client, factory, world, permit, people)
    assert [a.status_code for a in answers] == [201, 201, 201, 409]
    assert answers[-1].get_json()["rule"] == "HC-01"
    refused = client.post(
        f"/api/v1/headcount-raises/{pending['id']}/refuse",
        json={"reason": "论证不充分"},
        headers=factory.headers(world.city_regulator),
    )
    assert refused.status_code == 200 and refused.get_json()["status"] == "refused"
    again = client.post(
        f"/api/v1/headcount-raises/{pending['id']}/consent", json={}, headers=factory.headers(world.regulator)
    )
    assert assert_problem(again, 409)["rule"] == "HC-02"


def test_HC02_only_the_regulator_of_the_enterprises_region_decides(client, factory):
    world, permit, _people = _scene(factory, workers=0)
    raise_id = _request(client, factory, world, permit).get_json()["id"]
    other = client.post(
        f"/api/v1/headcount-raises/{raise_id}/consent",
        json={},
        headers=factory.headers(world.other_regulator),
    )
    assert_problem(other, 404)
    staff = client.post(
        f"/api/v1/headcount-raises/{raise_id}/consent",
        json={},
        headers=factory.headers(world.people["principal"]),
    )
    assert_problem(staff, 403)
    over = client.post(
        f"/api/v1/headcount-raises/{raise_id}/consent",
        json={"number": 6},
        headers=factory.headers(world.regulator),
    )
    assert_problem(over, 422, fields={"number"})
    ok = client.post(
        f"/api/v1/headcount-raises/{raise_id}/consent", json={}, headers=factory.headers(world.regulator)
    )
    assert ok.get_json()["consented_number"] == 5


def test_HC02_needs_the_demonstration_record(client, factory):
    world, permit, _people = _scene(factory, workers=0)
    missing = client.post(
        f"/api/v1/permits/{permit.id}/headcount-raises",
        json={"number": 5, "demonstrated_on": "2026-06-08"},
        headers=factory.headers(world.people["safety_dept"]),
    )
    assert_problem(missing, 422, fields={"expert_report_ref", "experts"})
    three = _request(client, factory, world, permit, number=3, experts=[])
    assert_problem(three, 422, fields={"number", "experts"})
    future = _request(client, factory, world, permit, demonstrated_on="2026-07-01")
    assert_problem(future, 422, fields={"demonstrated_on"})
    assert factory.session.scalars(sa.select(HeadcountRaise)).all() == []


def test_HC02_nothing_to_raise_where_HC01_does_not_apply(client, factory):
    world = factory.world()
    quiet = factory.area(world.enterprise, running_unit=False, flammable=False)
    permit = at_work(factory, world, area=quiet, permit_type="height")
    assert assert_problem(_request(client, factory, world, permit), 409)["rule"] == "HC-02"


def test_HC02_one_pending_request_at_a_time(client, factory):
    world, permit, _people = _scene(factory, workers=0)
    assert _request(client, factory, world, permit).status_code == 201
    assert assert_problem(_request(client, factory, world, permit), 409)["rule"] == "HC-02"
