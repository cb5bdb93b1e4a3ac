"""Signed webhooks out through a transactional outbox (DC-04).

Every recorded event is matched against the active subscriptions of its enterprise (or, for a regional
event such as a freeze, of every enterprise in the region) and one outbox row per match is written in the
event's own transaction: a crash between commit and delivery loses nothing. Regulators' platforms subscribe to
their region's events too; their rows are written at commit, with the feed's payload (permit_service.feed.push). `deliver_due` sends what is
due, one row per short transaction, oldest event first, never event n+1 of a permit while event n is
still pending for that subscription; it retries with exponential back-off and jitter and marks a delivery
failed after the last attempt (it can be replayed). Bodies are signed with HMAC-SHA256 over
`timestamp + "." + body`, sent as `X-Permit-Signature: t=<unix seconds>,v1=<hex digest>`.

Receivers are plant portals, usually on the plant's private LAN, so private ranges are reachable; loopback,
link-local, multicast, unspecified, the service host's own and reserved addresses (every other range that is not
global: documentation, benchmarking, 240/4) are refused unless `WEBHOOK_ALLOWED_NETWORKS`
names them. Cloud metadata services are refused always, the allow-list notwithstanding: not all of them are link-local
(Alibaba Cloud answers on 100.100.100.200, AWS on fd00:ec2::254 over IPv6). An IPv6 address that carries an IPv4
one (IPv4-mapped, 6to4, Teredo) is judged by the IPv4 address. The check runs when a subscription is made and again
on every delivery, against the addresses the connection actually uses (a host name may resolve elsewhere later).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import http.client
import ipaddress
import json
import random
import socket
import urllib.error
import urllib.request
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, aliased, sessionmaker

from permit_service import clock
from permit_service.audit import service as audit
from permit_service.audit.models import Event
from permit_service.auth.principal import Principal, enterprise_scope, region_subtree
from permit_service.config import Config
from permit_service.db import is_postgres
from permit_service.directory.models import Enterprise
from permit_service.errors import Conflict, NotFound, ValidationProblem
from permit_service.feed.models import FeedCounter
from permit_service.integrations.models import WebhookDelivery, WebhookSubscription
from permit_service.integrations.service import settings

SIGNATURE_HEADER = "X-Permit-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300  # receivers refuse signatures older than this (replay window)


# --- signing ---------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: str) -> str:
    """The signature header value for a body sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str, header: str, body: str, now: datetime, tolerance: int = SIGNATURE_TOLERANCE_SECONDS
) -> bool:
    """What a receiver does: recompute the digest, compare in constant time, refuse stale timestamps."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now.timestamp() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


# --- receiver addresses ----------------------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # "this host on this network": connects locally on Linux
# The ranges that are not global but where plant portals live (RFC 1918, shared address space, unique local);
# any other non-global address (documentation, benchmarking, 240/4) is reserved.
_PLANT_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)

# Cloud instance metadata and platform endpoints: they hand out credentials to whoever asks from the instance,
# so no allow-list opens them. Several are outside link-local (100.64/10 shared space, ULA, public addresses).
CLOUD_METADATA: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, Azure, GCP, Huawei Cloud, Oracle, OpenStack, DigitalOcean, Baidu
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS Pod Identity
        "169.254.0.23",  # Tencent Cloud
        "100.100.100.200",  # Alibaba Cloud ECS (100.64.0.0/10, otherwise reachable)
        "168.63.129.16",  # Azure WireServer (a public address)
        "192.0.0.192",  # Oracle Cloud Classic
        "fd00:ec2::254",  # AWS, over IPv6 (a unique local address, otherwise reachable)
        "fd00:ec2::23",  # AWS EKS Pod Identity, over IPv6
        "fd20:ce::254",  # GCP, over IPv6
    )
)


class ReceiverRefused(OSError):
    """A receiver address webhooks do not reach: the cloud's metadata, or the service's own host unless allowed."""


def allowed_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    """The configured allow-list as networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def _carried_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries and leads to (IPv4-mapped, 6to4, Teredo client), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if address.sixtofour is not None:
            return address.sixtofour  # 2002:a9fe:a9fe::1 is routed to 169.254.169.254
        if address.teredo is not None:
            return address.teredo[1]  # (server, client): the client is where the packets end up
    return address


