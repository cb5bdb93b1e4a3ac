"""Operational endpoints and the HTTP edge: health, readiness, metrics, request ids, framework errors, config."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from permit_service import create_app, db, metrics
from permit_service.auth.principal import Principal
from permit_service.auth.tokens import issue_tokens
from permit_service.config import DEV_JWT_SECRET, Config, ConfigError
from permit_service.integrations.models import Feed
from permit_service.permits import service as permits_service
from tests.api.permit_flows import PermitFlow
from tests.conftest import TEST_JWT_SECRET
from tests.plant import portal

PROBLEM = "application/problem+json"
LOGIN = "/api/v1/auth/login"


def assert_problem(response, status: int) -> dict:
    """The response is RFC 9457 problem+json with `status`, bilingual messages and the request id."""
    assert response.status_code == status
    assert response.content_type == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert body["message_zh"] and body["message_en"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_ok_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "up"


@pytest.mark.parametrize(
    "database_url",
    [
        "sqlite:////nonexistent-directory/permit_service.db",
        "postgresql+psycopg://postgres@127.0.0.1:1/test",  # nothing listens on port 1
    ],
    ids=["sqlite-missing-directory", "postgresql-closed-port"],
)
def test_readyz_is_503_problem_when_the_database_is_unreachable(database_url):
    app = create_app(Config(env="test", database_url=database_url, jwt_secret_key=TEST_JWT_SECRET))
    response = app.test_client().get("/readyz")
    app.extensions["db_engine"].dispose()
    assert_problem(response, 503)


@pytest.mark.parametrize(
    "database_url",
    [
        "sqlite:////nonexistent-directory/permit_service.db",
        "postgresql+psycopg://postgres@127.0.0.1:1/test",  # nothing listens on port 1
    ],
    ids=["sqlite-missing-directory", "postgresql-closed-port"],
)
def test_api_calls_are_503_problem_with_retry_after_when_the_database_is_unavailable(database_url):
    app = create_app(Config(env="test", database_url=database_url, jwt_secret_key=TEST_JWT_SECRET))
    caller = Principal(
        id=str(uuid.uuid4()),
        kind="person",
        name="张三",
        roles=frozenset({"applicant"}),
        enterprise_id=uuid.uuid4(),
    )
    with app.app_context():
        token = issue_tokens(caller)["access_token"]
    client = app.test_client()
    answers = [
        client.post(LOGIN, json={"username": "zhangsan", "password": "Passw0rd!测试"}),
        client.get("/api/v1/permits", headers={"Authorization": f"Bearer {token}"}),
    ]
    app.extensions["db_engine"].dispose()
    for response in answers:
        body = assert_problem(response, 503)
        assert body["type"] == "/problems/database-unavailable"
        assert int(response.headers["Retry-After"]) > 0


def test_a_value_the_database_cannot_store_is_422_problem(client, factory, monkeypatch):
    world = factory.world()

    def out_of_range(*_args, **_kwargs):
        raise sa.exc.DataError("INSERT ...", {}, Exception("integer out of range"))

    monkeypatch.setattr(permits_service, "list_permits", out_of_range)
    response = client.get("/api/v1/permits", headers=factory.headers(world.people["applicant"]))
    assert assert_problem(response, 422)["type"] == "/problems/validation"


def test_metrics_count_requests_in_prometheus_format(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert re.search(
        r'^permit_http_requests_total\{.*endpoint="/healthz".*status="200".*\} 1\.0$', text, re.M
    )


def test_a_well_formed_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "plant-gw.42_abc-DEF"})
    assert response.headers["X-Request-ID"] == "plant-gw.42_abc-DEF"


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Request-ID": "has spaces"}, {"X-Request-ID": "a" * 65}, {"X-Request-ID": "<script>"}],
    ids=["absent", "spaces", "too-long", "markup"],
)
def test_a_missing_or_malformed_request_id_is_replaced_by_a_generated_one(client, headers):
    response = client.get("/healthz", headers=headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_unknown_path_is_404_problem(client):
    body = assert_problem(client.get("/no/such/path"), 404)
    assert body["instance"] == "/no/such/path"


def test_wrong_method_is_405_problem_with_allow(client):
    response = client.delete("/healthz")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_body_over_the_size_limit_is_413_problem(app, client):
    too_big = b"{" + b" " * app.config["MAX_CONTENT_LENGTH"] + b"}"
    response = client.post(LOGIN, data=too_big, content_type="application/json")
    assert_problem(response, 413)


def test_malformed_json_is_400_problem(client):
    response = client.post(LOGIN, data='{"username": "a", ', content_type="application/json")
    assert_problem(response, 400)


@pytest.mark.parametrize("secret", [None, DEV_JWT_SECRET], ids=["secret-unset", "dev-secret"])
def test_production_refuses_to_start_with_the_development_secret(monkeypatch, tmp_path, secret):
    monkeypatch.setenv("PERMIT_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never-created.db'}")
    if secret is None:
        monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("JWT_SECRET_KEY", secret)
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        create_app()


def test_production_refuses_to_start_without_a_database_url():
    secret = {"PERMIT_ENV": "production", "JWT_SECRET_KEY": "s" * 40}
    assert Config.from_env({**secret, "DATABASE_URL": "postgresql+psycopg://db/permit"}).env == "production"
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Config.from_env(secret)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Config.from_env({**secret, "DATABASE_URL": ""})


@pytest.mark.parametrize("minutes", ["0", "-5"])
def test_G_06_a_card_evidence_window_under_a_minute_is_refused_at_start(minutes):
    assert Config.from_env({"POLICY_CARD_EVIDENCE_MINUTES": "1"}).policy["card_evidence_minutes"] == 1
    with pytest.raises(ConfigError, match="POLICY_CARD_EVIDENCE_MINUTES"):
        Config.from_env({"POLICY_CARD_EVIDENCE_MINUTES": minutes})


def _gauges(client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        name: float(value)
        for name, value in re.findall(r"^(permit_(?!http)\S+) (\S+)$", response.get_data(as_text=True), re.M)
    }


def test_service_gauges_count_permits_suspensions_outbox_and_silent_feeds(client, factory, clock):
    world = factory.world()
    gate = portal(factory, world)
    subscribed = client.post(
        "/api/v1/webhooks/subscriptions",
        json={"url": "http://10.20.30.40/hooks", "secret": "s" * 32, "event_kinds": ["permit.*"]},
        headers=gate.headers,
    )
    assert subscribed.status_code == 201, subscribed.get_json()
    assert _gauges(client)["permit_webhook_outbox_pending"] == 0
    flow = PermitFlow(client, factory, world).file("hot_work").to_active()
    PermitFlow(client, factory, world).file("height")
    flow.suspend()
    factory.session.add(
        Feed(enterprise_id=world.enterprise.id, code="F-1", kind="gas", silence_alarmed_at=clock.now())
    )
    factory.session.commit()
    clock.advance(timedelta(seconds=90))

    gauges = _gauges(client)
    assert gauges['permit_open_permits{grade="level1",state="suspended",type="hot_work"}'] == 1
    assert (
        sum(v for k, v in gauges.items() if k.startswith('permit_open_permits{grade="",state="draft"')) == 1
    )
    assert gauges['permit_suspensions{rule="G-08"}'] == 1
    assert gauges["permit_webhook_outbox_pending"] > 0
    assert gauges["permit_webhook_outbox_oldest_seconds"] >= 90
    assert gauges['permit_silent_feeds{kind="gas"}'] == 1


def test_suspensions_are_counted_under_the_rule_the_service_acted_on(client, factory):
    stopped = PermitFlow(client, factory, factory.world()).file("hot_work").to_active()
    stopped.gas_test([{"gas": "CH4", "value": 0.8, "unit": "%vol"}])  # HW-08: a failed test stops the work
    assert stopped.state == "suspended"
    PermitFlow(client, factory, factory.world()).file("hot_work").to_active().suspend()  # a person's: G-08

    gauges = _gauges(client)
    assert gauges['permit_suspensions{rule="HW-08"}'] == 1
    assert gauges['permit_suspensions{rule="G-08"}'] == 1


@pytest.mark.parametrize(
    ("permit_type", "reason_kind", "rule"),
    [
        ("hot_work", "working_period_ended", "HW-03"),
        ("hot_work", "red_grade", "RG-02"),
        ("hot_work", "freeze", "FZ-03"),
        ("confined_space", "gas_monitoring_gap", "CS-03"),
        ("hot_work", "crew_off_post", "HC-04"),
        ("hot_work", "failed_gas_test", "HW-08"),
        ("confined_space", "gas_alarm", "CS-04"),
        ("excavation", "found_object", "EX-03"),
        ("height", "plant_alarm", "G-08"),
        ("height", "a person's own words", "G-08"),
        ("height", None, "G-08"),
    ],
)
def test_a_suspensions_rule_follows_from_its_reason_kind(permit_type, reason_kind, rule):
    assert metrics.suspension_rule(permit_type, reason_kind) == rule


def test_a_process_keeps_a_bounded_number_of_compiled_statements(app):
    # Issue 14 (memory per worker): SQLAlchemy prunes its cache to the bound once it holds half as many more.
    engine = app.extensions["db_engine"]
    cache = engine.get_execution_options()["compiled_cache"]
    with engine.connect() as conn:
        for i in range(2 * db.QUERY_CACHE_SIZE):
            conn.execute(sa.select(sa.literal_column(str(i)).label("n")))
    assert db.QUERY_CACHE_SIZE <= len(cache) <= 1.5 * db.QUERY_CACHE_SIZE


def test_a_statement_whose_shape_follows_a_batchs_size_is_not_kept(app):
    engine = app.extensions["db_engine"]
    cache = engine.get_execution_options()["compiled_cache"]
    with engine.connect() as conn:
        for size in (3, db.MAX_CACHED_PARAMETERS + 1, 2 * db.MAX_CACHED_PARAMETERS):
            kept = len(cache)
            assert conn.execute(sa.select(*(sa.literal(i) for i in range(size)))).one() == tuple(range(size))
            assert len(cache) == kept + (size <= db.MAX_CACHED_PARAMETERS)
