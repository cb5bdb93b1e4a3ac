"""Presence through HTTP: check-in and check-out, the headcount limit and who counts (HC-01..05, CS-05)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.presence.models import PresenceEntry
from tests.api.checks import assert_problem
from tests.plant import at_work, card_of, give_cards, portal

PEOPLE_ROLES = ("work_leader", "worker", "guardian", "analyst", "shift_leader", "unit_leader", "safety_dept")


def _url(permit, action=""):
    return f"/api/v1/permits/{permit.id}/presence{action}"


def _staff(factory, world, n):
    """n extra enterprise people with cards (visitors to the permit)."""
    people = [factory.person("worker", enterprise=world.enterprise) for _ in range(n)]
    give_cards(factory, *people)
    return people


def _crew_of(factory, world, workers):
    crew = {"work_leader": world.people["work_leader"], "guardian": world.people["guardian"]}
    crew.update({f"worker{i}": w for i, w in enumerate(workers)})
    return crew


def _entries(db_session):
    db_session.expire_all()
    return db_session.scalars(sa.select(PresenceEntry)).all()


# --- HC-01: the limit ----------------------------------------------------------------------------


def test_HC01_fourth_person_is_refused_on_a_running_flammable_unit(client, factory):
    world = factory.world()
    workers = _staff(factory, world, 4)
    permit = at_work(factory, world, crew={**_crew_of(factory, world, workers)})
    guardian = factory.headers(world.people["guardian"])
    for w in workers[:3]:
        resp = client.post(_url(permit, "/check-ins"), json={"person_id": str(w.id)}, headers=guardian)
        assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["area_people_inside"] == 3 and body["limit"] == 3 and body["limit_rule"] == "HC-01"
    refused = client.post(
        _url(permit, "/check-ins"), json={"person_id": str(workers[3].id)}, headers=guardian
    )
    problem = assert_problem(refused, 409)
    assert problem["rule"] == "HC-01"
    assert problem["limit"] == 3 and problem["people_inside"] == 3
    assert len(_entries(factory.session)) == 3


def test_HC01_no_limit_of_three_off_a_running_hazardous_unit(client, factory):
    world = factory.world()
    quiet = factory.area(world.enterprise, running_unit=False, flammable=False, fire_explosion_area=False)
    workers = _staff(factory, world, 5)
    permit = at_work(factory, world, area=quiet, permit_type="height", crew=_crew_of(factory, world, workers))
    guardian = factory.headers(world.people["guardian"])
    for w in workers:
        assert (
            client.post(
                _url(permit, "/check-ins"), json={"person_id": str(w.id)}, headers=guardian
            ).status_code
            == 201
        )
    register = client.get(_url(permit), headers=guardian).get_json()
    assert register["people_inside"] == 5 and register["limit"] is None


def test_HC01_area_max_headcount_applies_elsewhere(client, factory):
    world = factory.world()
    yard = factory.area(world.enterprise, running_unit=False, flammable=False, max_headcount=2)
    workers = _staff(factory, world, 3)
    permit = at_work(factory, world, area=yard, permit_type="height", crew=_crew_of(factory, world, workers))
    guardian = factory.headers(world.people["guardian"])
    for w in workers[:2]:
        assert (
            client.post(
                _url(permit, "/check-ins"), json={"person_id": str(w.id)}, headers=guardian
            ).status_code
            == 201
        )
    refused = client.post(
        _url(permit, "/check-ins"), json={"person_id": str(workers[2].id)}, headers=guardian
    )
    assert assert_problem(refused, 409)["rule"] == "HC-01"


def test_HC01_the_area_counts_people_of_every_permit_in_it(client, factory):
    world = factory.world()
    workers = _staff(factory, world, 4)
    first = at_work(factory, world, crew=_crew_of(factory, world, workers[:2]))
    second = at_work(factory, world, permit_type="confined_space", crew=_crew_of(factory, world, workers[2:]))
    guardian = factory.headers(world.people["guardian"])
    for w in workers[:2]:
        assert (
            client.post(
                _url(first, "/check-ins"), json={"person_id": str(w.id)}, headers=guardian
            ).status_code
            == 201
        )
    assert (
        client.post(
            _url(second, "/check-ins"), json={"person_id": str(workers[2].id)}, headers=guardian
        ).status_code
        == 201
    )
    refused = client.post(
        _url(second, "/check-ins"), json={"person_id": str(workers[3].id)}, headers=guardian
    )
    assert assert_problem(refused, 409)["rule"] == "HC-01"


# --- HC-03: cards and named people ---------------------------------------------------------------


def test_HC03_check_in_by_positioning_card(client, factory):
    world = factory.world()
    permit = at_work(factory, world)
    worker = world.people["worker"]
    resp = client.post(
        _url(permit, "/check-ins"),
        json={"card_id": card_of(worker)},
        headers=factory.headers(world.people["guardian"]),
    )
    assert resp.status_code == 201
    entry = resp.get_json()["entry"]
    assert (
        entry["person_id"] == str(worker.id)
        and entry["kind"] == "crew"
        and entry["card_id"] == card_of(worker)
    )


def test_HC03_a_person_without_a_positioning_card_is_refused(client, factory):
    world = factory.world()
    permit = at_work(factory, world)
    uncarded = factory.person("worker", enterprise=world.enterprise)
    resp = client.post(
        _url(permit, "/check-ins"),
        json={"person_id": str(uncarded.id)},
        headers=factory.headers(world.people["guardian"]),
    )
    assert assert_problem(resp, 409)["rule"] == "HC-03"
    assert _entries(factory.session) == []


def test_HC03_nobody_is_registered_inside_twice(client, factory):
    world = factory.world()
    permit = at_work(factory, world)
    guardian = factory.headers(world.people["guardian"])
    body = {"person_id": str(world.people["worker"].id)}
    assert client.post(_url(permit, "/check-ins"), json=body, headers=guardian).status_code == 201
    assert (
        assert_problem(client.post(_url(permit, "/check-ins"), json=body, headers=guardian), 409)["rule"]
        == "HC-03"
    )


def test_HC03_an_unknown_card_needs_visitor_details(client, factory):
    world = factory.world()
    permit = at_work(factory, world)
    resp = client.post(
        _url(permit, "/check-ins"),
        json={"card_id": "V-0001"},
        headers=factory.headers(world.people["guardian"]),
    )
    assert_problem(resp, 422, fields={"card_id"})


# --- HC-05: visitors and inspectors count --------------------------------------------------------


def test_HC05_visitors_and_inspectors_count_against_the_limit(client, factory):
    world = factory.world()
    permit = at_work(factory, world)
    give_cards(factory, world.regulator)
    guardian = factory.headers(world.people["guardian"])
    worker = client.post(
        _url(permit, "/check-ins"), json={"person_id": str(world.people["worker"].id)}, headers=guardian
    )
    inspector = client.post(
        _url(permit, "/check-ins"), json={"person_id": str(world.regulator.id)}, headers=guardian
    )
    visitor = client.post(
        _url(permit, "/check-ins"),
        json={"card_id": "V-0001", "visitor": {"name": "李访客", "organisation": "设备厂家"}},
        headers=guardian,
    )
    assert [r.status_code for r in (worker, inspector, visitor)] == [201, 201, 201]
    assert inspector.get_json()["entry"]["kind"] == "inspector"
    assert visitor.get_json()["entry"]["kind"] == "visitor"
    assert visitor.get_json()["area_people_inside"] == 3
    second_visitor = client.post(
        _url(permit, "/check-ins"),
        json={"card_id": "V-0002", "visitor": {"name": "王访客"}},
        headers=guardian,
    )
    assert assert_problem(second_visitor, 409)["rule"] == "HC-05"


# --- check-out, the register and the events ------------------------------------------------------


def test_check_out_frees_the_place_and_both_moves_are_events(client, factory):
    world = factory.world()
    workers = _staff(factory, world, 4)
    permit = at_work(factory, world, crew=_crew_of(factory, world, workers))
    guardian = factory.headers(world.people["guardian"])
    for w in workers[:3]:
        client.post(_url(permit, "/check-ins"), json={"person_id": str(w.id)}, headers=guardian)
    out = client.post(_url(permit, "/check-outs"), json={"card_id": card_of(workers[0])}, headers=guardian)
    assert out.status_code == 200
    assert out.get_json()["entry"]["checked_out_at"] is not None and out.get_json()["people_inside"] == 2
    assert (
        client.post(
            _url(permit, "/check-ins"), json={"person_id": str(workers[3].id)}, headers=guardian
        ).status_code
        == 201
    )
    register = client.get(_url(permit) + "?include_left=true", headers=guardian).get_json()
    assert len(register["entries"]) == 4 and register["people_inside"] == 3
    kinds = factory.session.scalars(
        sa.select(Event.kind).where(Event.subject_id == str(permit.id)).order_by(Event.id)
    ).all()
    assert kinds == ["presence.checked_in"] * 3 + ["presence.checked_out", "presence.checked_in"]


def test_check_out_of_someone_not_inside_is_404(client, factory):
    world = factory.world()
    permit = at_work(factory, world)
    resp = client.post(
        _url(permit, "/check-outs"),
        json={"person_id": str(world.people["worker"].id)},
        headers=factory.headers(world.people["guardian"]),
    )
    assert_problem(resp, 404)


def test_nobody_enters_a_suspended_or_unstarted_permit(client, factory):
    world = factory.world()
    guardian = factory.headers(world.people["guardian"])
    body = {"person_id": str(world.people["worker"].id)}
    suspended = at_work(factory, world, state="suspended")
    briefed = at_work(factory, world, state="briefed")
    assert (
        assert_problem(client.post(_url(suspended, "/check-ins"), json=body, headers=guardian), 409)["rule"]
        == "G-08"
    )
    assert (
        assert_problem(client.post(_url(briefed, "/check-ins"), json=body, headers=guardian), 409)["rule"]
        == "SD-01"
    )


def test_another_enterprise_gets_404_and_workers_cannot_register(client, factory):
    world = factory.world()
    permit = at_work(factory, world)
    body = {"person_id": str(world.people["worker"].id)}
    other = client.post(
        _url(permit, "/check-ins"), json=body, headers=factory.headers(world.other_people["guardian"])
    )
    assert_problem(other, 404)
    worker = client.post(
        _url(permit, "/check-ins"), json=body, headers=factory.headers(world.people["worker"])
    )
    assert_problem(worker, 403)
    assert (
        client.get(_url(permit), headers=factory.headers(world.other_people["guardian"])).status_code == 404
    )
    assert client.get(_url(permit), headers=factory.headers(world.regulator)).status_code == 200
    assert _entries(factory.session) == []


def test_the_plant_gate_may_register_people(client, factory):
    world = factory.world()
    permit = at_work(factory, world, permit_type="confined_space")
    gate = portal(factory, world)
    resp = client.post(
        _url(permit, "/check-ins"), json={"card_id": card_of(world.people["worker"])}, headers=gate.headers
    )
    assert resp.status_code == 201


def test_check_in_with_an_idempotency_key_is_applied_once(client, factory):
    world = factory.world()
    permit = at_work(factory, world)
    headers = factory.headers(world.people["guardian"], **{"Idempotency-Key": "gate-42"})
    body = {"person_id": str(world.people["worker"].id)}
    first = client.post(_url(permit, "/check-ins"), json=body, headers=headers)
    again = client.post(_url(permit, "/check-ins"), json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(_entries(factory.session)) == 1


# --- CS-05: the confined-space register ----------------------------------------------------------


def test_CS05_only_the_guardian_keeps_the_confined_space_register(client, factory):
    world = factory.world()
    permit = at_work(factory, world, permit_type="confined_space")
    body = {"person_id": str(world.people["worker"].id)}
    leader = client.post(
        _url(permit, "/check-ins"), json=body, headers=factory.headers(world.people["work_leader"])
    )
    assert assert_problem(leader, 409)["rule"] == "CS-05"
    guardian = client.post(
        _url(permit, "/check-ins"), json=body, headers=factory.headers(world.people["guardian"])
    )
    assert guardian.status_code == 201


def test_CS05_the_guardian_stays_outside(client, factory):
    world = factory.world()
    permit = at_work(factory, world, permit_type="confined_space")
    guardian = world.people["guardian"]
    resp = client.post(
        _url(permit, "/check-ins"), json={"person_id": str(guardian.id)}, headers=factory.headers(guardian)
    )
    assert assert_problem(resp, 409)["rule"] == "CS-05"


def test_CS05_tools_are_registered_in_and_out(client, factory):
    world = factory.world()
    permit = at_work(factory, world, permit_type="confined_space")
    guardian = factory.headers(world.people["guardian"])
    tool = client.post(
        _url(permit, "/check-ins"), json={"tool": {"name": "防爆手电", "quantity": 2}}, headers=guardian
    ).get_json()
    assert tool["entry"]["kind"] == "tool" and tool["people_inside"] == 0
    register = client.get(_url(permit), headers=guardian).get_json()
    assert register["tools_inside"] == 2 and register["people_inside"] == 0
    out = client.post(_url(permit, "/check-outs"), json={"entry_id": tool["entry"]["id"]}, headers=guardian)
    assert out.status_code == 200
    assert client.get(_url(permit), headers=guardian).get_json()["tools_inside"] == 0


def test_CS05_completion_waits_until_everyone_is_out(client, factory):
    world = factory.world()
    permit = at_work(factory, world, permit_type="confined_space")
    guardian = factory.headers(world.people["guardian"])
    leader = factory.headers(world.people["work_leader"])
    client.post(
        _url(permit, "/check-ins"), json={"person_id": str(world.people["worker"].id)}, headers=guardian
    )
    blocked = client.post(f"/api/v1/permits/{permit.id}/complete", json={}, headers=leader)
    assert assert_problem(blocked, 409)["rule"] == "CS-05"
    client.post(
        _url(permit, "/check-outs"), json={"person_id": str(world.people["worker"].id)}, headers=guardian
    )
    done = client.post(f"/api/v1/permits/{permit.id}/complete", json={}, headers=leader)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["state"] == "completed"


def test_CS05_completion_waits_until_every_tool_is_out(client, factory):
    world = factory.world()
    permit = at_work(factory, world, permit_type="confined_space")
    guardian = factory.headers(world.people["guardian"])
    leader = factory.headers(world.people["work_leader"])
    tool = client.post(
        _url(permit, "/check-ins"), json={"tool": {"name": "防爆扳手", "quantity": 1}}, headers=guardian
    ).get_json()
    blocked = client.post(f"/api/v1/permits/{permit.id}/complete", json={}, headers=leader)
    problem = assert_problem(blocked, 409)
    assert problem["rule"] == "CS-05" and "1 tools" in problem["message_en"]
    out = client.post(_url(permit, "/check-outs"), json={"entry_id": tool["entry"]["id"]}, headers=guardian)
    assert out.status_code == 200
    done = client.post(f"/api/v1/permits/{permit.id}/complete", json={}, headers=leader)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["state"] == "completed"


# --- malformed bodies ----------------------------------------------------------------------------


def test_malformed_check_ins_are_422_and_store_nothing(client, factory):
    world = factory.world()
    permit = at_work(factory, world)
    guardian = factory.headers(world.people["guardian"])
    for body, fields in (
        ({}, {"_schema"}),
        ({"person_id": "not-a-uuid"}, {"person_id"}),
        ({"person_id": str(world.people["worker"].id), "card_id": "X"}, {"_schema"}),
        ({"visitor": {"name": "无卡访客"}, "tool": {"name": "扳手"}}, {"visitor"}),
        ({"tool": {"name": "", "quantity": 0}}, {"tool.name", "tool.quantity"}),
        ({"person_id": str(world.people["worker"].id), "extra": 1}, {"extra"}),
    ):
        assert_problem(
            client.post(_url(permit, "/check-ins"), json=body, headers=guardian), 422, fields=fields
        )
    resp = client.post(
        _url(permit, "/check-ins"), data="{not json", headers={**guardian, "Content-Type": "application/json"}
    )
    assert_problem(resp, 400)
    assert _entries(factory.session) == []


def test_people_inside_reaches_the_workflow(app, factory, client):
    from permit_service.permits.context import provided_fields
    from permit_service.permits.service import permit_data

    world = factory.world()
    permit = at_work(factory, world, activated_ago=timedelta(minutes=5))
    client.post(
        _url(permit, "/check-ins"),
        json={"person_id": str(world.people["worker"].id)},
        headers=factory.headers(world.people["guardian"]),
    )
    client.post(
        _url(permit, "/check-ins"),
        json={"tool": {"name": "气体检测仪", "quantity": 2}},
        headers=factory.headers(world.people["guardian"]),
    )
    data = permit_data(permit, provided_fields(factory.session, permit))  # the core reads them on first use
    assert (data.people_inside, data.tools_inside) == (1, 2)
