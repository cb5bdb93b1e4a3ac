"""An enterprise_admin registers and edits plant areas and people of their enterprise; every change is audited."""

from __future__ import annotations

import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.audit.service import verify
from permit_service.directory.models import Person, PlantArea
from tests.api.checks import assert_problem, peek
from tests.factories import ENTERPRISE_ROLES

AREA = {
    "code": "T-101",
    "name": "罐区 T-101",
    "running_unit": True,
    "flammable": True,
    "toxic": True,
    "max_headcount": 3,
}
PERSON = {
    "username": "wang.hanjie",
    "name": "王焊杰",
    "password": "Ch4nge-me-soon",
    "roles": ["worker"],
    "positioning_card_id": "CARD-0042",
    "phone": "+86 633 1234567",
    "certificates": [
        {
            "kind": "welder",
            "number": "T370000001",
            "expires_on": "2028-03-31",
            "issued_by": "日照市应急管理局",
        }
    ],
}


def events(app, kind: str) -> list[Event]:
    with peek(app) as session:
        return list(session.scalars(sa.select(Event).where(Event.kind == kind).order_by(Event.id)))


# --- plant areas -----------------------------------------------------------------------------------


def test_admin_registers_an_area_and_reads_it_with_its_etag(app, client, factory):
    world = factory.world()
    admin = world.people["enterprise_admin"]
    resp = client.post(
        f"/api/v1/enterprises/{world.enterprise.id}/areas", json=AREA, headers=factory.headers(admin)
    )
    assert resp.status_code == 201
    area = resp.get_json()
    assert {k: area[k] for k in AREA} == AREA
    assert area["explosive"] is False and area["fire_explosion_area"] is False
    assert area["enterprise_id"] == str(world.enterprise.id) and area["version"] == 1
    assert resp.headers["ETag"] == '"1"' and resp.headers["Location"] == f"/api/v1/areas/{area['id']}"
    read = client.get(f"/api/v1/areas/{area['id']}", headers=factory.headers(world.regulator))
    assert read.status_code == 200 and read.headers["ETag"] == '"1"'
    (event,) = events(app, "area.created")
    assert event.actor_id == str(admin.id) and event.subject_id == area["id"]
    assert event.enterprise_id == world.enterprise.id and event.data["code"] == "T-101"


