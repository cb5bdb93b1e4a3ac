"""The bridges' configuration files (YAML or JSON): which integration client acts, what it listens to, where.

Secrets never sit in the file: it names the environment variables that hold them. A file that does not
describe a runnable bridge is refused at start with every problem listed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from permit_service.config import ConfigError
from permit_service.integrations.ingest import PUSHES

# A topic pattern's named level: `plant/gas/{detector}` subscribes to `plant/gas/+` and reads the level.
_NAMED_LEVEL = re.compile(r"^\{([a-z_]+)\}$")
# What a topic level may name: the fields of the items the HTTP feeds take.
TOPIC_FIELDS = frozenset({"detector", "area_code", "card_id"})


def from_env(name: str | None) -> str | None:
    """The value of the environment variable a configuration names (secrets never sit in the file)."""
    return os.environ.get(name) if name else None


@dataclass(frozen=True)
class Tls:
    """TLS to the broker: CA bundle, optional client certificate and key (mutual TLS)."""

    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None


@dataclass(frozen=True)
class Route:
    """A topic pattern, the kind of push its messages are, and the item fields its named levels give."""

    pattern: str
    kind: str
    levels: tuple[str | None, ...]  # per topic level: the item field it names, or None

    @property
    def subscription(self) -> str:
        """The MQTT filter subscribed to: named levels become `+`."""
        return "/".join(
            "+" if name else level for level, name in zip(self.pattern.split("/"), self.levels, strict=True)
        )

    def fields_of(self, topic: str) -> dict[str, str]:
        """The item fields a concrete topic gives (the topic matched `subscription`)."""
        return {name: value for name, value in zip(self.levels, topic.split("/"), strict=False) if name}


@dataclass(frozen=True)
class ClientRoutes:
    """An integration client the bridge acts for, its secret's environment variable and its topics."""

    client_id: str
    secret_env: str
    routes: tuple[Route, ...]

    def secret(self) -> str:
        """The client's secret, from the environment."""
        return from_env(self.secret_env) or ""


@dataclass(frozen=True)
class Health:
    """Where the bridge's own /metrics and /readyz listen (port 0: any free port)."""

    host: str = "127.0.0.1"
    port: int = 9108


@dataclass(frozen=True)
class MqttSettings:
    """An MQTT bridge: broker, persistent session, dead-letter topic, published events and the clients."""

    host: str
    port: int
    session_id: str
    clients: tuple[ClientRoutes, ...]
    session_expiry_seconds: int = 7 * 24 * 3600
    keepalive_seconds: int = 30
    username_env: str | None = None
    password_env: str | None = None
    tls: Tls | None = None
    dead_letter_topic: str = "permit-service/dead-letter"
    events_prefix: str = "permits"
    event_kinds: tuple[str, ...] = ("permit.*", "presence.*", "alarm.*")
    reconnect_min_seconds: float = 1.0
    reconnect_max_seconds: float = 60.0
    outbox_seconds: float = 1.0
    health: Health = field(default_factory=Health)

    @property
    def channel_url(self) -> str:
        """The outbox channel this bridge publishes from: one webhook subscription per client, by this URL."""
        return f"mqtt://{self.host}:{self.port}/{self.events_prefix}"

    def credentials(self) -> tuple[str | None, str | None]:
        """Broker username and password, from the environment."""
        return from_env(self.username_env), from_env(self.password_env)


@dataclass(frozen=True)
class Tag:
    """An OPC UA node read as a detector's value."""

    node_id: str
    detector: str


@dataclass(frozen=True)
class OpcuaSettings:
    """An OPC UA reader: server, security, the acting client, its tags and how often they are read."""

    endpoint: str
    client_id: str
    secret_env: str
    tags: tuple[Tag, ...]
    poll_seconds: float = 5.0
    heartbeat_seconds: float = 60.0
    timeout_seconds: float = 5.0
    security: str | None = (
        None  # asyncua's security string, e.g. "Basic256Sha256,SignAndEncrypt,cert.pem,key.pem"
    )
    username_env: str | None = None
    password_env: str | None = None
    health: Health = field(default_factory=lambda: Health(port=9109))

    def secret(self) -> str:
        """The integration client's secret, from the environment."""
        return from_env(self.secret_env) or ""

    def credentials(self) -> tuple[str | None, str | None]:
        """The OPC UA user name and password, from the environment."""
        return from_env(self.username_env), from_env(self.password_env)


