"""Webhook receivers: private LAN addresses are reachable, the service's own host and cloud metadata are not (DC-04)."""

from __future__ import annotations

import ipaddress

import pytest
import sqlalchemy as sa

from permit_service.config import Config, ConfigError
from permit_service.integrations import webhooks
from permit_service.integrations.models import WebhookSubscription
from permit_service.integrations.webhooks import allowed_networks, refusal
from tests.api.checks import assert_problem
from tests.plant import portal

SECRET = "receiver-shared-secret-0123456789"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "reserved"),  # documentation (TEST-NET-1..3, 2001:db8::/32)
        ("198.51.100.7", "reserved"),
        ("203.0.113.9", "reserved"),
        ("2001:db8::1", "reserved"),
        ("2002:cb00:7109::1", "reserved"),  # 6to4 carrying 203.0.113.9
        ("198.18.0.1", "reserved"),  # benchmarking
        ("169.254.169.254", "cloud metadata"),  # AWS, Azure, GCP, Huawei, Oracle...
        ("100.100.100.200", "cloud metadata"),  # Alibaba Cloud ECS, inside otherwise reachable 100.64/10
        ("169.254.0.23", "cloud metadata"),  # Tencent Cloud
        ("168.63.129.16", "cloud metadata"),  # Azure WireServer, a public address
        ("fd00:ec2::254", "cloud metadata"),  # AWS over IPv6, inside otherwise reachable fc00::/7
        ("fd20:ce::254", "cloud metadata"),  # GCP over IPv6
        ("::ffff:100.100.100.200", "cloud metadata"),
        ("2002:a9fe:a9fe::1", "cloud metadata"),  # 6to4 carrying 169.254.169.254
        ("2002:7f00:1::1", "loopback"),  # 6to4 carrying 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1 (stored inverted)
        ("2001:0:4136:e378:8000:63bf:5601:5601", "cloud metadata"),  # Teredo, client 169.254.169.254
    ],
)
def test_DC04_refused_receiver_addresses(address, kind):
    article = "an" if kind[0] in "aeiou" else "a"
    assert refusal(ipaddress.ip_address(address)).endswith(f" is {article} {kind} address")


@pytest.mark.parametrize(
    ("address", "carried"),
    [("2002:a9fe:a9fe::1", "169.254.169.254"), ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1")],
)
def test_DC04_a_refusal_names_the_ipv4_address_an_ipv6_one_carries(address, carried):
    assert refusal(ipaddress.ip_address(address)).startswith(f"{address} (carrying {carried}) is ")


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.5.4",
        "192.168.1.20",
        "100.64.0.7",
        "100.100.100.201",
        "fd12::1",
        "fd00:ec2::255",
        "114.114.114.114",
        "2002:7272:7272::1",  # 6to4 carrying 114.114.114.114
        "240e:1::1",
    ],
)
def test_DC04_plant_lan_and_public_addresses_are_reachable(address):
    assert refusal(ipaddress.ip_address(address)) is None


def test_DC04_the_service_hosts_own_addresses_are_refused_unless_allowed(monkeypatch):
    own = {ipaddress.ip_address("10.20.0.5"), ipaddress.ip_address("fd12::5")}
    monkeypatch.setattr(webhooks, "host_addresses", lambda: frozenset(own))
    for address in ("10.20.0.5", "fd12::5", "::ffff:10.20.0.5"):
        assert refusal(ipaddress.ip_address(address)).endswith(" is an address of the service's own host")
    assert refusal(ipaddress.ip_address("10.20.0.6")) is None
    assert refusal(ipaddress.ip_address("10.20.0.5"), allowed_networks(["10.20.0.5"])) is None


def test_DC04_this_machines_interface_addresses_are_refused():
    mine = [a for a in webhooks.host_addresses() if not (a.is_loopback or a.is_link_local)]
    if not mine:
        pytest.skip("this machine has no address beside loopback and link-local")
    for address in mine:
        assert refusal(address) == f"{address} is an address of the service's own host"


def test_DC04_the_allow_list_opens_only_what_it_names():
    allowed = allowed_networks(["127.0.0.1", " ::1 ", "169.254.10.0/24"])
    assert refusal(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert refusal(ipaddress.ip_address("::1"), allowed) is None
    assert refusal(ipaddress.ip_address("169.254.10.9"), allowed) is None
    assert refusal(ipaddress.ip_address("127.0.0.2"), allowed) == "127.0.0.2 is a loopback address"
    assert refusal(ipaddress.ip_address("169.254.169.1"), allowed) == "169.254.169.1 is a link-local address"


def test_DC04_no_allow_list_opens_cloud_metadata():
    allowed = allowed_networks(["169.254.0.0/16", "100.64.0.0/10", "fd00::/8", "0.0.0.0/0", "::/0"])
    assert refusal(ipaddress.ip_address("100.100.100.7"), allowed) is None
    for address in ("169.254.169.254", "100.100.100.200", "fd00:ec2::254", "2002:a9fe:a9fe::1"):
        assert refusal(ipaddress.ip_address(address), allowed).endswith(" is a cloud metadata address")


def test_webhook_allowed_networks_are_read_and_checked_at_start():
    cfg = Config.from_env({"WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1, ::1"})
    assert cfg.webhook_allowed_networks == ("127.0.0.1", "::1")
    assert Config.from_env({}).webhook_allowed_networks == ()
    with pytest.raises(ConfigError, match="WEBHOOK_ALLOWED_NETWORKS"):
        Config.from_env({"WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1,localhost"})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",  # a name is judged by what it resolves to
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://[fe80::1]/hooks",
        "http://224.0.0.1/hooks",
        "http://0.0.0.0:8080/hooks",
        "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud ECS metadata
        "http://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6
        "http://[2002:a9fe:a9fe::1]/latest/meta-data/",  # 6to4 carrying 169.254.169.254
    ],
)
def test_DC04_subscribing_a_refused_receiver_is_422_and_stores_nothing(client, factory, url):
    world = factory.world()
    gate = portal(factory, world)
    resp = client.post(
        "/api/v1/webhooks/subscriptions",
        json={"url": url, "secret": SECRET, "event_kinds": ["*"]},
        headers=gate.headers,
    )
    assert_problem(resp, 422, fields={"url"})
    assert factory.session.scalar(sa.select(sa.func.count()).select_from(WebhookSubscription)) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://10.20.30.40:8443/hooks",
        "https://192.168.1.5/permit-events",
        "https://portal.invalid/hooks",  # does not resolve from here (yet): each delivery checks it
    ],
)
def test_DC04_a_receiver_on_the_plant_lan_is_accepted(client, factory, url):
    world = factory.world()
    gate = portal(factory, world)
    resp = client.post(
        "/api/v1/webhooks/subscriptions",
        json={"url": url, "secret": SECRET, "event_kinds": ["permit.*"]},
        headers=gate.headers,
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["url"] == url
