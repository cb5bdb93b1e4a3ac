"""The bridges' configuration files, and the outbox channels they publish from (no broker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from permit_service.auth.tokens import principal_of_client
from permit_service.bridges.settings import mqtt_settings, opcua_settings, read_file
from permit_service.config import ConfigError
from permit_service.integrations import webhooks
from permit_service.integrations.models import WebhookDelivery
from tests.integration.bridge_helpers import check_in, rows
from tests.plant import at_work, portal

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_example_files_describe_runnable_bridges():
    mqtt = mqtt_settings(read_file(EXAMPLES / "mqtt-bridge.yaml"))
    [client] = mqtt.clients
    assert (client.client_id, client.secret_env) == ("lh-plant-portal", "PERMIT_MQTT_CLIENT_SECRET")
    assert [(r.subscription, r.kind) for r in client.routes] == [
        ("plant/lh/gas/+", "gas_readings"),
        ("plant/lh/positions/+", "positions"),
        ("plant/lh/cards", "card_sightings"),
        ("plant/lh/alarms/+", "alarms"),
    ]
    assert client.routes[0].fields_of("plant/lh/gas/LH-CH4-01") == {"detector": "LH-CH4-01"}
    opcua = opcua_settings(read_file(EXAMPLES / "opcua-reader.yaml"))
    assert [(t.node_id, t.detector) for t in opcua.tags] == [
        ("ns=2;s=LH-CH4-01", "LH-CH4-01"),
        ("ns=2;s=LH-O2-01", "LH-O2-01"),
    ]


def test_a_configuration_that_cannot_run_is_refused_with_every_problem_listed():
    with pytest.raises(ConfigError) as refused:
        mqtt_settings({
            "broker": {"host": "127.0.0.1"},
            "clients": [{"client_id": "dcs", "secret_env": "S", "topics": [
                {"pattern": "plant/{tag}", "kind": "gas_readings"},
                {"pattern": "plant/#/x", "kind": "gas"},
            ]}],
        })  # fmt: skip
    message = str(refused.value)
    for problem in (
        "broker.session_id: required",
        "{tag} is not one of",
        "'gas' is not one of",
        "'#' may only end",
    ):
        assert problem in message
    with pytest.raises(ConfigError, match="tags: at least one"):
        opcua_settings(
            {"server": {"endpoint": "opc.tcp://dcs:4840"}, "client": {"client_id": "c", "secret_env": "S"}}
        )


def test_DC04_the_webhook_delivery_never_posts_an_mqtt_channel_and_the_bridge_takes_only_its_own(
    app, client, factory, clock
):
    world = factory.world()
    gate = portal(factory, world)
    permit = at_work(factory, world)
    with app.app_context():
        channel = webhooks.ensure_channel(
            factory.session, principal=principal_of_client(gate.client), url="mqtt://broker:1883/permits",
            event_kinds=["presence.*"],
        )  # fmt: skip
        factory.session.commit()
    check_in(client, factory, world, permit.id)
    sent: list[str] = []

    def send(url, _body, _headers, _timeout):
        sent.append(url)
        return 204, None

    sessions = app.extensions["db_sessionmaker"]
    with app.app_context():
        assert webhooks.deliver_due(sessions, clock.now(), send=send).delivered == 0
        assert (
            webhooks.deliver_due(sessions, clock.now(), send=send, subscriptions=[channel.id]).delivered == 1
        )
    assert sent == ["mqtt://broker:1883/permits"]
    assert [d.event_kind for d in rows(factory.session, sa.select(WebhookDelivery))] == [
        "presence.checked_in"
    ]
