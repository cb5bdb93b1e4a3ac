"""The real Mosquitto on 127.0.0.1:1883 and bridges run beside the test: topics unique per test, waits bounded."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from tests.plant import give_cards

BROKER = ("127.0.0.1", 1883)
SECRET_ENV = "TEST_BRIDGE_CLIENT_SECRET"
CLIENT_SECRET = "client-secret-0123456789"  # what tests.factories gives every integration client


def check_in(client: Any, factory: Any, world: Any, permit_id: Any, who: str = "worker") -> None:
    """The guardian registers a crew member inside (who carries a positioning card, HC-03)."""
    person = world.people[who]
    give_cards(factory, person)
    resp = client.post(
        f"/api/v1/permits/{permit_id}/presence/check-ins",
        json={"person_id": str(person.id)},
        headers=factory.headers(world.people["guardian"]),
    )
    assert resp.status_code == 201, resp.get_json()


def broker_or_skip() -> None:
    """Skip (outside CI) or fail (in CI, where .ci/run starts Mosquitto) when no broker answers."""
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail("no MQTT broker on 127.0.0.1:1883 although CI starts one (.ci/run)")
        pytest.skip("no MQTT broker on 127.0.0.1:1883: `mosquitto -d -c /etc/mosquitto/mosquitto.conf`")


def unique_prefix() -> str:
    """A topic prefix of this test only (parallel workers and other people share the broker)."""
    return f"permit-test/{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy (bounded; never a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def rows(session: Any, stmt: sa.Select) -> list[Any]:
    """Read rows and end the read at once (on SQLite every transaction holds the write lock)."""
    found = session.scalars(stmt.execution_options(populate_existing=True)).all()
    session.commit()
    return found


class Listener:
    """A plain MQTT subscriber collecting (topic, JSON payload, retained) from some filters."""

    def __init__(self, *filters: str) -> None:
        self.messages: list[tuple[str, Any, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect(*BROKER)
        for f in filters:
            self.client.subscribe(f, qos=1)
        self.client.loop_start()

    def _on_message(self, _client: Any, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, json.loads(msg.payload), bool(msg.retain)))

    def on(self, topic: str) -> list[Any]:
        """Payloads received on a topic, oldest first."""
        with self._lock:
            return [payload for t, payload, _retained in self.messages if t == topic]

    def close(self) -> None:
        """Disconnect."""
        self.client.loop_stop()
        self.client.disconnect()


def publish(topic: str, payload: bytes | str, *, retain: bool = False) -> None:
    """Publish one message with QoS 1 and wait for the broker's acknowledgement."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.connect(*BROKER)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


@pytest.fixture
def listeners() -> Iterator[Callable[..., Listener]]:
    """Listeners closed after the test."""
    made: list[Listener] = []

    def make(*filters: str) -> Listener:
        listener = Listener(*filters)
        made.append(listener)
        time.sleep(0.3)  # the SUBACK: a message published before it would not reach the listener
        return listener

    yield make
    for listener in made:
        listener.close()
