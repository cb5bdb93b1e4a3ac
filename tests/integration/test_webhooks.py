"""Signed webhooks through the transactional outbox, against a real HTTP receiver on 127.0.0.1 (DC-04)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from permit_service.audit import service as audit
from permit_service.auth.principal import SYSTEM
from permit_service.integrations import webhooks
from permit_service.integrations.models import WebhookDelivery, WebhookSubscription
from permit_service.integrations.webhooks import DeliveryPolicy, allowed_networks, deliver_due, verify
from tests.api.checks import assert_problem
from tests.plant import at_work, portal

SECRET = "receiver-shared-secret-0123456789"
LOOPBACK = (
    "127.0.0.1",
)  # the receiver runs on this machine: allowed explicitly, as WEBHOOK_ALLOWED_NETWORKS would
POLICY = DeliveryPolicy(
    timeout_seconds=2,
    max_attempts=3,
    backoff_base_seconds=30,
    backoff_max_seconds=600,
    allowed_networks=allowed_networks(LOOPBACK),
)


@pytest.fixture
def config(config):
    """The suite's configuration, with the loopback receiver allowed (refused by default)."""
    return dataclasses.replace(config, webhook_allowed_networks=LOOPBACK)


class Receiver:
    """A plant portal's webhook endpoint on a loopback port; it can be switched off and on again."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.answer = 204
        self.location: str | None = None  # sent as Location (with a 3xx answer: a redirect)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/permits"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(
                    {"method": self.command, "headers": dict(self.headers), "body": raw.decode(), "raw": raw}
                )
                self.send_response(receiver.answer)
                if receiver.location is not None:
                    self.send_header("Location", receiver.location)
                self.end_headers()

            def do_GET(self) -> None:
                self.do_POST()  # a followed redirect may come as a GET: it is recorded all the same

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def kinds(self) -> list[str]:
        return [json.loads(r["body"])["kind"] for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def scene(client, factory, receiver):
    """An enterprise, its portal subscribed to permit and alarm events, and a permit at work."""
    world = factory.world()
    gate = portal(factory, world)
    sub = client.post(
        "/api/v1/webhooks/subscriptions",
        json={
            "url": receiver.url,
            "secret": SECRET,
            "event_kinds": ["presence.*", "permit.*", "alarm.raised"],
        },
        headers=gate.headers,
    )
    assert sub.status_code == 201, sub.get_json()
    assert "secret" not in sub.get_json()
    return world, gate, sub.get_json(), at_work(factory, world)


def _sessions(app):
    return app.extensions["db_sessionmaker"]


def _deliver(app, clock):
    with app.app_context():
        return deliver_due(_sessions(app), clock.now(), policy=POLICY)


def _check_in(client, factory, world, permit, person):
    resp = client.post(
        f"/api/v1/permits/{permit.id}/presence/check-ins",
        json={"person_id": str(person.id)},
        headers=factory.headers(world.people["guardian"]),
    )
    assert resp.status_code == 201
    return resp


def _deliveries(session):
    stmt = (
        sa.select(WebhookDelivery)
        .order_by(WebhookDelivery.event_id)
        .execution_options(populate_existing=True)
    )
    rows = session.scalars(stmt).all()
    session.commit()  # end the read: on SQLite every transaction holds the write lock
    return rows


def test_DC04_an_event_reaches_the_receiver_signed(app, client, factory, clock, receiver, scene):
    world, _gate, _sub, permit = scene
    _check_in(client, factory, world, permit, world.people["worker"])
    report = _deliver(app, clock)
    assert (report.delivered, report.retrying, report.failed) == (1, 0, 0)
    [got] = receiver.received
    body = json.loads(got["body"])
    assert body["kind"] == "presence.checked_in" and body["subject_id"] == str(permit.id)
    assert body["data"]["person_id"] == str(world.people["worker"].id)
    assert got["headers"]["X-Permit-Event"] == "presence.checked_in"
    header = got["headers"]["X-Permit-Signature"]
    assert header.startswith(f"t={int(clock.now().timestamp())},v1=")
    assert verify(SECRET, header, got["body"], clock.now())
    # What the README tells receivers to compute, independently of the service's own verify().
    timestamp, digest = (part.split("=", 1)[1] for part in header.split(","))
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + got["raw"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, digest)
    assert not verify("another-secret-0123456789", header, got["body"], clock.now())
    assert not verify(SECRET, header, got["body"].replace("presence", "absence"), clock.now())
    assert not verify(
        SECRET, header, got["body"], clock.now() + timedelta(minutes=6)
    )  # outside the replay window
    assert _deliver(app, clock).delivered == 0  # delivered once


def test_DC04_events_not_subscribed_to_and_other_enterprises_events_are_not_sent(
    app, client, factory, clock, receiver, scene
):
    world, _gate, _sub, _permit = scene
    other = at_work(factory, world, area=world.other_area)
    with app.app_context():
        session = _sessions(app)()
        with session.begin():
            audit.record(session, kind="freeze.declared", actor=SYSTEM, subject_type="freeze", subject_id="f1",
                         region_id=world.other_district.id)  # fmt: skip
            audit.record(session, kind="permit.submit", actor=SYSTEM, subject_type="permit", subject_id=other.id,
                         enterprise_id=world.other_enterprise.id)  # fmt: skip
            audit.record(session, kind="job.reported", actor=SYSTEM, subject_type="job", subject_id="j1",
                         enterprise_id=world.enterprise.id)  # fmt: skip
        session.close()
    assert _deliver(app, clock).delivered == 0 and receiver.received == []


def test_DC04_regional_events_reach_the_enterprises_of_the_region(app, client, factory, clock, receiver):
    world = factory.world()
    gate = portal(factory, world)
    client.post(
        "/api/v1/webhooks/subscriptions",
        json={"url": receiver.url, "secret": SECRET, "event_kinds": ["freeze.*"]},
        headers=gate.headers,
    )
    with app.app_context():
        session = _sessions(app)()
        with session.begin():
            audit.record(session, kind="freeze.declared", actor=SYSTEM, subject_type="freeze", subject_id="f1",
                         region_id=world.city.id)  # fmt: skip
        session.close()
    assert _deliver(app, clock).delivered == 1 and receiver.kinds() == ["freeze.declared"]


def test_DC04_a_receiver_that_is_down_gets_the_event_when_it_is_back(
    app, client, factory, clock, receiver, scene
):
    world, _gate, _sub, permit = scene
    receiver.stop()
    _check_in(client, factory, world, permit, world.people["worker"])
    report = _deliver(app, clock)
    assert (report.delivered, report.retrying) == (0, 1)
    [row] = _deliveries(factory.session)
    assert row.status == "pending" and row.attempts == 1 and row.last_status_code is None and row.last_error
    assert row.next_attempt_at > clock.now()
    receiver.start()
    assert _deliver(app, clock).delivered == 0  # backing off: not due yet
    clock.advance(timedelta(minutes=1))
    assert _deliver(app, clock).delivered == 1
    assert receiver.kinds() == ["presence.checked_in"]
    assert _deliveries(factory.session)[0].status == "delivered"


def test_DC04_a_failing_receiver_is_retried_with_growing_delays_then_marked_failed(
    app, client, factory, clock, receiver, scene
):
    world, _gate, _sub, permit = scene
    receiver.answer = 500
    _check_in(client, factory, world, permit, world.people["worker"])
    delays = []
    for _ in range(POLICY.max_attempts):
        _deliver(app, clock)
        row = _deliveries(factory.session)[0]
        delays.append(row.next_attempt_at - clock.now())
        clock.set(row.next_attempt_at)
    row = _deliveries(factory.session)[0]
    assert row.status == "failed" and row.attempts == 3 and row.last_status_code == 500
    assert timedelta(seconds=15) <= delays[0] <= timedelta(seconds=30)
    assert timedelta(seconds=30) <= delays[1] <= timedelta(seconds=60)
    assert len(receiver.received) == 3


def test_DC04_a_redirect_is_a_failed_attempt_and_its_target_is_never_contacted(
    app, client, factory, clock, receiver, scene
):
    world, _gate, _sub, permit = scene
    target = Receiver()  # also on loopback, so the allow-list would not stop a followed redirect
    target.start()
    try:
        receiver.answer, receiver.location = 302, target.url
        _check_in(client, factory, world, permit, world.people["worker"])
        report = _deliver(app, clock)
        [row] = _deliveries(factory.session)
        assert report.delivered == 0 and report.retrying == 1
        assert row.status == "pending" and row.attempts == 1
        assert row.last_status_code == 302 and row.last_error == "HTTP 302"
        assert len(receiver.received) == 1 and target.received == []
    finally:
        target.stop()


# A delivery run in a process of its own that is SIGKILLed once its claim has committed, mid-send.
_KILLED_WHILE_SENDING = """
import os, signal, sys
from datetime import datetime

