"""`permit-service opcua-reader`: a DCS's detector tags read over OPC UA and pushed as gas readings (DC-01, DC-03).

Every `poll_seconds` the mapped nodes are read at once. A good value becomes a reading of its detector,
through `integrations.ingest.push` like an HTTP push, when it changed or when `heartbeat_seconds` passed
since the tag's last reading (a steady tag is alive, and keeps its feed alive). A tag with a bad status
gives no reading; a server that cannot be reached gives none at all. After every cycle the reader asks
the service's own DC-03 check for its enterprise's feeds, so a quiet server or tag raises the silent-feed
alarm on the permits relying on it without waiting for the scheduler (once per silence, as there).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, ua
from flask import Flask
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.exc import SQLAlchemyError

from permit_service import clock
from permit_service.bridges import acting
from permit_service.bridges.health import HealthServer
from permit_service.bridges.settings import OpcuaSettings, Tag
from permit_service.db import transaction
from permit_service.errors import Problem
from permit_service.integrations import ingest, service

log = logging.getLogger(__name__)


@dataclass
class _Last:
    """The last reading pushed for a tag."""

    value: float
    at: datetime


class Metrics:
    """The reader's own metrics (served on its health port)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connected = Gauge(
            "permit_opcua_connected", "1 while connected to the OPC UA server", registry=self.registry
        )
        self.readings = Counter(
            "permit_opcua_readings", "Tag values taken, by outcome", ["outcome"], registry=self.registry
        )
        self.last_read = Gauge(
            "permit_opcua_last_read_timestamp_seconds", "When the tags were last read", registry=self.registry
        )
        self.lag = Gauge(
            "permit_opcua_lag_seconds",
            "Seconds since the tags were last read successfully",
            registry=self.registry,
        )


