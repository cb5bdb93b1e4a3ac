"""`permit-service mqtt-bridge`: plant topics in through the HTTP feeds' own path, permit events out (DC-01..05).

In: each message of a configured topic becomes a push of its kind for the integration client the topic
belongs to, through `integrations.ingest.push` - the same schemas, judging and idempotency as HTTP. The
batch key is derived from the client, topic and payload, so a redelivered message is answered, not
applied again (DC-05). A message is acknowledged (QoS 1, manual ack) only once it is stored, or refused
to the dead-letter topic with the reason; when the database cannot be reached it is not acknowledged
and the bridge reconnects, so the broker delivers it again (the session is persistent).

Out: permit events are taken from the webhook outbox (DC-04) - one channel per client, ordered per
permit, leased and retried as webhooks are - and published to `{prefix}/{enterprise}/{area}/{permit}`,
with the area's summary retained on `{prefix}/{enterprise}/{area}`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import signal
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import paho.mqtt.client as mqtt
import sqlalchemy as sa
from flask import Flask
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.exc import SQLAlchemyError

from permit_service import clock
from permit_service.bridges import acting
from permit_service.bridges.health import HealthServer
from permit_service.bridges.settings import ClientRoutes, MqttSettings, Route
from permit_service.bridges.summary import area_summary, place_of
from permit_service.db import transaction
from permit_service.errors import Problem
from permit_service.integrations import ingest, service, webhooks

log = logging.getLogger(__name__)


class Malformed(Exception):
    """A payload that is not a batch of its topic's kind: refused to the dead-letter topic."""

    def __init__(self, en: str, zh: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(en)
        self.en, self.zh, self.errors = en, zh, errors or {}


@dataclass(frozen=True)
class Binding:
    """A configured topic of one client, with the client signed in."""

    route: Route
    client: ClientRoutes
    acting: acting.Acting


class Metrics:
    """The bridge's own metrics (served on its health port, not the web app's)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connected = Gauge(
            "permit_mqtt_connected", "1 while connected to the broker", registry=self.registry
        )
        self.messages = Counter(
            "permit_mqtt_messages", "Messages taken, by outcome", ["outcome"], registry=self.registry
        )
        self.reconnects = Counter(
            "permit_mqtt_reconnects", "Connection attempts after the first", registry=self.registry
        )
        self.unacked = Gauge(
            "permit_mqtt_unacknowledged_messages",
            "Messages received but not stored yet (delivered again after a reconnect)",
            registry=self.registry,
        )
        self.last_message = Gauge(
            "permit_mqtt_last_message_timestamp_seconds",
            "When the last message was taken",
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "permit_mqtt_outbox_pending", "Permit events waiting to be published", registry=self.registry
        )
        self.outbox_lag = Gauge(
            "permit_mqtt_outbox_lag_seconds",
            "Age of the oldest event waiting to be published",
            registry=self.registry,
        )
        self.published = Counter(
            "permit_mqtt_published", "Outbox publications, by result", ["result"], registry=self.registry
        )


def batch_key(client_id: str, topic: str, payload: bytes) -> str:
    """The batch key of a message (DC-05): the same client, topic and payload are the same batch."""
    digest = hashlib.sha256(client_id.encode() + b"\n" + topic.encode() + b"\n" + payload).hexdigest()
    return f"mqtt:{digest}"


def body_of(route: Route, topic: str, payload: bytes) -> dict[str, Any]:
    """The HTTP push body a message stands for: a whole batch, a list of items or one item, plus the topic's fields."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed(f"not UTF-8 JSON: {exc}", "不是 UTF-8 编码的 JSON") from None
    field = ingest.PUSHES[route.kind].field
    if isinstance(data, dict) and field in data:
        body = data
    elif isinstance(data, dict):
        body = {field: [data]}
    elif isinstance(data, list):
        body = {field: data}
    else:
        raise Malformed("a JSON object or list is expected", "须为 JSON 对象或数组")
    given = route.fields_of(topic)
    items = body.get(field)
    if not given or not isinstance(items, list):
        return body
    errors: dict[str, list[str]] = {}
    filled = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            for name, value in given.items():
                if name in item and item[name] != value:
                    errors[f"{field}.{i}.{name}"] = [f"主题为 {value} / the topic says {value}"]
            item = {**given, **item}
        filled.append(item)
    if errors:
        raise Malformed("the payload contradicts its topic", "消息内容与主题不符", errors)
    return {**body, field: filled}


class MqttBridge:
    """One bridge process: a persistent MQTT session in, an outbox publisher out, and its health endpoint."""

    def __init__(self, app: Flask, settings: MqttSettings) -> None:
        self.app, self.settings = app, settings
        self.metrics = Metrics()
        self.stopping = threading.Event()
        self._connected = False
        self._retry_later = False  # a message could not be stored: reconnect so that it comes again
        self._retry_delay = settings.reconnect_min_seconds  # grows while the database stays unreachable
        self._bindings: list[Binding] = []
        self._channels: list[uuid.UUID] = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.session_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
            reconnect_on_failure=False,  # reconnection is ours: with back-off, and on purpose after a failure
        )
        username, password = settings.credentials()
        if username:
            self.client.username_pw_set(username, password)
        if settings.tls:
            self.client.tls_set(settings.tls.ca_certs, settings.tls.certfile, settings.tls.keyfile)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.health = HealthServer(settings.health, self.metrics.registry, self.not_ready)

    # --- start, run, stop ---------------------------------------------------------------------------

    def sign_in(self) -> None:
        """Authenticate every configured client and open its outbox channel (refuses to start otherwise)."""
        with self.app.app_context():
            for client in self.settings.clients:
                with transaction() as session:
                    who = acting.sign_in(session, client_id=client.client_id, secret=client.secret())
                    channel = webhooks.ensure_channel(
                        session,
                        principal=who.principal(session),
                        url=self.settings.channel_url,
                        event_kinds=list(self.settings.event_kinds),
                    )
                self._channels.append(channel.id)
                self._bindings += [Binding(route, client, who) for route in client.routes]

    def run(self) -> None:
        """Serve until `stop()`: connect with back-off, take messages, publish the outbox, then leave cleanly."""
        self.sign_in()
        self.health.start()
        publisher = threading.Thread(target=self._publish_loop, name="mqtt-outbox", daemon=True)
        publisher.start()
        log.info("mqtt bridge %s for %s on %s:%d, health on port %d", self.settings.session_id,
                 ", ".join(c.client_id for c in self.settings.clients), self.settings.host, self.settings.port,
                 self.health.port)  # fmt: skip
        try:
            self._loop()
        finally:
            publisher.join(timeout=10)
            if self._connected:
                self._mark_disconnected()
                self.client.disconnect()
                self.client.loop(timeout=0.5)
            self.health.stop()
            log.info("mqtt bridge %s stopped", self.settings.session_id)

    def stop(self) -> None:
        """Ask the bridge to stop after the message in hand."""
        self.stopping.set()

    def not_ready(self) -> str | None:
        """Why the bridge is not ready (None when connected to the broker and the database answers)."""
        if not self._connected:
            return "not connected to the MQTT broker"
        try:
            with self.app.app_context(), transaction() as session:
                session.execute(sa.select(sa.literal(1)))
        except SQLAlchemyError as exc:
            return f"database unreachable: {type(exc).__name__}"
        return None

    def _loop(self) -> None:
        delay, first = self.settings.reconnect_min_seconds, True
        while not self.stopping.is_set():
            if not self._connected:
                if not first:
                    self.metrics.reconnects.inc()
                first = False
                if not self._connect():
                    log.warning("mqtt broker unreachable; next attempt in %.1f s", delay)
                    self.stopping.wait(delay)
                    delay = min(delay * 2, self.settings.reconnect_max_seconds)
                    continue
                delay = self.settings.reconnect_min_seconds
            rc = self.client.loop(timeout=0.2)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._mark_disconnected()
            elif self._retry_later:
                log.warning("reconnecting in %.1f s so that the broker delivers the unstored message again",
                            self._retry_delay)  # fmt: skip
                self._mark_disconnected()
                self.client.disconnect()
                self.client.loop(timeout=0.2)
                self.stopping.wait(self._retry_delay)
                self._retry_delay = min(self._retry_delay * 2, self.settings.reconnect_max_seconds)

    def _connect(self) -> bool:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_seconds
        try:
            self.client.connect(
                self.settings.host,
                self.settings.port,
                keepalive=self.settings.keepalive_seconds,
                clean_start=False,
                properties=props,
            )
        except (OSError, ValueError) as exc:
            log.warning("mqtt connect to %s:%d failed: %s", self.settings.host, self.settings.port, exc)
            return False
        # Wait for the CONNACK (on_connect marks the connection).
        for _ in range(50):
            if self.client.loop(timeout=0.1) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return False
            if self._connected:
                return True
        return False

    def _mark_disconnected(self) -> None:
        self._connected, self._retry_later = False, False
        self.metrics.connected.set(0)
        self.metrics.unacked.set(0)

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("mqtt broker refused the connection: %s", reason)
            return
        self._connected = True
        self.metrics.connected.set(1)
        log.info("mqtt connected (session %s)", "resumed" if flags.session_present else "new")
        filters = sorted({b.route.subscription for b in self._bindings})
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in filters])

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if self._connected:
            log.warning("mqtt disconnected: %s", reason)
        self._connected = False
        self.metrics.connected.set(0)

    # --- in -----------------------------------------------------------------------------------------

    def _on_message(self, client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.metrics.last_message.set(datetime.now(UTC).timestamp())
        if self._retry_later:
            return  # after an unstored message, later ones wait for the reconnect too (order kept)
        outcome = self.take(msg.topic, msg.payload)
        self.metrics.messages.labels(outcome).inc()
        if outcome == "retry":
            self._retry_later = True
            self.metrics.unacked.inc()
            return
        self._retry_delay = self.settings.reconnect_min_seconds
        client.ack(msg.mid, msg.qos)

    def take(self, topic: str, payload: bytes) -> str:
        """Store one message or refuse it to the dead-letter topic; 'retry' when it must come again."""
        binding = next(
            (b for b in self._bindings if mqtt.topic_matches_sub(b.route.subscription, topic)), None
        )
        if binding is None:
            return self._dead_letter(
                topic, payload, None, "no configured topic matches", "没有配置匹配该主题"
            )
        try:
            body = body_of(binding.route, topic, payload)
        except Malformed as exc:
            return self._dead_letter(topic, payload, binding, exc.en, exc.zh, exc.errors)
        try:
            with self.app.app_context():
                with transaction() as session:
                    principal = binding.acting.principal(session)
                outcome = ingest.push(
                    principal,
                    kind=binding.route.kind,
                    key=batch_key(binding.client.client_id, topic, payload),
                    body=body,
                    request_hash=service.fingerprint("MQTT", topic, body),
                )
        except Problem as exc:
            return self._dead_letter(
                topic, payload, binding, exc.en, exc.zh, exc.extra.get("errors"), exc.status
            )
        except SQLAlchemyError:
            log.exception("message on %s not stored; it will be delivered again", topic)
            return "retry"
        except (
            Exception
        ) as exc:  # never crash on one message: it is kept, with the reason, on the dead-letter topic
            log.exception("message on %s failed", topic)
            return self._dead_letter(
                topic, payload, binding, f"internal error: {type(exc).__name__}", "内部错误"
            )
        if outcome.body.get("refused"):
            # DC-01: readings the service would not judge are answered, not stored: the answer goes where a
            # refusal goes, so that the plant sees it.
            errors = {
                f"readings.{r['index']}.{r['field']}": [f"{r['message_zh']} / {r['message_en']}"]
                for r in outcome.body["refused"]
            }
            return self._dead_letter(
                topic, payload, binding, "readings refused, not judged", "读数被拒绝，未予判定", errors,
                outcome.status_code,
            )  # fmt: skip
        return "replayed" if outcome.replayed else "applied"

    def _dead_letter(
        self,
        topic: str,
        payload: bytes,
        binding: Binding | None,
        en: str,
        zh: str,
        errors: dict[str, Any] | None = None,
        status: int = 422,
    ) -> str:
        try:
            text, encoding = payload.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(payload).decode(), "base64"
        letter = {
            "topic": topic,
            "client_id": binding.client.client_id if binding else None,
            "kind": binding.route.kind if binding else None,
            "status": status,
            "reason_zh": zh,
            "reason_en": en,
            "errors": errors or {},
            "payload": text,
            "payload_encoding": encoding,
            "refused_at": datetime.now(UTC).isoformat(),
        }
        log.warning("message on %s refused to %s: %s", topic, self.settings.dead_letter_topic, en)
        # Queued before the acknowledgement on the same connection: a crash in between redelivers the message.
        self.client.publish(self.settings.dead_letter_topic, json.dumps(letter, ensure_ascii=False), qos=1)
        return "dead_letter"

    # --- out ----------------------------------------------------------------------------------------

    def _publish_loop(self) -> None:
        while not self.stopping.wait(self.settings.outbox_seconds):
            if not self._connected:
                continue
            try:
                self.publish_due()
            except SQLAlchemyError:
                log.exception("outbox unreachable; publishing resumes when the database answers")

    def publish_due(self) -> webhooks.DeliveryReport:
        """Publish what the outbox holds for this bridge's channels, in order per permit (DC-04)."""
        with self.app.app_context():
            cfg = service.settings()
            now = clock.now()
            report = webhooks.deliver_due(
                self.app.extensions["db_sessionmaker"],
                now,
                policy=webhooks.DeliveryPolicy.from_config(cfg),
                send=self._send,
                subscriptions=self._channels,
            )
            with transaction() as session:
                pending, oldest = webhooks.backlog(session, self._channels)
            self.metrics.outbox_pending.set(pending)
            self.metrics.outbox_lag.set((now - oldest).total_seconds() if oldest else 0)
        return report

    def _send(
        self, _url: str, body: bytes, _headers: dict[str, str], timeout: int
    ) -> tuple[int | None, str | None]:
        event = json.loads(body)
        with transaction() as session:
            place = place_of(session, event)
            summary = (
                area_summary(session, place.area, place.enterprise, event["at"])
                if place.area is not None
                else None
            )
        prefix = self.settings.events_prefix
        messages = [(place.topic(prefix), body, False)]
        if summary is not None:
            topic = place.summary_topic(prefix)
            assert topic is not None
            messages.append((topic, json.dumps(summary, ensure_ascii=False).encode(), True))
        for topic, payload, retain in messages:
            error = self._publish(topic, payload, retain, timeout)
            if error:
                self.metrics.published.labels("failed").inc()
                return None, error
        self.metrics.published.labels("published").inc()
        return 200, None

    def _publish(self, topic: str, payload: bytes, retain: bool, timeout: int) -> str | None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return f"publish to {topic} failed: {mqtt.error_string(info.rc)}"
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as exc:
            return f"publish to {topic} failed: {exc}"
        return None if info.is_published() else f"the broker did not acknowledge {topic} within {timeout} s"


def serve(app: Flask, settings: MqttSettings) -> None:
    """Run a bridge in the foreground until SIGTERM or SIGINT (the `mqtt-bridge` command)."""
    bridge = MqttBridge(app, settings)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("mqtt bridge stopping on signal %d", signum)
        bridge.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    bridge.run()
