"""Every resource read by id answers 404 for a made-up id and for another tenant's object, sub-resources included:
a list under a permit never answers 200 [] for a permit the caller cannot see."""

from __future__ import annotations

from tests.api.checks import PROBLEM, url_of
from tests.api.permit_flows import PermitFlow
from tests.factories import ENTERPRISE_ROLES


def _reads_by_id(app) -> list:
    """The GET rules of the API that take ids in their path."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        and "GET" in rule.methods
        and any("UUID" in type(c).__name__ for c in rule._converters.values())
    ]


def _not_found(client, urls, headers) -> dict[str, tuple[int, str]]:
    answers = {url: client.get(url, headers=headers) for url in urls}
    return {
        url: (r.status_code, r.content_type)
        for url, r in answers.items()
        if (r.status_code, r.content_type) != (404, PROBLEM)
    }


def test_every_read_by_a_made_up_id_is_404(app, client, factory):
    world = factory.world()
    everyone = factory.person(*ENTERPRISE_ROLES, enterprise=world.enterprise)
    rules = _reads_by_id(app)
    assert len(rules) > 15
    urls = [url_of(rule) for rule in rules]
    assert not _not_found(client, urls, factory.headers(everyone))
    # Webhooks are the enterprises' own: a regulator is refused them by role (403) whatever the id.
    assert not _not_found(
        client, [u for u in urls if "/webhooks/" not in u], factory.headers(world.regulator)
    )


def test_every_read_under_another_tenants_permit_is_404(app, client, factory):
    world = factory.world()
    flow = PermitFlow(client, factory, world).file("hot_work")
    stranger = factory.person(*ENTERPRISE_ROLES, enterprise=world.other_enterprise)
    urls = [
        url_of(rule, permit_id=flow.id) for rule in _reads_by_id(app) if set(rule.arguments) == {"permit_id"}
    ]
    assert len(urls) > 3
    mine = {url: client.get(url, headers=flow.headers("applicant")).status_code for url in urls}
    assert set(mine.values()) == {200}, mine
    assert not _not_found(client, urls, factory.headers(stranger))
    assert not _not_found(client, urls, factory.headers(world.other_regulator))
