"""The MQTT bridge against the real Mosquitto: plant topics judged like HTTP pushes, once; permit events out (DC-01..05)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from permit_service.bridges.mqtt import MqttBridge
from permit_service.bridges.settings import mqtt_settings
from permit_service.integrations import ingest
from permit_service.integrations.models import Alarm, GasReadingRecord, IngestBatch
from permit_service.permits.models import Permit
from tests.api.permit_flows import PermitFlow
from tests.conftest import ON_POSTGRES
from tests.integration.bridge_helpers import (
    SECRET_ENV,
    broker_or_skip,
    check_in,
    free_port,
    publish,
    rows,
    unique_prefix,
    wait_until,
)
from tests.plant import at_work, card_of, iso, portal


def _config(prefix: str, client_id: str, *, health_port: int = 0) -> dict[str, Any]:
    return {
        "broker": {"host": "127.0.0.1", "port": 1883, "session_id": prefix.replace("/", "-"),
                   "session_expiry_seconds": 120, "reconnect_min_seconds": 0.2},
        "dead_letter_topic": f"{prefix}/dead-letter",
        "events": {"topic_prefix": f"{prefix}/permits", "poll_seconds": 0.2},
        "health": {"port": health_port},
        "clients": [{
            "client_id": client_id, "secret_env": SECRET_ENV,
            "topics": [
                {"pattern": f"{prefix}/gas/{{detector}}", "kind": "gas_readings"},
                {"pattern": f"{prefix}/positions/{{area_code}}", "kind": "positions"},
                {"pattern": f"{prefix}/alarms", "kind": "alarms"},
            ],
        }],
    }  # fmt: skip


@pytest.fixture
def prefix(monkeypatch) -> str:
    broker_or_skip()
    monkeypatch.setenv(SECRET_ENV, "client-secret-0123456789")
    return unique_prefix()


class Running:
    """A bridge running on a thread of the test process (with the test's app and clock)."""

    def __init__(self, app, config: dict[str, Any]) -> None:
        self.bridge = MqttBridge(app, mqtt_settings(config))
        self.thread = threading.Thread(target=self.bridge.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.bridge.not_ready() is None, what="the bridge to connect")

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.bridge.health.port}/metrics") as resp:
            text = resp.read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))

    def stop(self) -> None:
        self.bridge.stop()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()


@pytest.fixture
def bridges(app) -> Iterator[Any]:
    started: list[Running] = []

    def start(config: dict[str, Any]) -> Running:
        running = Running(app, config)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def _state(session, permit) -> str:
    return rows(session, sa.select(Permit.state).where(Permit.id == permit.id))[0]


def test_DC01_a_breaching_reading_over_mqtt_suspends_the_permits_of_its_area_and_no_others(
    factory,
    plant,
    prefix,
    bridges,
):
    world, gate, east = plant
    hot = at_work(factory, world)
    elsewhere = at_work(factory, world, area=east)
    bridges(_config(prefix, gate.client.client_id))
    publish(f"{prefix}/gas/CH4-A", json.dumps({"value": 20.0, "measured_at": iso()}))  # 1.0 % vol CH4 > 0.5
    wait_until(lambda: _state(factory.session, hot) == "suspended", what="the permit to be suspended")
    assert _state(factory.session, elsewhere) == "active"
    [reading] = rows(factory.session, sa.select(GasReadingRecord))
    assert (reading.value, reading.unit) == (20.0, "%LEL")
    assert [(a.kind, a.rule, a.permit_id) for a in rows(factory.session, sa.select(Alarm))] == [
        ("gas_breach", "HW-08", hot.id)
    ]


def test_DC05_the_same_message_delivered_again_is_applied_once(factory, plant, prefix, bridges):
    _world, gate, _east = plant
    running = bridges(_config(prefix, gate.client.client_id))
    message = json.dumps({"readings": [{"detector": "CH4-A", "value": 3.0, "measured_at": iso()}]})
    publish(f"{prefix}/gas/CH4-A", message)
    publish(f"{prefix}/gas/CH4-A", message)
    wait_until(
        lambda: running.metric('permit_mqtt_messages_total{outcome="replayed"}') == 1, what="the repeat"
    )
    assert running.metric('permit_mqtt_messages_total{outcome="applied"}') == 1
    assert len(rows(factory.session, sa.select(GasReadingRecord))) == 1
    assert len(rows(factory.session, sa.select(IngestBatch))) == 1


