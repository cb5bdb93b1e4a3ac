"""HR-02 through HTTP: the principal leader's on-site confirmation of a Plan-27 job gates its permits' work (before
the first activation, and again after a freeze stopped it), and who the principal is sits on the enterprise's
record with its regulator, not in a role any administrator hands out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.integrations.models import WebhookDelivery, WebhookSubscription
from tests.api.checks import assert_problem, peek
from tests.api.test_jobs import act, file_job, on_site
from tests.api.test_jobs_flow import approval, attach, file_permit, gas_test, permit_act


def _approved_under_consent(client: Any, factory: Any, world: Any) -> tuple[dict, dict]:
    """A tank-cleaning job consented by the regulator, its confined-space entry approved by the unit leader and
    the principal on site (approval evidence, not the job's confirmation), briefed."""
    people = world.people
    job = file_job(client, factory, world)
    permit = file_permit(client, factory, world)
    attach(client, factory, world, job, permit)
    assert act(client, factory, people["applicant"], job, "report").status_code == 200
    assert act(client, factory, world.regulator, job, "consent", {"reason": "同意"}).status_code == 200
    for role in ("unit_leader", "principal"):
        resp = permit_act(client, factory, people[role], permit, "approve", approval(world))
        assert resp.status_code == 200, resp.get_json()
    for role in ("work_leader", "worker"):
        resp = permit_act(client, factory, people[role], permit, "brief", {"comment": "进罐安全交底"})
        assert resp.status_code == 200, resp.get_json()
    return job, resp.get_json()


def _activate(client: Any, factory: Any, world: Any, permit: dict, clock: Any) -> Any:
    assert (
        permit_act(client, factory, world.people["analyst"], permit, "gas-tests", gas_test(clock)).status_code
        == 200
    )
    return permit_act(client, factory, world.people["work_leader"], permit, "activate")


def test_HR_02_a_plan_27_permit_cannot_go_to_work_before_the_principal_confirms_the_job_on_site(
    client, factory, clock
):
    world = factory.world()
    job, permit = _approved_under_consent(client, factory, world)
    clock.advance(timedelta(hours=1, minutes=5))
    refused = _activate(client, factory, world, permit, clock)
    body = assert_problem(refused, 409)
    assert body["rule"] == "HR-02" and "has not confirmed the high-risk job on site" in body["message_en"]
    bare = act(
        client,
        factory,
        world.people["principal"],
        job,
        "confirm-on-site",
        {"evidence": {"area_id": str(world.area.id)}},
    )
    assert bare.status_code == 409 and bare.get_json()["rule"] == "G-06"
    confirmed = act(client, factory, world.people["principal"], job, "confirm-on-site", on_site(world))
    assert confirmed.status_code == 200, confirmed.get_json()
    resp = permit_act(client, factory, world.people["work_leader"], permit, "activate")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "active"


def test_HR_02_the_principal_confirms_again_on_site_and_the_later_confirmation_counts(client, factory, clock):
    world = factory.world()
    people = world.people
    job, _ = _approved_under_consent(client, factory, world)
    first = act(client, factory, people["principal"], job, "confirm-on-site", on_site(world)).get_json()
    clock.advance(timedelta(hours=1, minutes=5))
    assert act(client, factory, people["work_leader"], job, "start").get_json()["state"] == "in_progress"
    clock.advance(timedelta(minutes=30))
    again = act(client, factory, people["principal"], job, "confirm-on-site", on_site(world))
    assert again.status_code == 200, again.get_json()
    body = again.get_json()
    assert body["state"] == "in_progress" and body["confirmed_at"] > first["confirmed_at"]
    unseen = act(client, factory, people["principal"], job, "confirm-on-site", {"evidence": {}})
    assert unseen.status_code == 409 and unseen.get_json()["rule"] == "G-06"


# --- the principal on the enterprise's record ---------------------------------------------------------


def _set_principal(client: Any, factory: Any, who: Any, world: Any, person: Any) -> Any:
    return client.put(
        f"/api/v1/enterprises/{world.enterprise.id}/principal",
        json={"person_id": str(person.id), "reason": "董事会决议任命总经理"},
        headers=factory.headers(who),
    )


def test_HR_02_an_enterprise_admin_changing_the_principal_notifies_the_regulator_at_once(
    app, client, factory, db_session
):
    world = factory.world()
    admin = world.people["enterprise_admin"]
    subscription = WebhookSubscription(
        enterprise_id=world.enterprise.id,
        url="https://portal.example.cn/hooks",
        secret="s" * 32,
        event_kinds=["enterprise.*"],
        created_by=str(admin.id),
    )
    db_session.add(subscription)
    db_session.commit()
    newcomer = world.people["plant_manager"]
    resp = _set_principal(client, factory, admin, world, newcomer)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["principal"]["person_id"] == str(newcomer.id)
    notes = client.get("/api/v1/regulator/notifications", headers=factory.headers(world.regulator)).get_json()
    (note,) = [n for n in notes["items"] if n["rule"] == "HR-02"]
    assert note["reasons"] == ["principal_changed"] and note["permit"] is None
    assert note["data"]["to"]["person_id"] == str(newcomer.id)
    overview = client.get("/api/v1/regulator/overview", headers=factory.headers(world.regulator)).get_json()
    (mine,) = [p for p in overview["principals"] if p["enterprise_id"] == str(world.enterprise.id)]
    assert mine["person_id"] == str(newcomer.id) and mine["name"] == newcomer.name
    with peek(app) as session:
        kinds = session.scalars(sa.select(WebhookDelivery.event_kind)).all()
        event = session.scalar(sa.select(Event).where(Event.kind == "enterprise.principal_changed"))
        assert "enterprise.principal_changed" in kinds
        assert event.data["regulator_notified"] is True and event.data["set_by"] == "enterprise"


def test_HR_02_the_role_follows_the_record_and_the_old_principal_loses_it(client, factory):
    world = factory.world()
    first, second = world.people["principal"], world.people["plant_manager"]
    assert _set_principal(client, factory, world.regulator, world, first).status_code == 200
    assert _set_principal(client, factory, world.regulator, world, second).status_code == 200
    admin = factory.headers(world.people["enterprise_admin"])
    roles = {
        p: client.get(f"/api/v1/people/{p.id}", headers=admin).get_json()["roles"] for p in (first, second)
    }
    assert "principal" not in roles[first] and "principal" in roles[second]
    job = file_job(client, factory, world)
    resp = act(client, factory, first, job, "confirm-on-site", on_site(world))
    assert resp.status_code == 403  # the former principal's token no longer carries the role


def test_HR_02_a_regulator_sets_the_principal_without_a_notification_to_itself(client, factory):
    world = factory.world()
    resp = _set_principal(client, factory, world.regulator, world, world.people["plant_manager"])
    assert resp.status_code == 200, resp.get_json()
    notes = client.get("/api/v1/regulator/notifications", headers=factory.headers(world.regulator)).get_json()
    assert not [n for n in notes["items"] if n["rule"] == "HR-02"]
    other = _set_principal(client, factory, world.other_regulator, world, world.people["principal"])
    assert_problem(other, 404)


@pytest.mark.parametrize("role", ["unit_leader", "principal", "applicant"])
def test_HR_02_only_the_enterprise_admin_or_a_regulator_records_the_principal(client, factory, role):
    world = factory.world()
    assert_problem(
        _set_principal(client, factory, world.people[role], world, world.people["plant_manager"]), 403
    )


def test_HR_02_an_administrator_cannot_hand_out_or_take_away_the_principal_role(client, factory):
    world = factory.world()
    admin = factory.headers(world.people["enterprise_admin"])
    created = client.post(
        f"/api/v1/enterprises/{world.enterprise.id}/people",
        json={"username": "zhao.dong", "name": "赵董", "password": "Ch4nge-me-soon", "roles": ["principal"]},
        headers=admin,
    )
    assert assert_problem(created, 409, fields={"roles"})["rule"] == "HR-02"
    person = world.people["plant_manager"]
    given = client.patch(
        f"/api/v1/people/{person.id}",
        json={"roles": ["plant_manager", "principal"]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert assert_problem(given, 409, fields={"roles"})["rule"] == "HR-02"
    principal = world.people["principal"]
    taken = client.patch(
        f"/api/v1/people/{principal.id}",
        json={"roles": ["unit_leader"]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert assert_problem(taken, 409, fields={"roles"})["rule"] == "HR-02"