def refusal(address: IPAddress, allowed: Sequence[Network] = ()) -> str | None:
    """Why a receiver at `address` is refused, or None; cloud metadata is refused whatever the allow-list says."""
    carried = _carried_ipv4(address)
    shown = str(carried) if carried == address else f"{address} (carrying {carried})"
    if carried in CLOUD_METADATA or address in CLOUD_METADATA:
        return f"{shown} is a cloud metadata address"
    if _in_any(carried, allowed):
        return None
    for reason, refused in (
        ("a loopback address", carried.is_loopback),
        ("a link-local address", carried.is_link_local),
        ("a multicast address", carried.is_multicast),
        ("an unspecified address", carried.is_unspecified or carried in _THIS_NETWORK),
        ("an address of the service's own host", bool({address, carried} & host_addresses())),
        ("a reserved address", not carried.is_global and not _in_any(carried, _PLANT_NETWORKS)),
    ):
        if refused:
            return f"{shown} is {reason}"
    return None


def _in_any(address: IPAddress, networks: Sequence[Network]) -> bool:
    return any(address in network for network in networks)


def host_addresses() -> frozenset[IPAddress]:
    """The addresses of this host's network interfaces, read on each check (interfaces come and go)."""
    import psutil  # imported where webhooks are subscribed or delivered, not by every worker (issue 14)

    return frozenset(
        ipaddress.ip_address(entry.address.split("%")[0])
        for entries in psutil.net_if_addrs().values()
        for entry in entries
        if entry.family in (socket.AF_INET, socket.AF_INET6)
    )


def _resolve(host: str, port: int) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv6 link-local address comes back with its zone ("fe80::1%eth0"); the zone is not part of the address.
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


def vetted_addresses(host: str, port: int, allowed: Sequence[Network]) -> list[IPAddress]:
    """The addresses `host` resolves to, all acceptable; ReceiverRefused if any is not.

    socket.gaierror if the name does not resolve (an OSError: at delivery, a failed attempt like any other).
    """
    addresses = _resolve(host, port)
    for address in addresses:
        reason = refusal(address, allowed)
        if reason is not None:
            raise ReceiverRefused(f"receiver {host} refused: {reason}")
    return addresses


def check_receiver_url(url: str, allowed: Sequence[Network]) -> None:
    """At subscription: 422 if the URL's host resolves to a refused address.

    A name that does not resolve from here yet is accepted: nothing can be sent to it, and every delivery
    checks the addresses it connects to.
    """
    parts = urlsplit(url)
    try:
        vetted_addresses(
            parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), allowed
        )
    except (socket.gaierror, UnicodeError):
        return
    except ReceiverRefused as exc:
        raise ValidationProblem(
            {
                "url": [
                    "接收地址不得为云元数据服务、本机回环、链路本地、组播、未指定、本服务主机或保留地址 / "
                    f"the receiver must not be a cloud metadata, loopback, link-local, multicast, unspecified, "
                    f"own-host or reserved address: {exc}"
                ]
            }
        ) from None


def _connect_vetted(
    address: tuple[str, int], timeout: float | None, source_address: Any = None, *, allowed: Sequence[Network]
) -> socket.socket:
    """socket.create_connection to a vetted address: the address checked is the address connected to."""
    host, port = address
    last: OSError = ReceiverRefused(f"{host} has no address")
    for ip in vetted_addresses(host, port, allowed):
        try:
            return socket.create_connection((str(ip), port), timeout, source_address)
        except OSError as exc:
            last = exc
    raise last


def _vetted_connection(
    cls: type[http.client.HTTPConnection], allowed: Sequence[Network], host: str, **kwargs: Any
) -> http.client.HTTPConnection:
    connection = cls(host, **kwargs)
    # http.client opens its socket through this attribute; HTTPS still verifies the certificate of `host`.
    connection._create_connection = functools.partial(_connect_vetted, allowed=allowed)  # type: ignore[attr-defined]
    return connection


class _VettedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allowed: Sequence[Network]) -> None:
        super().__init__()
        self.allowed = allowed

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(
            functools.partial(_vetted_connection, http.client.HTTPConnection, self.allowed), req
        )


class _VettedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allowed: Sequence[Network]) -> None:
        super().__init__()
        self.allowed = allowed

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(
            functools.partial(_vetted_connection, http.client.HTTPSConnection, self.allowed),
            req,
            context=self._context,  # type: ignore[attr-defined]
        )