def test_DC01_malformed_payloads_go_to_the_dead_letter_topic_and_nothing_is_stored(
    factory,
    plant,
    prefix,
    bridges,
    listeners,
):
    world, gate, _east = plant
    hot = at_work(factory, world)
    dead = listeners(f"{prefix}/dead-letter")
    running = bridges(_config(prefix, gate.client.client_id))
    publish(f"{prefix}/gas/CH4-A", b"\xff not json")
    publish(f"{prefix}/gas/NO-SUCH", json.dumps({"value": 40.0, "measured_at": iso()}))
    publish(f"{prefix}/gas/CH4-A", json.dumps({"detector": "CH4-E", "value": 40.0, "measured_at": iso()}))
    letters = wait_until(
        lambda: len(dead.on(f"{prefix}/dead-letter")) == 3 and dead.on(f"{prefix}/dead-letter")
    )
    # DC-01: the unknown detector's reading is refused in the batch's answer (201), not stored, and dead-lettered.
    assert [(d["topic"], d["status"]) for d in letters] == [
        (f"{prefix}/gas/CH4-A", 422), (f"{prefix}/gas/NO-SUCH", 201), (f"{prefix}/gas/CH4-A", 422),
    ]  # fmt: skip
    assert "not UTF-8 JSON" in letters[0]["reason_en"] and letters[0]["payload_encoding"] == "base64"
    assert letters[1]["errors"] == {"readings.0.detector": ["探测器未登记 / unknown detector"]}
    assert "readings.0.detector" in letters[2]["errors"]  # the payload names another detector than its topic
    assert rows(factory.session, sa.select(GasReadingRecord)) == []
    assert len(rows(factory.session, sa.select(IngestBatch))) == 1  # the answered batch, with its refusal
    assert _state(factory.session, hot) == "active"
    # The bridge carries on: the next good message is stored.
    publish(f"{prefix}/gas/CH4-A", json.dumps({"value": 2.0, "measured_at": iso()}))
    wait_until(lambda: rows(factory.session, sa.select(GasReadingRecord)), what="the good reading")
    assert running.metric('permit_mqtt_messages_total{outcome="dead_letter"}') == 3


_BRIDGE_PROCESS = """
import json, sys
from datetime import datetime
from permit_service import create_app
from permit_service.bridges.mqtt import serve
from permit_service.bridges.settings import mqtt_settings
from permit_service.clock import FixedClock
from permit_service.config import Config

url, jwt_secret, now, config = sys.argv[1:5]
app = create_app(Config(env="test", database_url=url, jwt_secret_key=jwt_secret, sqlite_busy_timeout_ms=120_000))
app.extensions["clock"] = FixedClock(datetime.fromisoformat(now))
serve(app, mqtt_settings(json.loads(config)))
"""


def _hold_the_write_lock(session) -> None:
    """Keep the bridge's transaction from committing: SQLite's write lock, or PostgreSQL's lock on the batches."""
    if ON_POSTGRES:
        session.execute(sa.text("LOCK TABLE ingest_batches IN EXCLUSIVE MODE"))
    else:
        session.execute(sa.text("SELECT 1"))  # every SQLite transaction here begins IMMEDIATE: the write lock


class BridgeProcess:
    """The bridge as its own process (the test's database and clock), its output kept in a file."""

    def __init__(self, app, clock, config: dict[str, Any], log_path) -> None:
        self.port = config["health"]["port"]
        self.log_path = log_path
        cfg = app.config["PERMIT_CONFIG"]
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BRIDGE_PROCESS, cfg.database_url, cfg.jwt_secret_key,
                 clock.now().isoformat(), json.dumps(config)],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(
            lambda: self._get("/readyz") or self.process.poll() is not None, timeout=60, what="connection"
        )
        assert self.process.poll() is None, self.output()

    def _get(self, path: str) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}") as resp:
                return resp.read().decode()
        except OSError:
            return None

    def received(self) -> bool:
        """Whether a message has reached the bridge (taken in hand, stored or not)."""
        text = self._get("/metrics") or ""
        return any(
            line.startswith("permit_mqtt_last_message_timestamp_seconds ") and float(line.split()[1]) > 0
            for line in text.splitlines()
        )

    def output(self) -> str:
        return self.log_path.read_text()

    def signal(self, signum: int) -> int:
        """Send a signal and wait for the process to end; its exit status."""
        self.process.send_signal(signum)
        return self.process.wait(timeout=20)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def processes(tmp_path) -> Iterator[Any]:
    started: list[BridgeProcess] = []

    def start(app, clock, config: dict[str, Any]) -> BridgeProcess:
        started.append(BridgeProcess(app, clock, config, tmp_path / f"bridge-{len(started)}.log"))
        return started[-1]

    yield start
    for process in started:
        process.kill()


def test_DC05_a_bridge_killed_before_committing_gets_the_message_again_and_applies_it_once(
    app, clock, factory, plant, prefix, bridges, processes
):
    world, gate, _east = plant
    hot = at_work(factory, world)
    config = _config(prefix, gate.client.client_id, health_port=free_port())
    bridge = processes(app, clock, config)
    locker = app.extensions["db_sessionmaker"]()
    _hold_the_write_lock(locker)
    publish(f"{prefix}/gas/CH4-A", json.dumps({"value": 20.0, "measured_at": iso()}))
    wait_until(bridge.received, what="the bridge process to receive the message")
    assert bridge.signal(signal.SIGKILL) == -signal.SIGKILL
    locker.rollback()
    locker.close()
    assert rows(factory.session, sa.select(IngestBatch)) == []
    # The same session comes back: the broker delivers the unacknowledged message again.
    bridges(config)
    wait_until(lambda: _state(factory.session, hot) == "suspended", what="the redelivered message")
    assert len(rows(factory.session, sa.select(GasReadingRecord))) == 1
    assert len(rows(factory.session, sa.select(IngestBatch))) == 1


