"""Factories for test data: regions, enterprises, areas, people, integration clients and real JWTs."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from permit_service.auth.models import IntegrationClient
from permit_service.auth.passwords import hash_secret
from permit_service.auth.tokens import issue_tokens, principal_of_client, principal_of_person
from permit_service.directory.models import Certificate, Enterprise, Person, PlantArea, Region

_seq = itertools.count(1)

ENTERPRISE_ROLES = (
    "applicant", "work_leader", "worker", "guardian", "analyst", "shift_leader", "unit_leader",
    "specialist_dept", "safety_dept", "plant_manager", "leader_in_charge", "principal",
    "power_supplier", "countersigner", "enterprise_admin",
)  # fmt: skip
# G-06: every factory area has this outline (lon/lat around the Rizhao scene), so a fix at 119.52, 35.38 is inside.
BOUNDARY = {
    "type": "Polygon",
    "coordinates": [[[119.50, 35.36], [119.54, 35.36], [119.54, 35.40], [119.50, 35.40], [119.50, 35.36]]],
}
# G-13: the worker of the standard scene may weld, wire temporary power and operate a crane; valid well past the clock.
WORKER_CERTIFICATES = ("welder", "electrician", "crane_operator")
CERTIFICATE_EXPIRY = date(2030, 12, 31)
PASSWORD = "Passw0rd!测试"
_PASSWORD_HASH = hash_secret(PASSWORD)  # hashed once: Argon2 is slow on purpose


@dataclass
class World:
    """A small city: two districts, an enterprise in each, one person per role, regulators."""

    city: Region
    district: Region
    other_district: Region
    enterprise: Enterprise
    other_enterprise: Enterprise
    area: PlantArea
    other_area: PlantArea
    people: dict[str, Person] = field(default_factory=dict)
    other_people: dict[str, Person] = field(default_factory=dict)
    regulator: Person | None = None
    other_regulator: Person | None = None
    city_regulator: Person | None = None


class Factory:
    """Creates rows and commits them, so that the app (another session) sees them."""

    def __init__(self, app: Flask, session: Session) -> None:
        self.app = app
        self.session = session
        self._batching = False

    def _save(self, obj: Any) -> Any:
        self.session.add(obj)
        if self._batching:
            self.session.flush()
        else:
            self.session.commit()
        return obj

    def region(self, *, level: str = "district", parent: Region | None = None, **kw: Any) -> Region:
        n = next(_seq)
        defaults = {"code": f"37{n:04d}", "name": f"测试区{n}", "name_en": f"Test district {n}"}
        return self._save(Region(level=level, parent_id=parent.id if parent else None, **{**defaults, **kw}))

    def enterprise(self, region: Region, **kw: Any) -> Enterprise:
        n = next(_seq)
        defaults = {
            "name": f"测试化工有限公司{n}",
            "credit_code": f"91371100TEST{n:06d}",
            "risk_grade": "blue",
        }
        return self._save(Enterprise(region_id=region.id, **{**defaults, **kw}))

    def area(self, enterprise: Enterprise, **kw: Any) -> PlantArea:
        n = next(_seq)
        defaults = {
            "code": f"A{n}",
            "name": f"常减压装置区{n}",
            "running_unit": True,
            "flammable": True,
            "fire_explosion_area": True,
            "boundary": BOUNDARY,
        }
        return self._save(PlantArea(enterprise_id=enterprise.id, **{**defaults, **kw}))

    def person(
        self,
        *roles: str,
        enterprise: Enterprise | None = None,
        region: Region | None = None,
        certificates: list[tuple[str, str] | tuple[str, str, date | None]] = (),  # type: ignore[assignment]
        **kw: Any,
    ) -> Person:
        n = next(_seq)
        defaults = {"username": f"user{n}", "name": f"张{n}", "password_hash": _PASSWORD_HASH}
        person = Person(
            roles=list(roles),
            enterprise_id=enterprise.id if enterprise else None,
            region_id=region.id if region else None,
            **{**defaults, **kw},
        )
        # (kind, number) expires on CERTIFICATE_EXPIRY; (kind, number, expires_on) as given (G-13).
        person.certificates = [
            Certificate(kind=c[0], number=c[1], expires_on=c[2] if len(c) > 2 else CERTIFICATE_EXPIRY)
            for c in certificates
        ]
        return self._save(person)

    def integration_client(
        self, enterprise: Enterprise, secret: str = "client-secret-0123456789"
    ) -> IntegrationClient:
        n = next(_seq)
        return self._save(
            IntegrationClient(
                client_id=f"dcs-{n}",
                secret_hash=hash_secret(secret),
                name=f"DCS {n}",
                enterprise_id=enterprise.id,
            )
        )

    def token(self, who: Person | IntegrationClient) -> str:
        """A real access token for a person or integration client."""
        principal = (
            principal_of_client(who) if isinstance(who, IntegrationClient) else principal_of_person(who)
        )
        with self.app.app_context():
            return issue_tokens(principal, with_refresh=False)["access_token"]

    def headers(self, who: Person | IntegrationClient, **extra: str) -> dict[str, str]:
        """Authorization headers for a person or integration client."""
        return {"Authorization": f"Bearer {self.token(who)}", **extra}

    def world(self) -> World:
        """The standard scene most API tests start from (committed once, at the end)."""
        self._batching = True
        try:
            world = self._world()
        finally:
            self._batching = False
        self.session.commit()
        return world

    def _world(self) -> World:
        city = self.region(level="city", code=f"3711{next(_seq):02d}", name="日照市", name_en="Rizhao")
        district = self.region(parent=city, name="东港区", name_en="Donggang")
        other = self.region(parent=city, name="岚山区", name_en="Lanshan")
        ent = self.enterprise(district)
        other_ent = self.enterprise(other)
        world = World(
            city=city,
            district=district,
            other_district=other,
            enterprise=ent,
            other_enterprise=other_ent,
            area=self.area(ent),
            other_area=self.area(other_ent),
        )
        for role in ENTERPRISE_ROLES:
            certs = [(kind, f"T{next(_seq):08d}") for kind in WORKER_CERTIFICATES] if role == "worker" else []
            world.people[role] = self.person(role, enterprise=ent, certificates=certs)
            world.other_people[role] = self.person(role, enterprise=other_ent)
        world.regulator = self.person("regulator", region=district)
        world.other_regulator = self.person("regulator", region=other)
        world.city_regulator = self.person("city_regulator", region=city)
        return world