MQTT_SCHEME = "mqtt://"  # a subscription published by an MQTT bridge, never POSTed

# --- subscriptions ---------------------------------------------------------------------------------


def matches(patterns: Sequence[str], kind: str) -> bool:
    """Whether an event kind is one a subscription asked for: exact, `prefix.*` or `*`."""
    return any(p == "*" or p == kind or (p.endswith(".*") and kind.startswith(p[:-1])) for p in patterns)


def create_subscription(
    session: Session, *, principal: Principal, data: dict[str, Any]
) -> WebhookSubscription:
    """Subscribe a receiver to event kinds: a plant portal of the caller's enterprise, or a regulator's platform to
    its region's events, optionally only some enterprises' (credit codes) or risk grades'."""
    platform = principal.is_regulator_platform
    if not platform and principal.enterprise_id is None:
        raise Conflict(
            "只有企业、其接入账户或监管平台可以订阅",
            "Only an enterprise, its integration account or a regulator's platform subscribes",
        )
    filters = {name: data[name] for name in ("enterprises", "risk_grades") if data.get(name)}
    if filters and not platform:
        raise ValidationProblem(
            {
                name: ["只有监管平台按企业或风险等级筛选 / only a regulator's platform filters so"]
                for name in filters
            }
        )
    check_receiver_url(data["url"], allowed_networks(settings().webhook_allowed_networks))
    if platform:
        scope = _platform_scope(session, principal, filters.get("enterprises"), filters.get("risk_grades"))
    else:
        scope = {"enterprise_id": principal.enterprise_id}
    return _subscribe(
        session, principal, url=data["url"], secret=data["secret"], event_kinds=data["event_kinds"],
        description=data.get("description", ""), **scope,
    )  # fmt: skip


def _platform_scope(
    session: Session, principal: Principal, codes: Sequence[str] | None, grades: Sequence[str] | None
) -> dict[str, Any]:
    """A platform subscription's region, client and filters, and the feed position its pushes start after."""
    codes = sorted(set(codes or [])) or None
    if codes:
        known = set(
            session.scalars(
                sa.select(Enterprise.credit_code).where(
                    Enterprise.credit_code.in_(codes), enterprise_scope(session, principal, Enterprise.id)
                )
            )
        )
        if unknown := [code for code in codes if code not in known]:
            raise ValidationProblem(
                {
                    "enterprises": [
                        f"本辖区没有这些企业 / no such enterprise in your region: {', '.join(unknown)}"
                    ]
                }
            )
    return {
        "region_id": principal.region_id,
        "client_id": uuid.UUID(principal.id),
        "enterprise_codes": codes,
        "risk_grades": sorted(set(grades or [])) or None,
        "feed_cursor": _count_platform_subscriptions(session, 1),
    }


def _count_platform_subscriptions(session: Session, delta: int) -> int:
    """Change the feed counter's count of active platform subscriptions; returns the last feed position given.

    This locks the counter row until commit, so no event commits in between: every event after the position
    returned commits after this subscription and is matched against it (feed.push), none before it is. That
    position is where a new subscription's pushes start: the feed holds everything up to it (backfill).
    """
    insert = pg_insert if is_postgres(session) else sqlite_insert
    upsert = insert(FeedCounter).values(id=1, last_position=0, platform_subscriptions=max(delta, 0))
    return session.execute(
        upsert.on_conflict_do_update(
            index_elements=[FeedCounter.id],
            set_={"platform_subscriptions": FeedCounter.__table__.c.platform_subscriptions + delta},
        ).returning(FeedCounter.last_position)
    ).scalar_one()


def _subscribe(
    session: Session,
    principal: Principal,
    *,
    url: str,
    secret: str,
    event_kinds: Sequence[str],
    description: str,
    **scope: Any,
) -> WebhookSubscription:
    sub = WebhookSubscription(
        id=uuid.uuid4(),
        url=url,
        secret=secret,
        event_kinds=sorted(set(event_kinds)),
        description=description,
        created_by=principal.id,
        created_at=clock.now(),
        **scope,
    )
    session.add(sub)
    session.flush()
    _record(session, principal, "webhook.subscribed", sub)
    return sub