def read_file(path: str | Path) -> dict[str, Any]:
    """A YAML or JSON configuration file as a mapping (JSON is YAML)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read bridge configuration {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"bridge configuration {path} must be a mapping")
    return data


def _route(raw: Any, where: str, problems: list[str]) -> Route | None:
    if not isinstance(raw, Mapping) or "pattern" not in raw or "kind" not in raw:
        problems.append(f"{where}: needs pattern and kind")
        return None
    pattern, kind = str(raw["pattern"]), str(raw["kind"])
    if kind not in PUSHES:
        problems.append(f"{where}.kind: {kind!r} is not one of {', '.join(sorted(PUSHES))}")
    levels: list[str | None] = []
    for level in pattern.split("/"):
        named = _NAMED_LEVEL.match(level)
        if named and named.group(1) not in TOPIC_FIELDS:
            problems.append(f"{where}.pattern: {{{named.group(1)}}} is not one of {sorted(TOPIC_FIELDS)}")
        elif not named and ("{" in level or "}" in level):
            problems.append(f"{where}.pattern: {level!r} is neither a topic level nor {{field}}")
        levels.append(named.group(1) if named else None)
    if "#" in pattern and not pattern.endswith("#"):
        problems.append(f"{where}.pattern: '#' may only end a pattern")
    return Route(pattern, kind, tuple(levels))


def _health(raw: Any, default: Health) -> Health:
    raw = raw or {}
    return Health(host=str(raw.get("host", default.host)), port=int(raw.get("port", default.port)))


def _refuse(problems: list[str], what: str) -> None:
    if problems:
        raise ConfigError(f"{what} configuration refused:\n  " + "\n  ".join(problems))


def mqtt_settings(data: Mapping[str, Any]) -> MqttSettings:
    """Build and check an MQTT bridge's settings from its file's mapping."""
    problems: list[str] = []
    broker = data.get("broker") or {}
    if not broker.get("session_id"):
        problems.append("broker.session_id: required (the MQTT client id the persistent session lives under)")
    clients = []
    for i, raw in enumerate(data.get("clients") or []):
        if not raw.get("client_id") or not raw.get("secret_env"):
            problems.append(f"clients.{i}: needs client_id and secret_env")
            continue
        routes = [
            _route(r, f"clients.{i}.topics.{j}", problems) for j, r in enumerate(raw.get("topics") or [])
        ]
        if not routes:
            problems.append(f"clients.{i}.topics: at least one topic")
        clients.append(
            ClientRoutes(str(raw["client_id"]), str(raw["secret_env"]), tuple(r for r in routes if r))
        )
    if not clients:
        problems.append("clients: at least one integration client")
    _refuse(problems, "MQTT bridge")
    tls = broker.get("tls")
    events = data.get("events") or {}
    return MqttSettings(
        host=str(broker.get("host", "127.0.0.1")),
        port=int(broker.get("port", 8883 if tls else 1883)),
        session_id=str(broker["session_id"]),
        clients=tuple(clients),
        session_expiry_seconds=int(broker.get("session_expiry_seconds", 7 * 24 * 3600)),
        keepalive_seconds=int(broker.get("keepalive_seconds", 30)),
        username_env=broker.get("username_env"),
        password_env=broker.get("password_env"),
        tls=Tls(**{k: tls.get(k) for k in ("ca_certs", "certfile", "keyfile")}) if tls else None,
        dead_letter_topic=str(data.get("dead_letter_topic", "permit-service/dead-letter")),
        events_prefix=str(events.get("topic_prefix", "permits")),
        event_kinds=tuple(events.get("event_kinds", ("permit.*", "presence.*", "alarm.*"))),
        reconnect_min_seconds=float(broker.get("reconnect_min_seconds", 1.0)),
        reconnect_max_seconds=float(broker.get("reconnect_max_seconds", 60.0)),
        outbox_seconds=float(events.get("poll_seconds", 1.0)),
        health=_health(data.get("health"), Health()),
    )


def opcua_settings(data: Mapping[str, Any]) -> OpcuaSettings:
    """Build and check an OPC UA reader's settings from its file's mapping."""
    problems: list[str] = []
    server = data.get("server") or {}
    if not server.get("endpoint"):
        problems.append("server.endpoint: required, e.g. opc.tcp://dcs.example:4840")
    client = data.get("client") or {}
    if not client.get("client_id") or not client.get("secret_env"):
        problems.append("client: needs client_id and secret_env")
    tags = []
    for i, raw in enumerate(data.get("tags") or []):
        if not isinstance(raw, Mapping) or not raw.get("node_id") or not raw.get("detector"):
            problems.append(f"tags.{i}: needs node_id and detector")
            continue
        tags.append(Tag(str(raw["node_id"]), str(raw["detector"])))
    if not tags:
        problems.append("tags: at least one node id mapped to a detector code")
    _refuse(problems, "OPC UA reader")
    return OpcuaSettings(
        endpoint=str(server["endpoint"]),
        client_id=str(client["client_id"]),
        secret_env=str(client["secret_env"]),
        tags=tuple(tags),
        poll_seconds=float(data.get("poll_seconds", 5.0)),
        heartbeat_seconds=float(data.get("heartbeat_seconds", 60.0)),
        timeout_seconds=float(server.get("timeout_seconds", 5.0)),
        security=server.get("security"),
        username_env=server.get("username_env"),
        password_env=server.get("password_env"),
        health=_health(data.get("health"), Health(port=9109)),
    )