class OpcuaReader:
    """Reads the mapped tags and pushes their values as readings of the configured integration client."""

    def __init__(self, app: Flask, settings: OpcuaSettings) -> None:
        self.app, self.settings = app, settings
        self.metrics = Metrics()
        self.stopping = threading.Event()  # set from a signal handler or another thread
        self._connected = False
        self._last_ok: datetime | None = None
        self._last: dict[str, _Last] = {}
        self._acting: acting.Acting | None = None
        self.health = HealthServer(settings.health, self.metrics.registry, self.not_ready)

    def sign_in(self) -> None:
        """Authenticate the integration client (refuses to start otherwise)."""
        with self.app.app_context(), transaction() as session:
            self._acting = acting.sign_in(
                session, client_id=self.settings.client_id, secret=self.settings.secret()
            )

    def not_ready(self) -> str | None:
        """Why the reader is not ready (None when connected to the server)."""
        return None if self._connected else "not connected to the OPC UA server"

    async def run(self) -> None:
        """Read until stopped: connect, read every cycle, reconnect with back-off after a failure."""
        self.sign_in()
        self.health.start()
        log.info("opc ua reader for %s on %s (%d tags), health on port %d", self.settings.client_id,
                 self.settings.endpoint, len(self.settings.tags), self.health.port)  # fmt: skip
        delay = 1.0
        try:
            while not self.stopping.is_set():
                try:
                    await self._session()
                    delay = 1.0
                except (OSError, TimeoutError, ua.UaError) as exc:
                    log.warning("opc ua server %s unreachable: %s", self.settings.endpoint, exc)
                except Exception:  # whatever else ends a session: reconnect, never stop on our own
                    log.exception("opc ua session with %s failed", self.settings.endpoint)
                self._set_connected(False)
                await asyncio.to_thread(self._check_silence)
                await self._sleep(delay)
                delay = min(delay * 2, 60.0)
        finally:
            self.health.stop()
            log.info("opc ua reader stopped")

    def stop(self) -> None:
        """Ask the reader to stop after the cycle in hand."""
        log.info("opc ua reader stopping")
        self.stopping.set()

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.1))

    async def _session(self) -> None:
        client = Client(self.settings.endpoint, timeout=self.settings.timeout_seconds)
        if self.settings.security:
            await client.set_security_string(self.settings.security)
        user, password = self.settings.credentials()
        if user:
            client.set_user(user)
            client.set_password(password or "")
        async with client:
            self._set_connected(True)
            nodes = [client.get_node(tag.node_id) for tag in self.settings.tags]
            while not self.stopping.is_set():
                values = await asyncio.wait_for(
                    client.read_attributes(nodes), timeout=self.settings.timeout_seconds
                )
                await asyncio.to_thread(self._take, values)
                await asyncio.to_thread(self._check_silence)
                await self._sleep(self.settings.poll_seconds)

    def _set_connected(self, connected: bool) -> None:
        self._connected = connected
        self.metrics.connected.set(1 if connected else 0)

    def _take(self, values: list[ua.DataValue]) -> None:
        now_wall = datetime.now(UTC)
        self.metrics.last_read.set(now_wall.timestamp())
        with self.app.app_context():
            now = clock.now()
            for tag, value in zip(self.settings.tags, values, strict=True):
                self.metrics.readings.labels(self._take_one(tag, value, now)).inc()
        self._last_ok = now_wall
        self.metrics.lag.set(0)

    def _take_one(self, tag: Tag, value: ua.DataValue, now: datetime) -> str:
        if value.StatusCode is not None and not value.StatusCode.is_good():
            log.warning("tag %s (%s) is bad: %s", tag.node_id, tag.detector, value.StatusCode.name)
            return "bad_status"
        number = _number(value.Value.Value if value.Value is not None else None)
        if number is None:
            log.warning("tag %s (%s) holds no number", tag.node_id, tag.detector)
            return "not_a_number"
        last = self._last.get(tag.node_id)
        heartbeat = last is not None and (now - last.at).total_seconds() >= self.settings.heartbeat_seconds
        if last is not None and last.value == number and not heartbeat:
            return "unchanged"
        body = {"readings": [{"detector": tag.detector, "value": number, "measured_at": now.isoformat()}]}
        request_hash = service.fingerprint("OPCUA", f"{self.settings.endpoint} {tag.node_id}", body)
        assert self._acting is not None
        try:
            with transaction() as session:
                principal = self._acting.principal(session)
            ingest.push(principal, kind="gas_readings", key=f"opcua:{request_hash}", body=body,
                        request_hash=request_hash)  # fmt: skip
        except SQLAlchemyError:
            log.exception("reading of %s not stored; it is read again next cycle", tag.detector)
            return "retry"
        except Problem as exc:
            # Refused as an HTTP push would be (unknown detector, impossible value): tried again on change.
            log.warning("reading of %s refused: %s %s", tag.detector, exc.en, exc.extra.get("errors", ""))
            self._last[tag.node_id] = _Last(number, now)
            return "refused"
        self._last[tag.node_id] = _Last(number, now)
        return "applied"

    def _check_silence(self) -> None:
        if self._last_ok is not None:
            self.metrics.lag.set((datetime.now(UTC) - self._last_ok).total_seconds())
        assert self._acting is not None
        try:
            with self.app.app_context(), transaction() as session:
                enterprise_id = self._acting.principal(session).enterprise_id
                raised = service.check_silent_feeds(session, clock.now(), enterprise_id=enterprise_id)
            if raised:
                log.warning("DC-03: %d silent-feed alarm(s) raised", len(raised))
        except (SQLAlchemyError, Problem):
            log.exception("the silent-feed check failed; the scheduler's check still runs")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def serve(app: Flask, settings: OpcuaSettings) -> None:
    """Run a reader in the foreground until SIGTERM or SIGINT (the `opcua-reader` command)."""
    reader = OpcuaReader(app, settings)
    # asyncua logs every read at INFO (several a second); the reader's own lines say what matters.
    logging.getLogger("asyncua").setLevel(logging.WARNING)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, reader.stop)
        await reader.run()

    asyncio.run(main())