def ensure_channel(
    session: Session, *, principal: Principal, url: str, event_kinds: Sequence[str]
) -> WebhookSubscription:
    """The active MQTT channel of the caller's enterprise at `url`, opened if there is none (DC-04).

    A channel is a subscription whose deliveries an MQTT bridge publishes instead of POSTing: the same
    outbox rows, written in the event's transaction, ordered per permit, leased and retried alike.
    """
    if not url.startswith(MQTT_SCHEME) or principal.enterprise_id is None:
        raise ValueError("an MQTT channel needs an mqtt:// address and an enterprise's client")
    sub = session.scalar(
        sa.select(WebhookSubscription).where(
            WebhookSubscription.enterprise_id == principal.enterprise_id,
            WebhookSubscription.url == url,
            WebhookSubscription.active.is_(True),
        )
    )
    if sub is None:
        # Nothing to sign: the broker's authentication and TLS protect the channel.
        return _subscribe(
            session, principal, url=url, secret="", event_kinds=event_kinds, description="MQTT bridge",
            enterprise_id=principal.enterprise_id,
        )  # fmt: skip
    if sorted(set(event_kinds)) != sub.event_kinds:
        sub.event_kinds = sorted(set(event_kinds))
        session.flush()
        _record(session, principal, "webhook.updated", sub)
    return sub


def backlog(session: Session, subscriptions: Sequence[uuid.UUID]) -> tuple[int, datetime | None]:
    """How many deliveries of these subscriptions are pending, and when the oldest was queued (lag)."""
    pending = sa.select(WebhookDelivery.created_at).where(
        WebhookDelivery.subscription_id.in_(subscriptions), WebhookDelivery.status == "pending"
    )
    count = session.scalar(sa.select(sa.func.count()).select_from(pending.subquery())) or 0
    # The column, not min() over it: the column's type gives an aware UTC datetime on every backend.
    oldest = session.scalar(pending.order_by(WebhookDelivery.created_at).limit(1))
    return count, oldest


def _owned(session: Session, principal: Principal) -> sa.ColumnElement[bool]:
    """The subscriptions the caller manages: its platform's own, or its enterprise's."""
    if principal.is_regulator_platform:
        return WebhookSubscription.client_id == uuid.UUID(principal.id)
    return enterprise_scope(session, principal, WebhookSubscription.enterprise_id)


def get_subscription(
    session: Session, *, principal: Principal, subscription_id: uuid.UUID, for_update: bool = False
) -> WebhookSubscription:
    """A subscription the caller manages (404 otherwise)."""
    stmt = sa.select(WebhookSubscription).where(
        WebhookSubscription.id == subscription_id, _owned(session, principal)
    )
    sub = session.scalar(stmt.with_for_update() if for_update else stmt)
    if sub is None:
        raise NotFound("订阅不存在", "No such subscription")
    return sub


def list_subscriptions(session: Session, *, principal: Principal) -> sa.Select:
    """The caller's subscriptions, as a statement to paginate."""
    return sa.select(WebhookSubscription).where(_owned(session, principal))


def deactivate_subscription(session: Session, *, principal: Principal, subscription_id: uuid.UUID) -> None:
    """Stop a subscription (kept, with its deliveries, for the record)."""
    _deactivate(
        session,
        principal,
        get_subscription(session, principal=principal, subscription_id=subscription_id, for_update=True),
    )


def deactivate_platform_subscriptions(
    session: Session, *, principal: Principal, client_id: uuid.UUID
) -> None:
    """Stop every subscription of a platform client that is being deactivated."""
    subs = session.scalars(
        sa.select(WebhookSubscription)
        .where(WebhookSubscription.client_id == client_id, WebhookSubscription.active.is_(True))
        .with_for_update()
    )
    for sub in subs:
        _deactivate(session, principal, sub)


def _deactivate(session: Session, principal: Principal, sub: WebhookSubscription) -> None:
    if sub.active:
        sub.active = False
        session.flush()
        if sub.region_id is not None:
            _count_platform_subscriptions(session, -1)
        _record(session, principal, "webhook.unsubscribed", sub)


def _record(session: Session, principal: Principal, kind: str, sub: WebhookSubscription) -> None:
    data: dict[str, Any] = {"url": sub.url, "event_kinds": sub.event_kinds}
    if sub.region_id is not None:
        data.update(
            enterprises=sub.enterprise_codes, risk_grades=sub.risk_grades, feed_cursor=sub.feed_cursor
        )
    audit.record(
        session,
        kind=kind,
        actor=principal,
        subject_type="webhook_subscription",
        subject_id=sub.id,
        enterprise_id=sub.enterprise_id,
        region_id=sub.region_id,
        data=data,
    )


