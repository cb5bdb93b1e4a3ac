"""HC-06: the limit holds under concurrent check-ins - 50 people at once against a limit of 3 leave exactly 3 inside."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import sqlalchemy as sa

from permit_service.presence.models import PresenceEntry
from tests.plant import at_work, give_cards

CONTENDERS = 50


def _crowd(factory, world, n):
    people = [factory.person("worker", enterprise=world.enterprise) for _ in range(n)]
    give_cards(factory, *people)
    return people


def _race(app, url, headers, bodies):
    barrier = Barrier(len(bodies))

    def attempt(body):
        client = app.test_client()  # each thread its own client, request, session and connection
        barrier.wait()
        return client.post(url, json=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(attempt, bodies))


@pytest.mark.postgres_only
def test_HC06_fifty_concurrent_check_ins_on_one_permit_leave_exactly_three_inside(app, factory):
    world = factory.world()
    people = _crowd(factory, world, CONTENDERS)
    crew = {"work_leader": world.people["work_leader"], "guardian": world.people["guardian"]}
    crew.update({f"w{i}": p for i, p in enumerate(people)})
    permit = at_work(factory, world, crew=crew)
    statuses = _race(
        app,
        f"/api/v1/permits/{permit.id}/presence/check-ins",
        factory.headers(world.people["guardian"]),
        [{"person_id": str(p.id)} for p in people],
    )
    assert sorted(statuses) == [201] * 3 + [409] * (CONTENDERS - 3)
    inside = factory.session.scalar(
        sa.select(sa.func.count()).where(
            PresenceEntry.area_id == world.area.id, PresenceEntry.checked_out_at.is_(None)
        )
    )
    assert inside == 3


@pytest.mark.postgres_only
def test_HC06_concurrent_check_ins_through_different_permits_of_one_area_share_the_limit(app, factory):
    world = factory.world()
    people = _crowd(factory, world, 20)
    permits = [
        at_work(
            factory,
            world,
            crew={"guardian": world.people["guardian"], **{f"w{j}": p for j, p in enumerate(group)}},
        )
        for group in (people[:10], people[10:])
    ]
    headers = factory.headers(world.people["guardian"])
    barrier = Barrier(len(people))

    def attempt(i):
        client = app.test_client()
        permit = permits[0] if i < 10 else permits[1]
        barrier.wait()
        url = f"/api/v1/permits/{permit.id}/presence/check-ins"
        return client.post(url, json={"person_id": str(people[i].id)}, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        statuses = list(pool.map(attempt, range(len(people))))
    assert statuses.count(201) == 3
    assert factory.session.scalar(sa.select(sa.func.count()).select_from(PresenceEntry)) == 3
