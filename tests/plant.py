"""Scenes for the presence and plant-integration tests: permits at work, crews with positioning cards, a plant portal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from permit_service.auth.models import IntegrationClient
from permit_service.directory.models import Person, PlantArea
from permit_service.integrations.models import Detector
from permit_service.permits.models import Permit, PermitCrewMember
from tests.conftest import DEFAULT_NOW
from tests.factories import Factory, World


def card_of(person: Person) -> str:
    """The positioning card the scene gives a person."""
    return f"CARD-{person.username}"


def give_cards(factory: Factory, *people: Person) -> None:
    """Everyone entering the production area carries a positioning card (HC-03)."""
    for person in people:
        person.positioning_card_id = card_of(person)
    factory.session.commit()


def at_work(
    factory: Factory,
    world: World,
    *,
    permit_type: str = "hot_work",
    area: PlantArea | None = None,
    state: str = "active",
    crew: dict[str, Person] | None = None,
    facts: dict[str, Any] | None = None,
    activated_ago: timedelta = timedelta(minutes=30),
) -> Permit:
    """A permit already at work in `area` (arranged in the database: the workflow's own tests cover getting there)."""
    area = area or world.area
    crew = crew or {role: world.people[role] for role in ("work_leader", "worker", "guardian")}
    permit = Permit(
        id=uuid.uuid4(),
        enterprise_id=area.enterprise_id,
        area_id=area.id,
        number=f"T-{uuid.uuid4().hex[:10]}",
        type=permit_type,
        grade="level1" if permit_type == "hot_work" else None,
        state=state,
        title="装置检修",
        valid_from=DEFAULT_NOW - timedelta(hours=1),
        valid_until=DEFAULT_NOW + timedelta(hours=6),
        facts=facts or {},
        risk_analysis="可燃气体泄漏",
        applicant_id=world.people["applicant"].id,
        activated_at=DEFAULT_NOW - activated_ago if state == "active" else None,
        created_at=DEFAULT_NOW - timedelta(hours=2),
    )
    permit.crew = [
        PermitCrewMember(person_id=person.id, role=role, position=i)
        for i, (role, person) in enumerate(crew.items())
    ]
    factory.session.add(permit)
    factory.session.commit()
    give_cards(factory, *crew.values())
    return permit


@dataclass
class Portal:
    """A plant portal: its integration client and request headers."""

    client: IntegrationClient
    headers: dict[str, str]

    def push(self, key: str) -> dict[str, str]:
        """Headers of a push with an Idempotency-Key."""
        return {**self.headers, "Idempotency-Key": key}


def portal(factory: Factory, world: World) -> Portal:
    """The enterprise's plant portal (an integration account)."""
    client = factory.integration_client(world.enterprise)
    return Portal(client, factory.headers(client))


def iso(delta: timedelta = timedelta(0)) -> str:
    """A timestamp relative to the test clock's start, with an offset."""
    return (DEFAULT_NOW + delta).isoformat()


def registered_earlier(factory: Factory, world: World, ago: timedelta = timedelta(hours=2)) -> None:
    """Date the enterprise's detectors back: readings from before a detector's registration are refused (DC-01)."""
    factory.session.execute(
        sa.update(Detector)
        .where(Detector.enterprise_id == world.enterprise.id)
        .values(created_at=DEFAULT_NOW - ago)
    )
    factory.session.commit()
