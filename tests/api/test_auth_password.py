"""A person changes their own password: the current one is required, the policy length holds, and every token
issued before the change, on every device, stops working."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.config import Config, ConfigError
from tests.api.checks import assert_problem, bearer
from tests.factories import PASSWORD

LOGIN = "/api/v1/auth/login"
PASSWORD_URL = "/api/v1/auth/password"
ME = "/api/v1/auth/me"
NEW_PASSWORD = "安全作业-2026-新口令"


def login(client, username, password=PASSWORD):
    return client.post(LOGIN, json={"username": username, "password": password})


def change(client, access_token, current=PASSWORD, new=NEW_PASSWORD):
    body = {"current_password": current, "new_password": new}
    return client.post(PASSWORD_URL, json=body, headers=bearer(access_token))


def test_after_a_change_the_new_password_logs_in_and_the_old_one_does_not(client, factory):
    person = factory.world().people["applicant"]
    tokens = login(client, person.username).get_json()
    resp = change(client, tokens["access_token"])
    assert resp.status_code == 200, resp.get_json()
    fresh = resp.get_json()
    assert client.get(ME, headers=bearer(fresh["access_token"])).status_code == 200
    assert client.post("/api/v1/auth/refresh", headers=bearer(fresh["refresh_token"])).status_code == 200
    assert_problem(login(client, person.username), 401)
    assert login(client, person.username, NEW_PASSWORD).status_code == 200


def test_a_change_revokes_every_earlier_token_of_the_person_on_every_device(client, factory):
    world = factory.world()
    person, colleague = world.people["applicant"], world.people["worker"]
    phone = login(client, person.username).get_json()
    desktop = login(client, person.username).get_json()
    colleagues = login(client, colleague.username).get_json()
    assert change(client, desktop["access_token"]).status_code == 200
    for stale in (phone, desktop):
        body = assert_problem(client.get(ME, headers=bearer(stale["access_token"])), 401)
        assert body["message_en"] == "The token has been revoked"
        assert_problem(client.post("/api/v1/auth/refresh", headers=bearer(stale["refresh_token"])), 401)
    assert client.get(ME, headers=bearer(colleagues["access_token"])).status_code == 200


def test_a_wrong_current_password_is_a_403_and_changes_nothing(client, factory):
    person = factory.world().people["applicant"]
    tokens = login(client, person.username).get_json()
    body = assert_problem(change(client, tokens["access_token"], current="not-my-password"), 403)
    assert body["message_en"] == "The current password is wrong"
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 200
    assert login(client, person.username).status_code == 200
    assert_problem(login(client, person.username, NEW_PASSWORD), 401)


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("short-1", "至少12个字符 / at least 12 characters"),
        (PASSWORD, "须与当前密码不同 / must differ from the current password"),
        ("{username}", "不得与用户名相同 / must not be the username"),
    ],
)
def test_a_weak_new_password_is_a_422_naming_the_field(client, factory, new, message):
    world = factory.world()
    person = factory.person("applicant", enterprise=world.enterprise, username="li.weiguo.operator")
    tokens = login(client, person.username).get_json()
    body = assert_problem(
        change(client, tokens["access_token"], new=new.format(username=person.username.upper())),
        422,
        fields={"new_password"},
    )
    assert message in body["errors"]["new_password"]
    assert login(client, person.username).status_code == 200


def test_both_passwords_are_required_and_unknown_fields_refused(client, factory):
    tokens = login(client, factory.world().people["applicant"].username).get_json()
    resp = client.post(PASSWORD_URL, json={"password": "x"}, headers=bearer(tokens["access_token"]))
    assert_problem(resp, 422, fields={"current_password", "new_password", "password"})


def test_no_token_is_401_and_an_integration_client_has_no_password(client, factory):
    world = factory.world()
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert_problem(client.post(PASSWORD_URL, json=body), 401)
    headers = factory.headers(factory.integration_client(world.enterprise))
    assert_problem(client.post(PASSWORD_URL, json=body, headers=headers), 403)


def test_the_change_is_an_audit_event_without_the_password(app, client, factory, db_session):
    person = factory.world().people["applicant"]
    tokens = login(client, person.username).get_json()
    assert change(client, tokens["access_token"]).status_code == 200
    event = db_session.scalars(sa.select(Event).where(Event.kind == "person.password_changed")).one()
    assert event.subject_id == str(person.id) and event.actor_id == str(person.id)
    assert NEW_PASSWORD not in str(event.data) and PASSWORD not in str(event.data)
    db_session.rollback()


def test_the_minimum_length_is_configuration_and_never_below_8():
    assert Config.from_env({"PASSWORD_MIN_LENGTH": "16"}).password_min_length == 16
    with pytest.raises(ConfigError, match="PASSWORD_MIN_LENGTH"):
        Config.from_env({"PASSWORD_MIN_LENGTH": "6"}).validate()