def test_the_bridge_process_stops_cleanly_on_sigterm(app, clock, factory, plant, prefix, processes):
    _world, gate, _east = plant
    bridge = processes(app, clock, _config(prefix, gate.client.client_id, health_port=free_port()))
    assert bridge.signal(signal.SIGTERM) == 0, bridge.output()
    assert "Traceback" not in bridge.output()


def test_DC04_the_retained_area_summary_follows_activation_and_check_in(
    client,
    factory,
    prefix,
    bridges,
    listeners,
):
    world = factory.world()
    gate = portal(factory, world)
    flow = PermitFlow(client, factory, world).file("hot_work").to_briefed().gas_test()
    area = f"{prefix}/permits/{world.enterprise.credit_code}/{world.area.code}"
    seen = listeners(f"{area}/#")
    bridges(_config(prefix, gate.client.client_id))
    flow.activate()
    first = wait_until(lambda: seen.on(area), what="the area summary")[-1]
    assert first["active"] == 1 and first["people_inside"] == 0
    assert [
        (p["number"], p["type"], p["grade"], p["state"], p["people_inside"], p["limit"])
        for p in first["permits"]
    ] == [(flow.number, "hot_work", flow.permit["grade"], "active", 0, 3)]
    check_in(client, factory, world, flow.id)
    latest = wait_until(
        lambda: seen.on(area)[-1]["people_inside"] == 1 and seen.on(area)[-1], what="check-in"
    )
    assert latest["permits"][0]["people_inside"] == 1
    assert [e["kind"] for e in seen.on(f"{area}/{flow.number}")] == ["permit.activate", "presence.checked_in"]
    # Retained: a display connecting now is shown the area as it is.
    late = listeners(area)
    assert wait_until(lambda: late.on(area), what="the retained summary")[-1]["people_inside"] == 1


def test_the_bridge_reports_its_connection_and_lag_and_stops_cleanly(app, factory, plant, prefix, bridges):
    _world, gate, _east = plant
    running = bridges(_config(prefix, gate.client.client_id))
    with urllib.request.urlopen(f"http://127.0.0.1:{running.bridge.health.port}/readyz") as resp:
        assert json.load(resp) == {"status": "ready"}
    assert running.metric("permit_mqtt_connected") == 1
    assert running.metric("permit_mqtt_outbox_lag_seconds") == 0
    running.stop()
    assert running.bridge.not_ready() == "not connected to the MQTT broker"


def test_a_bridge_with_wrong_client_credentials_refuses_to_start(app, factory, plant, prefix, monkeypatch):
    _world, gate, _east = plant
    monkeypatch.setenv(SECRET_ENV, "wrong")
    with pytest.raises(Exception, match="Wrong client credentials"):
        MqttBridge(app, mqtt_settings(_config(prefix, gate.client.client_id))).sign_in()


def test_DC05_a_message_the_database_could_not_take_is_not_acknowledged_and_comes_again(
    factory, plant, prefix, bridges, monkeypatch
):
    _world, gate, _east = plant
    real_push = ingest.push
    failures = []

    def push_once_unreachable(*args, **kwargs):
        if not failures:
            failures.append(True)
            raise OperationalError("INSERT", {}, ConnectionError("database unreachable"))
        return real_push(*args, **kwargs)

    monkeypatch.setattr(ingest, "push", push_once_unreachable)
    running = bridges(_config(prefix, gate.client.client_id))
    publish(f"{prefix}/gas/CH4-A", json.dumps({"value": 2.0, "measured_at": iso()}))
    wait_until(lambda: rows(factory.session, sa.select(GasReadingRecord)), what="the message delivered again")
    assert running.metric('permit_mqtt_messages_total{outcome="retry"}') == 1
    assert running.metric('permit_mqtt_messages_total{outcome="applied"}') == 1
    assert running.metric("permit_mqtt_reconnects_total") >= 1
    assert len(rows(factory.session, sa.select(IngestBatch))) == 1


def test_HC04_a_positions_snapshot_over_mqtt_takes_its_area_from_the_topic(factory, plant, prefix, bridges):
    world, gate, _east = plant
    hot = at_work(factory, world)
    bridges(_config(prefix, gate.client.client_id))
    # The guardian is not among the cards the positioning platform sees in the area.
    snapshot = {"observed_at": iso(), "card_ids": [card_of(world.people["worker"])]}
    publish(f"{prefix}/positions/{world.area.code}", json.dumps(snapshot))
    wait_until(lambda: _state(factory.session, hot) == "suspended", what="HC-04")
    assert [a.kind for a in rows(factory.session, sa.select(Alarm))] == ["guardian_absent"]