from permit_service import create_app
from permit_service.config import Config
from permit_service.integrations.webhooks import DeliveryPolicy, deliver_due

url, jwt_secret, now = sys.argv[1:4]
app = create_app(Config(env="test", database_url=url, jwt_secret_key=jwt_secret))


def killed(*_args):
    os.kill(os.getpid(), signal.SIGKILL)


with app.app_context():
    deliver_due(app.extensions["db_sessionmaker"], datetime.fromisoformat(now), policy=DeliveryPolicy(), send=killed)
"""


def test_DC04_a_delivery_process_killed_after_commit_delivers_on_the_next_run(
    app, client, factory, clock, receiver, scene
):
    world, _gate, _sub, permit = scene
    # The request committed its event and outbox row; nothing is delivered until a delivery run comes.
    _check_in(client, factory, world, permit, world.people["worker"])
    assert [d.status for d in _deliveries(factory.session)] == ["pending"]
    assert receiver.received == []
    # A delivery process claims the row, commits the claim and is killed before the receiver is reached.
    cfg = app.config["PERMIT_CONFIG"]
    died = subprocess.run(
        [
            sys.executable,
            "-c",
            _KILLED_WHILE_SENDING,
            cfg.database_url,
            cfg.jwt_secret_key,
            clock.now().isoformat(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert died.returncode == -signal.SIGKILL, died.stderr
    [row] = _deliveries(factory.session)
    assert row.status == "pending" and row.attempts == 1 and receiver.received == []
    # After the restart the row is leased until the dead run's lease ends; then the next run sends it.
    assert _deliver(app, clock).delivered == 0
    clock.advance(timedelta(seconds=POLICY.lease_seconds + 1))
    assert _deliver(app, clock).delivered == 1
    assert receiver.kinds() == ["presence.checked_in"]


def test_DC04_events_of_a_permit_arrive_in_order(app, client, factory, clock, receiver, scene):
    world, _gate, _sub, permit = scene
    receiver.stop()
    _check_in(client, factory, world, permit, world.people["worker"])
    client.post(
        f"/api/v1/permits/{permit.id}/presence/check-outs",
        json={"person_id": str(world.people["worker"].id)},
        headers=factory.headers(world.people["guardian"]),
    )
    _check_in(client, factory, world, permit, world.people["work_leader"])
    report = _deliver(app, clock)
    assert report.retrying == 1  # only the first event was tried: the rest wait behind it
    assert [d.attempts for d in _deliveries(factory.session)] == [1, 0, 0]
    receiver.start()
    clock.advance(timedelta(minutes=1))
    assert _deliver(app, clock).delivered == 3
    assert receiver.kinds() == ["presence.checked_in", "presence.checked_out", "presence.checked_in"]
    ids = [json.loads(r["body"])["event_id"] for r in receiver.received]
    assert ids == sorted(ids)


@pytest.mark.postgres_only
def test_DC04_concurrent_delivery_runs_send_each_event_once_and_in_order(
    app, client, factory, clock, receiver, scene
):
    world, _gate, _sub, first = scene
    second = at_work(factory, world, permit_type="height", area=factory.area(world.enterprise))
    guardian = factory.headers(world.people["guardian"])
    for _ in range(5):
        for permit in (first, second):
            for action in ("check-ins", "check-outs"):
                resp = client.post(
                    f"/api/v1/permits/{permit.id}/presence/{action}",
                    json={"person_id": str(world.people["work_leader"].id)},
                    headers=guardian,
                )
                assert resp.status_code in (200, 201)
    barrier = threading.Barrier(4)

    def run(_):
        barrier.wait()
        return _deliver(app, clock).delivered

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert sum(pool.map(run, range(4))) == 20
    bodies = [json.loads(r["body"]) for r in receiver.received]
    assert len({b["event_id"] for b in bodies}) == 20
    for permit in (first, second):
        ids = [b["event_id"] for b in bodies if b["subject_id"] == str(permit.id)]
        assert len(ids) == 10 and ids == sorted(ids)


def test_DC04_one_permits_backlog_does_not_hold_up_another_permit(
    app, client, factory, clock, receiver, scene
):
    world, _gate, _sub, first = scene
    second = at_work(factory, world, permit_type="height", area=factory.area(world.enterprise))
    _check_in(client, factory, world, first, world.people["worker"])
    _check_in(client, factory, world, second, world.people["work_leader"])
    with app.app_context():
        session = _sessions(app)()
        with session.begin():
            first_row = session.scalars(
                sa.select(WebhookDelivery).where(WebhookDelivery.ordering_key == str(first.id))
            ).one()
            first_row.next_attempt_at = clock.now() + timedelta(hours=1)  # backing off
        session.close()
    assert _deliver(app, clock).delivered == 1
    assert json.loads(receiver.received[0]["body"])["subject_id"] == str(second.id)


def test_DC04_receivers_list_and_replay_deliveries(app, client, factory, clock, receiver, scene):
    world, gate, sub, permit = scene
    _check_in(client, factory, world, permit, world.people["worker"])
    _deliver(app, clock)
    listed = client.get(
        f"/api/v1/webhooks/subscriptions/{sub['id']}/deliveries?status=delivered", headers=gate.headers
    )
    [delivery] = listed.get_json()["items"]
    assert (
        delivery["status"] == "delivered"
        and delivery["attempts"] == 1
        and delivery["last_status_code"] == 204
    )
    replayed = client.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/replay", headers=gate.headers)
    assert replayed.status_code == 201 and replayed.get_json()["replay_of_id"] == delivery["id"]
    assert _deliver(app, clock).delivered == 1
    assert len(receiver.received) == 2 and receiver.received[0]["body"] == receiver.received[1]["body"]
    other = factory.headers(world.other_people["enterprise_admin"])
    assert_problem(client.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/replay", headers=other), 404)
    assert_problem(client.get(f"/api/v1/webhooks/subscriptions/{sub['id']}/deliveries", headers=other), 404)


def test_DC04_an_unsubscribed_receiver_gets_nothing_more(app, client, factory, clock, receiver, scene):
    world, gate, sub, permit = scene
    assert (
        client.delete(f"/api/v1/webhooks/subscriptions/{sub['id']}", headers=gate.headers).status_code == 204
    )
    _check_in(client, factory, world, permit, world.people["worker"])
    assert _deliver(app, clock).delivered == 0 and receiver.received == []


def test_DC04_a_subscription_changed_behind_the_service_counts_from_the_next_commit(
    app, client, factory, receiver, scene
):
    world, _gate, _sub, permit = scene

    def behind_the_service(active: bool) -> None:  # as another process, or an operator's SQL, would change it
        with app.app_context():
            session = _sessions(app)()
            with session.begin():
                session.execute(sa.update(WebhookSubscription).values(active=active))
            session.close()

    _check_in(
        client, factory, world, permit, world.people["worker"]
    )  # this process has read the subscriptions
    behind_the_service(active=False)
    _check_in(client, factory, world, permit, world.people["work_leader"])
    behind_the_service(active=True)
    _check_in(client, factory, world, permit, world.people["guardian"])
    with app.app_context():
        delivered = [json.loads(d.body)["data"]["person_id"] for d in _deliveries(_sessions(app)())]
    assert delivered == [str(world.people["worker"].id), str(world.people["guardian"].id)]


def test_DC04_the_address_is_checked_again_at_delivery(app, client, factory, clock, receiver, scene):
    world, _gate, _sub, permit = scene
    _check_in(client, factory, world, permit, world.people["worker"])
    # The allow-list was withdrawn after subscribing: the loopback receiver is no longer reached at all.
    refused = dataclasses.replace(POLICY, allowed_networks=())
    with app.app_context():
        report = deliver_due(_sessions(app), clock.now(), policy=refused)
    assert (report.delivered, report.retrying) == (0, 1)
    assert receiver.received == []
    [row] = _deliveries(factory.session)
    assert row.status == "pending" and row.last_status_code is None and "loopback" in row.last_error
    clock.advance(timedelta(minutes=1))
    assert _deliver(app, clock).delivered == 1  # allowed again: the same delivery goes out
    assert receiver.kinds() == ["presence.checked_in"]


def test_DC04_a_host_that_now_resolves_to_cloud_metadata_is_not_reached(
    app, client, factory, clock, monkeypatch
):
    world = factory.world()
    gate = portal(factory, world)
    answers = {"portal.plant.example": "10.20.30.40"}  # the plant LAN: a private address is fine
    monkeypatch.setattr(
        webhooks, "_resolve", lambda host, port: [webhooks.ipaddress.ip_address(answers[host])]
    )
    sub = client.post(
        "/api/v1/webhooks/subscriptions",
        json={"url": "http://portal.plant.example/hooks", "secret": SECRET, "event_kinds": ["presence.*"]},
        headers=gate.headers,
    )
    assert sub.status_code == 201, sub.get_json()
    answers["portal.plant.example"] = "169.254.169.254"  # DNS changed after the subscription was checked
    _check_in(client, factory, world, at_work(factory, world), world.people["worker"])
    connected = []
    monkeypatch.setattr(webhooks.socket, "create_connection", lambda *a, **k: connected.append(a))
    with app.app_context():
        report = deliver_due(
            _sessions(app), clock.now(), policy=dataclasses.replace(POLICY, allowed_networks=())
        )
    assert report.retrying == 1 and connected == []
    [row] = _deliveries(factory.session)
    assert "169.254.169.254 is a cloud metadata address" in row.last_error


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com:99999/hooks",
        "http://example.com:abc/hooks",
        "http://example.com:0/",
        "http://[::1/",
    ],
)
def test_DC04_a_subscription_url_with_a_bad_port_is_422_on_url(client, factory, url):
    world = factory.world()
    resp = client.post(
        "/api/v1/webhooks/subscriptions",
        json={"url": url, "secret": SECRET, "event_kinds": ["*"]},
        headers=factory.headers(world.people["enterprise_admin"]),
    )
    assert_problem(resp, 422, fields={"url"})
    assert factory.session.scalar(sa.select(sa.func.count()).select_from(WebhookSubscription)) == 0


def test_subscriptions_are_validated_and_scoped(client, factory):
    world = factory.world()
    admin = factory.headers(world.people["enterprise_admin"])
    bad = client.post(
        "/api/v1/webhooks/subscriptions",
        json={"url": "ftp://example", "secret": "short", "event_kinds": ["Permit!"], "active": False},
        headers=admin,
    )
    assert_problem(bad, 422, fields={"url", "secret", "event_kinds.0", "active"})
    assert factory.session.scalar(sa.select(sa.func.count()).select_from(WebhookSubscription)) == 0
    factory.session.commit()
    worker = client.post(
        "/api/v1/webhooks/subscriptions",
        json={"url": "http://127.0.0.1:9/x", "secret": SECRET, "event_kinds": ["*"]},
        headers=factory.headers(world.people["worker"]),
    )
    assert_problem(worker, 403)
    created = client.post(
        "/api/v1/webhooks/subscriptions",
        json={"url": "http://127.0.0.1:9/x", "secret": SECRET, "event_kinds": ["*"]},
        headers=admin,
    ).get_json()
    other = factory.headers(world.other_people["enterprise_admin"])
    assert_problem(client.get(f"/api/v1/webhooks/subscriptions/{created['id']}", headers=other), 404)
    assert client.get("/api/v1/webhooks/subscriptions", headers=other).get_json()["items"] == []
