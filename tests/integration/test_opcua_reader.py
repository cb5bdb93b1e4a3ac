"""The OPC UA reader against a real asyncua server: tag values judged as readings (DC-01), a quiet server alarmed (DC-03)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from permit_service.bridges.opcua import OpcuaReader
from permit_service.bridges.settings import opcua_settings
from permit_service.integrations.models import Alarm, Feed, GasReadingRecord
from permit_service.permits.models import Permit
from tests.integration.bridge_helpers import SECRET_ENV, free_port, rows, wait_until
from tests.opcua_server import DcsServer
from tests.plant import at_work


@pytest.fixture
def dcs() -> Iterator[DcsServer]:
    server = DcsServer(free_port(), {"CH4-A": 5.0, "O2-A": 20.9}).start()
    yield server
    server.stop()


@pytest.fixture
def reader(app, plant, dcs, monkeypatch) -> Iterator[OpcuaReader]:
    _world, gate, _east = plant
    monkeypatch.setenv(SECRET_ENV, "client-secret-0123456789")
    config: dict[str, Any] = {
        "server": {"endpoint": dcs.endpoint, "timeout_seconds": 2},
        "client": {"client_id": gate.client.client_id, "secret_env": SECRET_ENV},
        "tags": [{"node_id": dcs.node_id("CH4-A"), "detector": "CH4-A"},
                 {"node_id": dcs.node_id("O2-A"), "detector": "O2-A"}],
        "poll_seconds": 0.2,
        "health": {"port": 0},
    }  # fmt: skip
    running = OpcuaReader(app, opcua_settings(config))
    thread = threading.Thread(target=asyncio.run, args=(running.run(),), daemon=True)
    thread.start()
    yield running
    running.stop()
    thread.join(timeout=15)
    assert not thread.is_alive()


def _readings(session) -> list[tuple[str, float]]:
    return sorted((r.gas, r.value) for r in rows(session, sa.select(GasReadingRecord)))


def test_DC01_an_opcua_tag_crossing_its_limit_suspends_the_permit(factory, plant, dcs, reader):
    world, _gate, _east = plant
    hot = at_work(factory, world)
    wait_until(lambda: _readings(factory.session) == [("CH4", 5.0), ("O2", 20.9)], what="the first readings")
    assert rows(factory.session, sa.select(Permit.state).where(Permit.id == hot.id)) == ["active"]
    dcs.set("CH4-A", 20.0)  # 20 %LEL of CH4 = 1.0 % vol > 0.5
    wait_until(
        lambda: rows(factory.session, sa.select(Permit.state).where(Permit.id == hot.id)) == ["suspended"],
        what="the permit to be suspended",
    )
    [alarm] = rows(factory.session, sa.select(Alarm))
    assert (alarm.kind, alarm.rule) == ("gas_breach", "HW-08")
    # Unchanged values are not read in again before the heartbeat.
    assert _readings(factory.session) == [("CH4", 5.0), ("CH4", 20.0), ("O2", 20.9)]


def test_DC03_a_silent_opcua_server_raises_the_silent_feed_alarm(clock, factory, plant, dcs, reader):
    world, _gate, _east = plant
    hot = at_work(factory, world)
    wait_until(lambda: len(_readings(factory.session)) == 2, what="the first readings")
    dcs.stop()
    wait_until(lambda: reader.not_ready() is not None, what="the reader to notice")
    clock.advance(timedelta(minutes=6))  # past POLICY_FEED_SILENCE_MINUTES (5)
    alarms = wait_until(
        lambda: rows(factory.session, sa.select(Alarm).where(Alarm.kind == "feed_silent")),
        what="the DC-03 alarm",
    )
    gas_feed = rows(factory.session, sa.select(Feed.id).where(Feed.code == "GDS"))[0]
    assert {(a.rule, a.permit_id) for a in alarms if a.feed_id == gas_feed} == {("DC-03", hot.id)}
