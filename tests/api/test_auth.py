"""Login, refresh, logout, client credentials and the tokens the service refuses, with real JWTs."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask_jwt_extended import create_access_token

from permit_service.auth.models import IntegrationClient, RevokedToken
from permit_service.auth.service import purge_expired_revocations
from permit_service.auth.tokens import issue_tokens, principal_of_person
from permit_service.directory.models import Person
from tests.api.checks import assert_problem, bearer, hand_made, unverified_claims
from tests.conftest import TEST_JWT_SECRET
from tests.factories import PASSWORD

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


def login(client, username, password=PASSWORD):
    return client.post(LOGIN, json={"username": username, "password": password})


def tokens_for(app, person):
    """What a login returns, without paying for the password hash (only the login tests need that)."""
    with app.app_context():
        return issue_tokens(principal_of_person(person))


# --- password login --------------------------------------------------------------------------------


def test_login_returns_tokens_whose_claims_name_the_person_roles_and_enterprise(client, factory):
    world = factory.world()
    person = world.people["applicant"]
    resp = login(client, person.username)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 15 * 60
    header = pyjwt.get_unverified_header(body["access_token"])
    claims = unverified_claims(body["access_token"])
    assert header["alg"] == "HS256"
    assert claims["sub"] == str(person.id) and isinstance(claims["sub"], str)
    assert claims["kind"] == "person" and claims["roles"] == ["applicant"]
    assert claims["enterprise_id"] == str(world.enterprise.id) and claims["region_id"] is None
    assert claims["iss"] == "permit-service" and claims["aud"] == "permit-service"
    assert unverified_claims(body["refresh_token"])["type"] == "refresh"
    me = client.get(ME, headers=bearer(body["access_token"])).get_json()
    assert me["id"] == str(person.id) and me["kind"] == "person"


def test_regulator_token_carries_its_region(app, client, factory):
    world = factory.world()
    claims = unverified_claims(tokens_for(app, world.regulator)["access_token"])
    assert claims["roles"] == ["regulator"]
    assert claims["region_id"] == str(world.district.id) and claims["enterprise_id"] is None


def test_wrong_password_unknown_user_and_inactive_user_get_the_same_401(client, factory, db_session):
    world = factory.world()
    inactive = factory.person("worker", enterprise=world.enterprise, active=False)
    answers = [
        login(client, world.people["applicant"].username, "not-the-password"),
        login(client, "nobody-by-this-name"),
        login(client, inactive.username),
    ]
    bodies = [assert_problem(resp, 401) for resp in answers]
    assert {(b["message_zh"], b["message_en"]) for b in bodies} == {
        ("用户名或密码错误", "Wrong username or password")
    }


def test_person_without_password_cannot_log_in(client, factory):
    world = factory.world()
    external_only = factory.person("worker", enterprise=world.enterprise, password_hash=None)
    assert_problem(login(client, external_only.username, "anything-at-all"), 401)


def test_login_refuses_missing_and_unknown_fields(client):
    body = assert_problem(client.post(LOGIN, json={"username": "x", "role": "admin"}), 422)
    assert set(body["errors"]) == {"password", "role"}


def test_login_upgrades_a_weak_password_hash(client, factory, db_session):
    world = factory.world()
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    person = factory.person("worker", enterprise=world.enterprise, password_hash=weak)
    username = person.username
    assert login(client, username).status_code == 200
    db_session.expire_all()
    upgraded = db_session.get(Person, person.id).password_hash
    db_session.rollback()  # SQLite: release the lock the next request needs
    assert upgraded != weak and upgraded.startswith("$argon2id$")
    assert "m=65536,t=3,p=4" in upgraded


def test_deactivated_person_token_is_refused_at_once(client, factory, db_session):
    world = factory.world()
    person = world.people["worker"]
    headers = factory.headers(person)
    assert client.get(ME, headers=headers).status_code == 200
    person.active = False
    db_session.commit()
    assert_problem(client.get(ME, headers=headers), 401)


# --- refresh and logout ----------------------------------------------------------------------------


def test_refresh_gives_a_new_access_token_with_current_roles(client, factory, db_session):
    world = factory.world()
    person = world.people["applicant"]
    tokens = login(client, person.username).get_json()
    person.roles = ["applicant", "guardian"]
    db_session.commit()
    resp = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert resp.status_code == 200
    fresh = resp.get_json()
    assert "refresh_token" not in fresh
    claims = unverified_claims(fresh["access_token"])
    assert claims["roles"] == ["applicant", "guardian"]
    assert claims["rjti"] == unverified_claims(tokens["refresh_token"])["jti"]
    assert client.get(ME, headers=bearer(fresh["access_token"])).status_code == 200


def test_refresh_refuses_an_access_token_and_an_access_token_refuses_refresh_use(app, client, factory):
    world = factory.world()
    tokens = tokens_for(app, world.people["applicant"])
    assert_problem(client.post("/api/v1/auth/refresh", headers=bearer(tokens["access_token"])), 401)
    assert_problem(client.get(ME, headers=bearer(tokens["refresh_token"])), 401)


def test_logout_revokes_access_and_refresh_tokens(app, client, factory, db_session):
    world = factory.world()
    tokens = tokens_for(app, world.people["applicant"])
    resp = client.post("/api/v1/auth/logout", json={}, headers=bearer(tokens["access_token"]))
    assert resp.status_code == 204
    body = assert_problem(client.get(ME, headers=bearer(tokens["access_token"])), 401)
    assert body["message_en"] == "The token has been revoked"
    assert_problem(client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(RevokedToken)) == 2
    db_session.rollback()


def test_logout_of_a_refreshed_token_revokes_the_refresh_token_it_came_from(app, client, factory):
    world = factory.world()
    tokens = tokens_for(app, world.people["applicant"])
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).get_json()
    assert client.post("/api/v1/auth/logout", headers=bearer(refreshed["access_token"])).status_code == 204
    assert_problem(client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 200  # a sibling, not revoked


def test_logout_with_the_refresh_token_in_the_body_and_twice_is_fine(app, client, factory):
    world = factory.world()
    tokens = tokens_for(app, world.people["applicant"])
    body = {"refresh_token": tokens["refresh_token"]}
    assert (
        client.post("/api/v1/auth/logout", json=body, headers=bearer(tokens["access_token"])).status_code
        == 204
    )
    other = tokens_for(app, world.people["applicant"])
    assert (
        client.post("/api/v1/auth/logout", json=body, headers=bearer(other["access_token"])).status_code
        == 204
    )
    assert_problem(client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)


def test_logout_refuses_someone_elses_or_a_broken_refresh_token(app, client, factory):
    world = factory.world()
    mine = tokens_for(app, world.people["applicant"])
    theirs = tokens_for(app, world.people["worker"])
    for token in (theirs["refresh_token"], mine["access_token"], "not.a.token"):
        resp = client.post(
            "/api/v1/auth/logout", json={"refresh_token": token}, headers=bearer(mine["access_token"])
        )
        assert_problem(resp, 422, fields={"refresh_token"})
    assert client.post("/api/v1/auth/refresh", headers=bearer(theirs["refresh_token"])).status_code == 200


def test_purge_removes_only_revocations_of_expired_tokens(app, client, factory, db_session):
    world = factory.world()
    tokens = tokens_for(app, world.people["applicant"])
    client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
    access_exp = datetime.fromtimestamp(unverified_claims(tokens["access_token"])["exp"], UTC)
    assert purge_expired_revocations(db_session, access_exp - timedelta(seconds=1)) == 0
    assert purge_expired_revocations(db_session, access_exp) == 1
    remaining = db_session.scalars(sa.select(RevokedToken.jti)).all()
    db_session.commit()
    assert remaining == [unverified_claims(tokens["refresh_token"])["jti"]]
    # the refresh token is still refused: its revocation outlives it
    assert_problem(client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)
    assert purge_expired_revocations(db_session, access_exp + timedelta(days=8)) == 1
    db_session.commit()


# --- client credentials ----------------------------------------------------------------------------


def test_client_credentials_give_an_integration_token_scoped_to_its_enterprise(client, factory):
    world = factory.world()
    dcs = factory.integration_client(world.enterprise)
    resp = client.post(
        "/api/v1/auth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": dcs.client_id,
            "client_secret": "client-secret-0123456789",
        },
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert "refresh_token" not in body
    claims = unverified_claims(body["access_token"])
    assert claims["kind"] == "integration" and claims["roles"] == ["integration"]
    assert claims["enterprise_id"] == str(world.enterprise.id)
    headers = bearer(body["access_token"])
    assert client.get(f"/api/v1/enterprises/{world.enterprise.id}", headers=headers).status_code == 200
    assert_problem(client.get(f"/api/v1/enterprises/{world.other_enterprise.id}", headers=headers), 404)


def test_client_credentials_refuse_wrong_secret_unknown_client_inactive_client(client, factory, db_session):
    world = factory.world()
    # Hashed cheaply: these tests are about the answers, not about Argon2's cost.
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("client-secret-0123456789")
    dcs = IntegrationClient(
        client_id="dcs-a", secret_hash=cheap, name="DCS A", enterprise_id=world.enterprise.id
    )
    retired = IntegrationClient(
        client_id="dcs-b", secret_hash=cheap, name="DCS B", enterprise_id=world.enterprise.id, active=False
    )
    db_session.add_all([dcs, retired])
    db_session.commit()
    for client_id, secret in (
        ("dcs-a", "wrong-secret"),
        ("no-such-client", "client-secret-0123456789"),
        ("dcs-b", "client-secret-0123456789"),
    ):
        body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        assert_problem(client.post("/api/v1/auth/token", json=body), 401)
    assert_problem(
        client.post(
            "/api/v1/auth/token", json={"grant_type": "password", "client_id": "x", "client_secret": "y"}
        ),
        422,
        fields={"grant_type"},
    )


def test_integration_token_cannot_use_person_only_endpoints(client, factory):
    world = factory.world()
    headers = factory.headers(factory.integration_client(world.enterprise))
    area_body = {"code": "DCS-1", "name": "罐区"}
    resp = client.post(f"/api/v1/enterprises/{world.enterprise.id}/areas", json=area_body, headers=headers)
    assert_problem(resp, 403)
    resp = client.patch(
        f"/api/v1/people/{world.people['worker'].id}",
        json={"active": False},
        headers={**headers, "If-Match": '"1"'},
    )
    assert_problem(resp, 403)


# --- tokens the service refuses --------------------------------------------------------------------


def test_missing_and_malformed_authorization_get_401_problem(client):
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic x"},
    ):
        resp = client.get(ME, headers=headers)
        assert_problem(resp, 401)
        assert resp.headers["WWW-Authenticate"] == "Bearer"


def test_expired_token_gets_401(app, client, factory):
    world = factory.world()
    with app.app_context():
        token = create_access_token(
            identity=principal_of_person(world.people["applicant"]), expires_delta=timedelta(seconds=-1)
        )
    body = assert_problem(client.get(ME, headers=bearer(token)), 401)
    assert body["message_en"] == "The token has expired; refresh it or log in again"


def test_a_token_accepted_before_gets_401_once_it_has_expired(app, client, factory):
    # The app keeps the claims of a token it verified (issue 14): they are served only until the token's exp.
    world = factory.world()
    with app.app_context():
        token = create_access_token(
            identity=principal_of_person(world.people["applicant"]), expires_delta=timedelta(seconds=1)
        )
    assert client.get(ME, headers=bearer(token)).status_code == 200
    time.sleep(max(unverified_claims(token)["exp"] - time.time(), 0) + 0.05)
    body = assert_problem(client.get(ME, headers=bearer(token)), 401)
    assert body["message_en"] == "The token has expired; refresh it or log in again"


def test_unsigned_alg_none_token_gets_401(client, factory):
    world = factory.world()
    claims = unverified_claims(factory.token(world.people["applicant"]))
    for alg in ("none", "None", "NONE"):
        assert_problem(client.get(ME, headers=bearer(hand_made({"alg": alg, "typ": "JWT"}, claims))), 401)


def test_wrongly_signed_token_gets_401(client, factory):
    world = factory.world()
    claims = unverified_claims(factory.token(world.people["applicant"]))
    forged = pyjwt.encode(claims, "another-secret-that-is-long-enough-0123456789", algorithm="HS256")
    assert_problem(client.get(ME, headers=bearer(forged)), 401)
    tampered = pyjwt.encode({**claims, "roles": ["principal"]}, TEST_JWT_SECRET, algorithm="HS256")
    assert (
        client.get(ME, headers=bearer(tampered)).status_code == 200
    )  # our key: roles still from the database
    assert client.get(ME, headers=bearer(tampered)).get_json()["roles"] == ["applicant"]


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_tokens_with_other_issuer_audience_algorithm_or_no_expiry_get_401(client, factory):
    world = factory.world()
    claims = unverified_claims(factory.token(world.people["applicant"]))
    variants = [
        pyjwt.encode({**claims, "iss": "someone-else"}, TEST_JWT_SECRET, algorithm="HS256"),
        pyjwt.encode({**claims, "aud": "another-service"}, TEST_JWT_SECRET, algorithm="HS256"),
        pyjwt.encode(claims, TEST_JWT_SECRET, algorithm="HS512"),
        pyjwt.encode({k: v for k, v in claims.items() if k != "exp"}, TEST_JWT_SECRET, algorithm="HS256"),
        pyjwt.encode({**claims, "exp": int(time.time()) + 10**9}, TEST_JWT_SECRET, algorithm="HS256"),
        pyjwt.encode({**claims, "exp": 10**20}, TEST_JWT_SECRET, algorithm="HS256"),
        pyjwt.encode({**claims, "sub": 12345}, TEST_JWT_SECRET, algorithm="HS256"),
        pyjwt.encode({**claims, "sub": str(uuid.uuid4())}, TEST_JWT_SECRET, algorithm="HS256"),
    ]
    for token in variants:
        assert_problem(client.get(ME, headers=bearer(token)), 401)


def test_revoked_token_gets_401(client, factory):
    world = factory.world()
    token = factory.token(world.people["applicant"])
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    assert_problem(client.get(f"/api/v1/enterprises/{world.enterprise.id}", headers=bearer(token)), 401)


# --- tenancy ---------------------------------------------------------------------------------------


def test_enterprise_token_gets_404_on_another_enterprise_and_its_areas_and_people(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["applicant"])
    other = world.other_enterprise.id
    for path in (
        f"/api/v1/enterprises/{other}",
        f"/api/v1/enterprises/{other}/areas",
        f"/api/v1/enterprises/{other}/people",
        f"/api/v1/areas/{world.other_area.id}",
        f"/api/v1/people/{world.other_people['worker'].id}",
    ):
        assert_problem(client.get(path, headers=headers), 404)
    assert client.get(f"/api/v1/areas/{world.area.id}", headers=headers).status_code == 200


def test_district_regulator_gets_404_on_an_enterprise_of_another_district(client, factory):
    world = factory.world()
    headers = factory.headers(world.regulator)
    assert client.get(f"/api/v1/enterprises/{world.enterprise.id}", headers=headers).status_code == 200
    assert_problem(client.get(f"/api/v1/enterprises/{world.other_enterprise.id}", headers=headers), 404)
    assert_problem(client.get(f"/api/v1/areas/{world.other_area.id}", headers=headers), 404)
    listed = client.get("/api/v1/enterprises", headers=headers).get_json()["items"]
    assert [e["id"] for e in listed] == [str(world.enterprise.id)]
    regions = {r["id"] for r in client.get("/api/v1/regions", headers=headers).get_json()}
    assert regions == {str(world.district.id)}


def test_city_regulator_sees_every_enterprise_of_the_city(client, factory):
    world = factory.world()
    headers = factory.headers(world.city_regulator)
    listed = client.get("/api/v1/enterprises", headers=headers).get_json()["items"]
    assert {e["id"] for e in listed} == {str(world.enterprise.id), str(world.other_enterprise.id)}
    for area in (world.area, world.other_area):
        assert client.get(f"/api/v1/areas/{area.id}", headers=headers).status_code == 200
    regions = {r["id"] for r in client.get("/api/v1/regions", headers=headers).get_json()}
    assert regions == {str(world.city.id), str(world.district.id), str(world.other_district.id)}


def test_regulator_cannot_reach_a_person_of_another_district_nor_another_regulator(client, factory):
    world = factory.world()
    headers = factory.headers(world.regulator)
    assert client.get(f"/api/v1/people/{world.people['worker'].id}", headers=headers).status_code == 200
    assert_problem(client.get(f"/api/v1/people/{world.other_people['worker'].id}", headers=headers), 404)
    assert_problem(client.get(f"/api/v1/people/{world.other_regulator.id}", headers=headers), 404)