def test_admin_changes_an_area_with_if_match_and_the_change_is_audited(app, client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    path = f"/api/v1/areas/{world.area.id}"
    resp = client.patch(
        path, json={"max_headcount": 2, "toxic": True}, headers={**headers, "If-Match": '"1"'}
    )
    assert resp.status_code == 200
    assert resp.get_json()["max_headcount"] == 2 and resp.headers["ETag"] == '"2"'
    (event,) = events(app, "area.updated")
    assert event.data == {
        "changes": {"max_headcount": {"from": None, "to": 2}, "toxic": {"from": False, "to": True}}
    }
    with peek(app) as session:
        assert all(report.ok for report in verify(session))


def test_area_code_is_unique_within_the_enterprise_only(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    taken = {**AREA, "code": world.area.code}
    body = assert_problem(
        client.post(f"/api/v1/enterprises/{world.enterprise.id}/areas", json=taken, headers=headers), 409
    )
    assert set(body["errors"]) == {"code"}
    other_admin = factory.headers(world.other_people["enterprise_admin"])
    same_code_elsewhere = {**AREA, "code": world.area.code}
    resp = client.post(
        f"/api/v1/enterprises/{world.other_enterprise.id}/areas",
        json=same_code_elsewhere,
        headers=other_admin,
    )
    assert resp.status_code == 201
    resp = client.patch(
        f"/api/v1/areas/{resp.get_json()['id']}",
        json={"code": world.other_area.code},
        headers={**other_admin, "If-Match": '"1"'},
    )
    assert_problem(resp, 409, fields={"code"})


def test_area_validation_lists_every_bad_field(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    bad = {
        "code": "has space",
        "name": "   ",
        "flammable": "yes",
        "max_headcount": 1001,
        "colour": "red",
        "enterprise_id": str(world.other_enterprise.id),
    }
    resp = client.post(f"/api/v1/enterprises/{world.enterprise.id}/areas", json=bad, headers=headers)
    body = assert_problem(
        resp, 422, fields={"code", "name", "flammable", "max_headcount", "colour", "enterprise_id"}
    )
    assert body["errors"]["max_headcount"] == [
        "须在 0 到 1000 之间 / Must be greater than or equal to 0 and less than or equal to 1000."
    ]
    assert body["errors"]["colour"] == ["不允许的字段 / Unknown field."]
    for headcount in (-1, 1.5, "3", True):
        resp = client.post(
            f"/api/v1/enterprises/{world.enterprise.id}/areas",
            json={**AREA, "max_headcount": headcount},
            headers=headers,
        )
        assert_problem(resp, 422, fields={"max_headcount"})
    for headcount in (0, 1000, None):
        resp = client.post(
            f"/api/v1/enterprises/{world.enterprise.id}/areas",
            json={**AREA, "code": f"Z{headcount}", "max_headcount": headcount},
            headers=headers,
        )
        assert resp.status_code == 201, resp.get_json()
    resp = client.post(f"/api/v1/enterprises/{world.enterprise.id}/areas", json={}, headers=headers)
    assert_problem(resp, 422, fields={"code", "name"})


def test_only_the_enterprises_own_admin_writes_its_areas(app, client, factory):
    world = factory.world()
    path = f"/api/v1/enterprises/{world.enterprise.id}/areas"
    for role in ("applicant", "safety_dept", "principal"):
        assert_problem(client.post(path, json=AREA, headers=factory.headers(world.people[role])), 403)
    for regulator in (world.regulator, world.city_regulator):
        assert_problem(client.post(path, json=AREA, headers=factory.headers(regulator)), 403)
    other_admin = factory.headers(world.other_people["enterprise_admin"])
    assert_problem(client.post(path, json=AREA, headers=other_admin), 404)
    resp = client.patch(
        f"/api/v1/areas/{world.area.id}", json={"name": "x"}, headers={**other_admin, "If-Match": '"1"'}
    )
    assert_problem(resp, 404)
    with peek(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PlantArea)) == 2


# --- people ----------------------------------------------------------------------------------------


def test_admin_registers_a_person_who_can_then_log_in(app, client, factory):
    world = factory.world()
    admin = world.people["enterprise_admin"]
    resp = client.post(
        f"/api/v1/enterprises/{world.enterprise.id}/people", json=PERSON, headers=factory.headers(admin)
    )
    assert resp.status_code == 201
    person = resp.get_json()
    assert "password" not in person and "password_hash" not in person
    assert person["roles"] == ["worker"] and person["active"] is True
    assert person["certificates"] == PERSON["certificates"]
    assert person["positioning_card_id"] == "CARD-0042" and person["enterprise_id"] == str(
        world.enterprise.id
    )
    assert person["created_at"] == "2026-06-10T10:00:00+08:00"
    assert resp.headers["ETag"] == '"1"' and resp.headers["Location"] == f"/api/v1/people/{person['id']}"
    login = client.post(
        "/api/v1/auth/login", json={"username": PERSON["username"], "password": PERSON["password"]}
    )
    assert login.status_code == 200
    (event,) = events(app, "person.created")
    assert event.subject_type == "person" and event.data["roles"] == ["worker"]
    assert "password" not in str(event.data) and PERSON["password"] not in str(event.data)


def test_person_roles_must_be_enterprise_roles_of_rules_section_0(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    path = f"/api/v1/enterprises/{world.enterprise.id}/people"
    for roles in (
        ["regulator"],
        ["city_regulator"],
        ["integration"],
        ["boss"],
        [],
        ["worker", "worker"],
        "worker",
    ):
        body = assert_problem(client.post(path, json={**PERSON, "roles": roles}, headers=headers), 422)
        assert set(body["errors"]) <= {"roles", "roles.0", "roles.1"} and body["errors"]
    every_role = {
        **PERSON,
        # HR-02: every role but the principal's, which follows the enterprise's record with its regulator
        "roles": sorted(set(ENTERPRISE_ROLES) - {"principal"}),
        "positioning_card_id": None,
        "certificates": [],
    }
    assert client.post(path, json=every_role, headers=headers).status_code == 201


def test_person_validation_lists_every_bad_field_with_paths(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    bad = {
        "username": "a b",
        "name": "",
        "password": "short",
        "roles": ["worker", 7],
        "positioning_card_id": "card with spaces",
        "phone": "call me",
        "certificates": [
            {"kind": "welder"},
            {"kind": "crane", "number": "X1", "expires_on": "31/12/2028"},  # G-13: kinds are a closed list
            {"kind": "electrician", "number": "X2", "expires_on": None},  # G-13: the expiry is recorded
        ],
        "enterprise_id": str(world.other_enterprise.id),
        "active": False,
    }
    resp = client.post(f"/api/v1/enterprises/{world.enterprise.id}/people", json=bad, headers=headers)
    body = assert_problem(
        resp,
        422,
        fields={
            "username",
            "name",
            "password",
            "roles.1",
            "positioning_card_id",
            "phone",
            "certificates.0.number",
            "certificates.0.expires_on",
            "certificates.1.kind",
            "certificates.1.expires_on",
            "certificates.2.expires_on",
            "enterprise_id",
            "active",
        },
    )
    assert body["errors"]["certificates.0.number"] == ["必填 / Missing data for required field."]
    assert body["errors"]["roles.1"] == ["须为字符串 / Not a valid string."]


def test_username_card_and_certificate_must_be_free(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    worker = world.people["worker"]
    path = f"/api/v1/enterprises/{world.enterprise.id}/people"
    client.patch(
        f"/api/v1/people/{worker.id}",
        json={"positioning_card_id": "CARD-1"},
        headers={**headers, "If-Match": '"1"'},
    )
    taken = {
        **PERSON,
        "username": world.other_people["worker"].username,
        "positioning_card_id": "CARD-1",
        "certificates": [
            {"kind": "welder", "number": worker.certificates[0].number, "expires_on": "2029-01-01"}
        ],
    }
    body = assert_problem(client.post(path, json=taken, headers=headers), 409)
    assert set(body["errors"]) == {"username", "positioning_card_id", "certificates.0.number"}
    dup = {**PERSON, "certificates": PERSON["certificates"] * 2}
    assert_problem(client.post(path, json=dup, headers=headers), 422, fields={"certificates"})


def test_admin_changes_roles_activity_card_and_certificates_with_if_match(app, client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    worker = world.people["worker"]
    path = f"/api/v1/people/{worker.id}"
    etag = client.get(path, headers=headers).headers["ETag"]
    changes = {"roles": ["worker", "guardian"], "positioning_card_id": "CARD-7", "active": True}
    resp = client.patch(path, json=changes, headers={**headers, "If-Match": etag})
    assert resp.status_code == 200
    assert resp.get_json()["roles"] == ["worker", "guardian"] and resp.headers["ETag"] == '"2"'
    renewed = [
        {
            "kind": "welder",
            "number": worker.certificates[0].number,
            "expires_on": "2029-01-01",
            "issued_by": None,
        },
        {
            "kind": "electrician",
            "number": "D-99",
            "expires_on": "2027-05-31",
            "issued_by": "日照市应急管理局",
        },
    ]
    resp = client.patch(path, json={"certificates": renewed}, headers={**headers, "If-Match": '"2"'})
    assert resp.status_code == 200 and resp.headers["ETag"] == '"3"'
    assert resp.get_json()["certificates"] == renewed
    resp = client.patch(path, json={"certificates": renewed[1:]}, headers={**headers, "If-Match": '"3"'})
    assert resp.get_json()["certificates"] == renewed[1:] and resp.headers["ETag"] == '"4"'
    same = client.patch(path, json={"certificates": renewed[1:]}, headers={**headers, "If-Match": '"4"'})
    assert same.status_code == 200 and same.headers["ETag"] == '"4"'
    resp = client.patch(path, json={"active": False}, headers={**headers, "If-Match": '"4"'})
    assert resp.get_json()["active"] is False
    assert_problem(client.get("/api/v1/auth/me", headers=factory.headers(worker)), 401)
    kinds = [e.data["changes"].keys() for e in events(app, "person.updated")]
    assert [sorted(k) for k in kinds] == [
        ["positioning_card_id", "roles"],
        ["certificates"],
        ["certificates"],
        ["active"],
    ]


def test_admin_cannot_lock_themselves_out(client, factory):
    world = factory.world()
    admin = world.people["enterprise_admin"]
    headers = {**factory.headers(admin), "If-Match": '"1"'}
    for changes in ({"active": False}, {"roles": ["worker"]}):
        assert_problem(client.patch(f"/api/v1/people/{admin.id}", json=changes, headers=headers), 409)
    resp = client.patch(
        f"/api/v1/people/{admin.id}", json={"roles": ["enterprise_admin", "safety_dept"]}, headers=headers
    )
    assert resp.status_code == 200


def test_people_of_another_enterprise_and_regulators_are_out_of_reach(app, client, factory):
    world = factory.world()
    headers = {**factory.headers(world.people["enterprise_admin"]), "If-Match": '"1"'}
    for target in (world.other_people["worker"], world.regulator):
        assert_problem(
            client.patch(f"/api/v1/people/{target.id}", json={"active": False}, headers=headers), 404
        )
    resp = client.post(
        f"/api/v1/enterprises/{world.other_enterprise.id}/people", json=PERSON, headers=headers
    )
    assert_problem(resp, 404)
    with peek(app) as session:
        assert session.scalar(sa.select(Person.id).where(Person.username == PERSON["username"])) is None


def test_regulator_reads_people_of_its_district_but_cannot_change_them(client, factory):
    world = factory.world()
    headers = factory.headers(world.regulator)
    listed = client.get(f"/api/v1/enterprises/{world.enterprise.id}/people?limit=100", headers=headers)
    assert listed.status_code == 200
    assert len(listed.get_json()["items"]) == len(ENTERPRISE_ROLES)
    resp = client.patch(
        f"/api/v1/people/{world.people['worker'].id}",
        json={"active": False},
        headers={**headers, "If-Match": '"1"'},
    )
    assert_problem(resp, 403)
