"""Password guesses are throttled per account: after AUTH_MAX_FAILED_ATTEMPTS (5) wrong passwords within
AUTH_FAILURE_WINDOW_MINUTES (15), login and password change answer 429 with Retry-After without checking the
password, whether or not the username exists; a success clears the count. Time moves on the injected clock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest

from permit_service.config import Config, ConfigError
from tests.api.checks import assert_problem, bearer
from tests.factories import PASSWORD

LOGIN = "/api/v1/auth/login"
PASSWORD_URL = "/api/v1/auth/password"
NEW_PASSWORD = "安全作业-2026-新口令"
LIMIT, WINDOW = 5, timedelta(minutes=15)


def login(client, username, password=PASSWORD):
    return client.post(LOGIN, json={"username": username, "password": password})


def change(client, token, current=PASSWORD, new=NEW_PASSWORD):
    return client.post(
        PASSWORD_URL, json={"current_password": current, "new_password": new}, headers=bearer(token)
    )


def fail_logins(client, username, times=LIMIT):
    for _ in range(times):
        assert_problem(login(client, username, "not-the-password"), 401)


def assert_throttled(resp, retry_after):
    body = assert_problem(resp, 429)
    assert body["message_en"].startswith("Too many wrong passwords for this account")
    assert "密码错误次数过多" in body["message_zh"]
    assert resp.headers["Retry-After"] == str(retry_after)
    return body


def test_after_five_wrong_passwords_even_the_right_one_is_refused_with_429_until_the_window_ends(
    client, factory, clock
):
    person = factory.world().people["applicant"]
    fail_logins(client, person.username, LIMIT - 1)
    clock.advance(timedelta(minutes=5))
    fail_logins(client, person.username, 1)
    assert_throttled(login(client, person.username), retry_after=10 * 60)
    clock.advance(timedelta(minutes=10) - timedelta(seconds=1))
    assert_throttled(login(client, person.username), retry_after=1)
    clock.advance(timedelta(seconds=1))
    assert login(client, person.username).status_code == 200


def test_a_success_clears_the_count(client, factory):
    person = factory.world().people["applicant"]
    fail_logins(client, person.username, LIMIT - 1)
    assert login(client, person.username).status_code == 200
    fail_logins(client, person.username, LIMIT - 1)
    assert login(client, person.username).status_code == 200


def test_failures_spread_over_more_than_the_window_never_throttle(client, factory, clock):
    person = factory.world().people["applicant"]
    for _ in range(3):
        fail_logins(client, person.username, LIMIT - 1)
        clock.advance(WINDOW)
    assert login(client, person.username).status_code == 200


def test_an_unknown_username_is_throttled_exactly_like_a_known_one(client, factory):
    """A 429 must not tell an attacker which usernames exist: both answers are the same, byte for byte."""
    person = factory.world().people["applicant"]
    fail_logins(client, person.username)
    fail_logins(client, "nobody-by-this-name")
    known, unknown = login(client, person.username), login(client, "nobody-by-this-name")
    assert_throttled(known, retry_after=15 * 60)
    assert_throttled(unknown, retry_after=15 * 60)
    assert known.get_json() | {"request_id": None} == unknown.get_json() | {"request_id": None}


@pytest.mark.postgres_only
def test_a_burst_of_guesses_sent_at_once_gets_no_more_than_the_limit_checked(app, factory):
    """Each attempt takes its place in the count before its password is checked, so guesses racing each other
    cannot all read a count under the limit."""
    person = factory.world().people["applicant"]
    contenders = 3 * LIMIT
    barrier = Barrier(contenders)

    def guess(n):
        client = app.test_client()
        barrier.wait()
        return login(client, person.username, f"guess-{n}").status_code

    with ThreadPoolExecutor(max_workers=contenders) as pool:
        answers = sorted(pool.map(guess, range(contenders)))
    assert answers == [401] * LIMIT + [429] * (contenders - LIMIT)


def test_one_account_being_throttled_leaves_the_others_alone(client, factory):
    world = factory.world()
    fail_logins(client, world.people["applicant"].username)
    assert login(client, world.people["worker"].username).status_code == 200


def test_password_change_guesses_count_against_the_account_and_lock_out_login_too(client, factory):
    """A stolen token buys no more guesses than the login form: both spend the same count."""
    person = factory.world().people["applicant"]
    token = factory.token(person)
    fail_logins(client, person.username, 2)
    for _ in range(LIMIT - 2):
        assert_problem(change(client, token, current="not-my-password"), 403)
    assert_throttled(change(client, token), retry_after=15 * 60)
    assert_throttled(login(client, person.username), retry_after=15 * 60)


def test_a_throttled_password_change_changes_nothing_and_the_right_password_then_clears_the_count(
    client, factory, clock
):
    person = factory.world().people["applicant"]
    token = factory.token(person)
    fail_logins(client, person.username)
    assert_throttled(change(client, token), retry_after=15 * 60)
    clock.advance(WINDOW)
    assert login(client, person.username, NEW_PASSWORD).status_code == 401  # the refused change set nothing
    assert change(client, token).status_code == 200
    fail_logins(client, person.username, LIMIT - 1)  # the change cleared the one failure before it
    assert login(client, person.username, NEW_PASSWORD).status_code == 200


def test_a_weak_new_password_with_the_right_current_one_costs_no_attempt(client, factory):
    person = factory.world().people["applicant"]
    token = factory.token(person)
    fail_logins(client, person.username, LIMIT - 1)
    assert_problem(change(client, token, new="short-1"), 422, fields={"new_password"})
    assert change(client, token).status_code == 200


def test_the_limit_and_window_are_configuration(app, client, factory, clock):
    app.config["PERMIT_CONFIG"].auth_max_failed_attempts = 2
    app.config["PERMIT_CONFIG"].auth_failure_window_minutes = 1
    person = factory.world().people["applicant"]
    fail_logins(client, person.username, 2)
    assert_throttled(login(client, person.username), retry_after=60)
    clock.advance(timedelta(minutes=1))
    assert login(client, person.username).status_code == 200


def test_the_settings_are_read_from_the_environment_and_at_least_1():
    cfg = Config.from_env({"AUTH_MAX_FAILED_ATTEMPTS": "10", "AUTH_FAILURE_WINDOW_MINUTES": "60"})
    assert (cfg.auth_max_failed_attempts, cfg.auth_failure_window_minutes) == (10, 60)
    assert (Config().auth_max_failed_attempts, Config().auth_failure_window_minutes) == (LIMIT, 15)
    for name in ("AUTH_MAX_FAILED_ATTEMPTS", "AUTH_FAILURE_WINDOW_MINUTES"):
        with pytest.raises(ConfigError, match=name):
            Config.from_env({name: "0"})
