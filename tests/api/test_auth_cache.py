"""The caller cache (issue 14): a token's caller and revocation are read once per AUTH_CACHE_SECONDS per process,
and a change made through the process takes effect on the very next request."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from permit_service import create_app
from permit_service.auth.cache import AuthCache, Changes, Verdict
from permit_service.config import Config, ConfigError
from permit_service.directory.models import Person
from tests.api.checks import assert_problem, bearer, counted
from tests.factories import PASSWORD

ME = "/api/v1/auth/me"
CALLER_TABLES = ("people", "integration_clients", "revoked_tokens")


class Ticker:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def ticker(app) -> Ticker:
    ticker = Ticker()
    app.extensions["auth_cache"].timer = ticker
    return ticker


def caller_reads(app, client, path: str, headers: dict[str, str], status: int = 200) -> int:
    """How many statements a request sent that read its caller or the token's revocation."""
    with counted(app) as statements:
        resp = client.get(path, headers=headers)
    assert resp.status_code == status, resp.get_data(as_text=True)
    return sum(any(f" {t}" in s.lower() for t in CALLER_TABLES) for s in statements)


def test_a_second_request_within_the_bound_reads_no_caller(app, client, factory, ticker):
    world = factory.world()
    person, gate = world.people["worker"], factory.integration_client(world.enterprise)
    factory.session.commit()
    for who in (person, gate):
        headers = factory.headers(who)
        assert caller_reads(app, client, ME, headers) == 1  # the caller with the revocation, one statement
        ticker.at += 4.9
        with counted(app) as statements:
            assert client.get(ME, headers=headers).status_code == 200
        assert statements == []
        ticker.at += 0.2  # AUTH_CACHE_SECONDS (5) have passed: read again
        assert caller_reads(app, client, ME, headers) == 1


def test_logout_takes_effect_on_the_next_request(app, client, factory, ticker):
    headers = factory.headers(factory.world().people["applicant"])
    assert client.get(ME, headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", json={}, headers=headers).status_code == 204
    body = assert_problem(client.get(ME, headers=headers), 401)
    assert body["message_en"] == "The token has been revoked"


def test_a_password_change_refuses_the_earlier_token_on_the_next_request(app, client, factory, ticker):
    person = factory.world().people["worker"]
    old, other_device = factory.headers(person), factory.headers(person)
    assert client.get(ME, headers=old).status_code == 200
    assert client.get(ME, headers=other_device).status_code == 200
    change = {"current_password": PASSWORD, "new_password": "Another-Pass-2026"}
    resp = client.post("/api/v1/auth/password", json=change, headers=old)
    assert resp.status_code == 200
    assert_problem(client.get(ME, headers=old), 401)
    assert_problem(client.get(ME, headers=other_device), 401)
    assert client.get(ME, headers=bearer(resp.get_json()["access_token"])).status_code == 200


def test_deactivation_and_new_roles_take_effect_on_the_next_request(app, client, factory, ticker):
    world = factory.world()
    admin, worker = factory.headers(world.people["enterprise_admin"]), world.people["worker"]
    headers = factory.headers(worker)
    path = f"/api/v1/people/{worker.id}"
    assert client.get(ME, headers=headers).get_json()["roles"] == ["worker"]
    changes = {"roles": ["worker", "guardian"], "positioning_card_id": "CARD-7"}
    assert client.patch(path, json=changes, headers={**admin, "If-Match": '"1"'}).status_code == 200
    assert sorted(client.get(ME, headers=headers).get_json()["roles"]) == ["guardian", "worker"]
    assert client.patch(path, json={"active": False}, headers={**admin, "If-Match": '"2"'}).status_code == 200
    body = assert_problem(client.get(ME, headers=headers), 401)
    assert body["message_en"] == "The account of this token does not exist or is disabled"


def test_a_client_deactivated_in_the_process_is_refused_on_the_next_request(app, client, factory, ticker):
    world = factory.world()
    gate = factory.integration_client(world.enterprise)
    factory.session.commit()
    headers = factory.headers(gate)
    assert client.get(ME, headers=headers).status_code == 200
    gate.active = False
    factory.session.commit()
    assert_problem(client.get(ME, headers=headers), 401)


def test_a_change_behind_the_process_is_seen_once_the_bound_has_passed(app, client, factory, ticker):
    person = factory.world().people["worker"]
    headers = factory.headers(person)
    assert client.get(ME, headers=headers).status_code == 200
    # Another worker or instance: no session of this process sees it.
    with app.extensions["db_engine"].begin() as conn:
        conn.execute(sa.update(Person.__table__).where(Person.id == person.id).values(active=False))
    ticker.at += 4.9
    assert client.get(ME, headers=headers).status_code == 200  # within the bound: still served
    ticker.at += 0.2
    assert_problem(client.get(ME, headers=headers), 401)


@pytest.fixture
def uncached_app(config):
    application = create_app(dataclasses.replace(config, auth_cache_seconds=0))
    application.testing = True
    yield application
    application.extensions["db_engine"].dispose()


def test_auth_cache_seconds_0_reads_the_caller_on_every_request(uncached_app, factory):
    client = uncached_app.test_client()
    headers = factory.headers(factory.world().people["worker"])
    for _ in range(3):
        assert caller_reads(uncached_app, client, ME, headers) == 1


def test_auth_cache_seconds_is_configuration_between_0_and_60():
    env = {"JWT_SECRET_KEY": "x" * 32}
    assert Config.from_env(env).auth_cache_seconds == 5
    assert Config.from_env({**env, "AUTH_CACHE_SECONDS": "0"}).auth_cache_seconds == 0
    for wrong in ("-1", "61", "soon"):
        with pytest.raises(ConfigError, match="AUTH_CACHE_SECONDS"):
            Config.from_env({**env, "AUTH_CACHE_SECONDS": wrong})


def _verdict(owner: str) -> Verdict:
    return Verdict(None, active=False, revoked=False, owner=owner)


def test_a_process_keeps_at_most_so_many_tokens_the_least_recently_used_going_first():
    cache = AuthCache(5, size=2)
    for key in ("a", "b"):
        cache.put(key, _verdict(key), cache.epoch)
    assert cache.get("a") is not None  # "b" is now the least recently used
    cache.put("c", _verdict("c"), cache.epoch)
    assert [cache.get(k) is not None for k in ("a", "b", "c")] == [True, False, True]


def test_verdicts_no_request_asked_for_since_they_expired_leave_when_the_next_is_kept():
    now = [0.0]
    cache = AuthCache(5, timer=lambda: now[0])
    for key in ("a", "b"):
        cache.put(key, _verdict(key), cache.epoch)
    now[0] = 4.0
    assert cache.get("b") is not None
    now[0] = 5.0  # "a" has expired, "b" too, though used more recently
    cache.put("c", _verdict("c"), cache.epoch)
    assert len(cache) == 1 and cache.get("c") is not None


def test_a_verdict_read_before_a_change_was_committed_is_not_kept():
    # A request read the caller while a logout in another thread of the process committed: its answer may
    # predate the logout, so it must not be served to the next request.
    cache = AuthCache(5)
    epoch = cache.epoch
    cache.drop(Changes(tokens={"jti-1"}))
    cache.put("jti-1", _verdict("p"), epoch)
    assert cache.get("jti-1") is None
    cache.put("jti-1", _verdict("p"), cache.epoch)
    assert cache.get("jti-1") is not None