# --- the outbox ------------------------------------------------------------------------------------


def ordering_key(event: Event) -> str:
    """Deliveries are ordered per permit; other subjects are ordered per subject."""
    if event.subject_type == "permit":
        return event.subject_id
    permit_id = (event.data or {}).get("permit_id")
    return str(permit_id) if permit_id else f"{event.subject_type}:{event.subject_id}"


def payload(event: Event) -> str:
    """The JSON body delivered for an event (fixed when the event is recorded; identical on every retry)."""
    return json.dumps(
        {
            "event_id": event.id,
            "kind": event.kind,
            "at": event.at.isoformat(),
            "subject_type": event.subject_type,
            "subject_id": event.subject_id,
            "enterprise_id": str(event.enterprise_id) if event.enterprise_id else None,
            "region_id": str(event.region_id) if event.region_id else None,
            "actor_id": event.actor_id,
            "data": event.data,
            "hash": event.hash,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


# Regulators' own wiring: their platforms' clients and subscriptions are no business of the region's plant portals.
_REGULATOR_WIRING = ("integration_client", "webhook_subscription")


class _Subscriber(NamedTuple):
    """What matching an event and queueing its delivery read of an active subscription."""

    id: uuid.UUID
    event_kinds: list[str]


# Per database: the active subscriptions of plant portals by enterprise, as of a webhook generation (0025).
_by_enterprise: weakref.WeakKeyDictionary[Engine, tuple[int, dict[uuid.UUID, list[_Subscriber]]]] = (
    weakref.WeakKeyDictionary()
)
# session.info key: the subscriptions this transaction read, kept for the process once it has committed
_READ = "webhook_subscribers_read"


def _enterprise_subscribers(session: Session, generation: int) -> dict[uuid.UUID, list[_Subscriber]]:
    """The plant portals' active subscriptions by enterprise at `generation`: read once per generation and process.

    What a transaction read is kept only once it has committed: a rolled-back change of subscriptions never
    leaves its generation's number behind with subscriptions that never were.
    """
    engine = session.get_bind()
    known = _by_enterprise.get(engine)
    if known is not None and known[0] == generation:
        return known[1]
    found: dict[uuid.UUID, list[_Subscriber]] = {}
    rows = session.execute(
        sa.select(WebhookSubscription.enterprise_id, WebhookSubscription.id, WebhookSubscription.event_kinds)
        .where(WebhookSubscription.active.is_(True), WebhookSubscription.enterprise_id.is_not(None))
        .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
    )
    for row in rows:
        found.setdefault(row.enterprise_id, []).append(_Subscriber(row.id, row.event_kinds))
    session.info[_READ] = (engine, generation, found)
    return found


@sa_event.listens_for(Session, "after_commit")
def _keep_read(session: Session) -> None:
    read = session.info.pop(_READ, None)
    if read is not None:
        engine, generation, found = read
        _by_enterprise[engine] = (generation, found)


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_read(session: Session, _previous: Any) -> None:
    session.info.pop(_READ, None)


def _subscriptions_for(session: Session, event: Event, generation: int) -> Sequence[_Subscriber]:
    if event.enterprise_id is not None:
        subs: Sequence[_Subscriber] = _enterprise_subscribers(session, generation).get(
            event.enterprise_id, []
        )
    elif event.region_id is not None and event.subject_type not in _REGULATOR_WIRING:
        # A regional event (a freeze) concerns every enterprise of the region and below.
        regions = region_subtree(session, event.region_id)
        subs = session.scalars(
            sa.select(WebhookSubscription).where(
                WebhookSubscription.active.is_(True),
                WebhookSubscription.enterprise_id.in_(
                    sa.select(Enterprise.id).where(Enterprise.region_id.in_(regions))
                ),
            )
        ).all()
    else:
        return []
    return [s for s in subs if matches(s.event_kinds, event.kind)]


def enqueue(session: Session, events: Sequence[Event], generation: int) -> None:
    """Write one outbox row per matching plant portal's subscription, in the events' own transaction (DC-04).

    Called as the transaction commits, under the feed counter's lock, with the webhook generation read there
    (feed.positions): a subscription committed before this commit is matched, and nothing is looked up while no
    subscription has changed since this process last read them.
    """
    for event in events:
        subs = _subscriptions_for(session, event, generation)
        if subs:
            queue(session, event, subs, payload(event))


def queue(
    session: Session, event: Event, subs: Sequence[WebhookSubscription | _Subscriber], body: str
) -> None:
    """Write the outbox rows that deliver `body` about `event` to each subscription, in the open transaction."""
    key = ordering_key(event)
    session.execute(
        sa.insert(WebhookDelivery),
        [
            {
                "subscription_id": s.id, "event_id": event.id, "event_kind": event.kind, "ordering_key": key,
                "body": body, "status": "pending", "attempts": 0, "next_attempt_at": event.at,
                "created_at": event.at,
            }
            for s in subs
        ],
    )  # fmt: skip


# --- delivery --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryPolicy:
    """How deliveries are attempted: timeout, attempts, back-off, and the lease a claimed row holds."""

    timeout_seconds: int = 5
    max_attempts: int = 12
    backoff_base_seconds: int = 30
    backoff_max_seconds: int = 6 * 3600
    lease_seconds: int = 120
    allowed_networks: tuple[Network, ...] = ()  # refused ranges that may be reached anyway (dev, demo, tests)

    @classmethod
    def from_config(cls, cfg: Config) -> DeliveryPolicy:
        """The policy configured for the service (see `permit_service.config`)."""
        return cls(
            timeout_seconds=cfg.webhook_timeout_seconds,
            max_attempts=cfg.webhook_max_attempts,
            backoff_base_seconds=cfg.webhook_backoff_base_seconds,
            backoff_max_seconds=cfg.webhook_backoff_max_seconds,
            lease_seconds=max(cfg.webhook_timeout_seconds * 4, 60),
            allowed_networks=allowed_networks(cfg.webhook_allowed_networks),
        )

    def backoff(self, attempts: int) -> timedelta:
        """Exponential back-off with equal jitter: half the delay fixed, half random."""
        delay = min(self.backoff_base_seconds * 2 ** (attempts - 1), self.backoff_max_seconds)
        return timedelta(seconds=delay / 2 + random.uniform(0, delay / 2))  # noqa: S311 - jitter, not crypto


@dataclass(frozen=True)
class Attempt:
    """A claimed delivery, carried out of its transaction to be sent."""

    id: uuid.UUID
    url: str
    secret: str
    body: str
    event_id: int
    event_kind: str
    attempts: int


@dataclass
class DeliveryReport:
    """What one `deliver_due` run did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0


Sender = Callable[[str, bytes, dict[str, str], int], tuple[int | None, str | None]]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer we do not follow: the subscription names the receiver


def http_post(
    url: str, body: bytes, headers: dict[str, str], timeout: int, allowed: Sequence[Network] = ()
) -> tuple[int | None, str | None]:
    """POST the body to a vetted address; returns (status code, error) - no status when it was not reached.

    No proxy from the environment: a proxy would reach, on our behalf, the addresses refused here.
    """
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _NoRedirect,
        _VettedHTTPHandler(allowed),
        _VettedHTTPSHandler(allowed),
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc))[:500]


def _channel(subscriptions: Sequence[uuid.UUID] | None) -> sa.ColumnElement[bool]:
    """The deliveries a run sends: to the given (MQTT) channels, or by default to every HTTP receiver."""
    if subscriptions is None:
        return ~WebhookSubscription.url.startswith(MQTT_SCHEME)
    return WebhookSubscription.id.in_(subscriptions)


def _claim(
    session_factory: sessionmaker[Session],
    now: datetime,
    policy: DeliveryPolicy,
    subscriptions: Sequence[uuid.UUID] | None = None,
) -> Attempt | None:
    """Take the next due delivery whose permit has nothing earlier pending, and lease it."""
    earlier = aliased(WebhookDelivery)
    blocked = (
        sa.select(earlier.id)
        .where(
            earlier.subscription_id == WebhookDelivery.subscription_id,
            earlier.ordering_key == WebhookDelivery.ordering_key,
            earlier.status == "pending",
            sa.or_(
                earlier.event_id < WebhookDelivery.event_id,
                sa.and_(
                    earlier.event_id == WebhookDelivery.event_id,
                    earlier.created_at < WebhookDelivery.created_at,
                ),
            ),
        )
        .exists()
    )
    stmt = (
        sa.select(WebhookDelivery, WebhookSubscription)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            WebhookSubscription.active.is_(True),
            _channel(subscriptions),
            ~blocked,
        )
        .order_by(WebhookDelivery.event_id, WebhookDelivery.created_at)
        .limit(1)
    )
    with session_factory() as session, session.begin():
        if is_postgres(session):
            stmt = stmt.with_for_update(of=WebhookDelivery, skip_locked=True)
        row = session.execute(stmt).first()
        if row is None:
            return None
        delivery, sub = row
        delivery.attempts += 1
        delivery.last_attempt_at = now
        # The lease: if this process dies before settling, the row is due again when the lease ends.
        delivery.next_attempt_at = now + timedelta(seconds=policy.lease_seconds)
        return Attempt(
            delivery.id,
            sub.url,
            sub.secret,
            delivery.body,
            delivery.event_id,
            delivery.event_kind,
            delivery.attempts,
        )


def _settle(
    session_factory: sessionmaker[Session],
    attempt: Attempt,
    result: tuple[int | None, str | None],
    now: datetime,
    policy: DeliveryPolicy,
) -> str:
    status_code, error = result
    with session_factory() as session, session.begin():
        delivery = session.get(WebhookDelivery, attempt.id, with_for_update=True)
        assert delivery is not None  # outbox rows are never deleted
        delivery.last_status_code = status_code
        if status_code is not None and 200 <= status_code < 300:
            delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
        elif delivery.attempts >= policy.max_attempts:
            delivery.status, delivery.last_error = "failed", error
        else:
            delivery.next_attempt_at, delivery.last_error = now + policy.backoff(delivery.attempts), error
        return delivery.status if delivery.status != "pending" else "retrying"


def deliver_due(
    session_factory: sessionmaker[Session],
    now: datetime,
    *,
    limit: int = 500,
    policy: DeliveryPolicy | None = None,
    send: Sender | None = None,
    subscriptions: Sequence[uuid.UUID] | None = None,
) -> DeliveryReport:
    """Deliver what is due at `now`, each row claimed and settled in its own short transaction (DC-04).

    Safe to run in several processes at once: rows are claimed with FOR UPDATE SKIP LOCKED (PostgreSQL)
    and leased, and the receiver is called outside any transaction. `subscriptions`: only those channels
    (an MQTT bridge's own); by default every HTTP subscription and never an MQTT channel.
    """
    policy = policy or DeliveryPolicy.from_config(settings())
    send = send or functools.partial(http_post, allowed=policy.allowed_networks)
    report = DeliveryReport()
    for _ in range(limit):
        attempt = _claim(session_factory, now, policy, subscriptions)
        if attempt is None:
            break
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "permit-service-webhooks/1",
            "X-Permit-Event": attempt.event_kind,
            "X-Permit-Event-Id": str(attempt.event_id),
            "X-Permit-Delivery": str(attempt.id),
            SIGNATURE_HEADER: sign(attempt.secret, timestamp, attempt.body),
        }
        outcome = _settle(
            session_factory, attempt, send(attempt.url, attempt.body.encode(), headers, policy.timeout_seconds), now,
            policy,
        )  # fmt: skip
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


# --- receivers' view -------------------------------------------------------------------------------


def list_deliveries(
    session: Session, *, principal: Principal, subscription_id: uuid.UUID, status: str | None
) -> sa.Select:
    """Deliveries of one subscription of the caller's enterprise, as a statement to paginate."""
    sub = get_subscription(session, principal=principal, subscription_id=subscription_id)
    stmt = sa.select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
    return stmt.where(WebhookDelivery.status == status) if status else stmt


def replay(session: Session, *, principal: Principal, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Queue a delivery again (same body, same event) as a new outbox row."""
    original = session.scalar(
        sa.select(WebhookDelivery)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.id == delivery_id, _owned(session, principal))
    )
    if original is None:
        raise NotFound("投递记录不存在", "No such delivery")
    now = clock.now()
    copy = WebhookDelivery(
        id=uuid.uuid4(),
        subscription_id=original.subscription_id,
        event_id=original.event_id,
        event_kind=original.event_kind,
        ordering_key=original.ordering_key,
        body=original.body,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        replay_of_id=original.id,
        created_at=now,
    )
    session.add(copy)
    session.flush()
    return copy
