"""The regulators' event feed: a region's events in commit order from a cursor or a date, as a stable payload."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service.audit.models import Event
from permit_service.auth.principal import Principal, enterprise_scope, region_scope
from permit_service.directory.models import Enterprise, Person, PlantArea, Region
from permit_service.feed.models import FeedPosition
from permit_service.permits.models import GasTest, Permit, PermitCrewMember

# The subjects a regulator's platform follows; accounts, checklists and the plant's own wiring stay in-house.
FEED_SUBJECTS = ("permit", "job", "alarm", "freeze", "enterprise", "calendar_override")
RULE_ID = re.compile(r"\b[A-Z]{1,3}-\d{2}\b")


@dataclass(frozen=True)
class FeedPage:
    """One page of the feed and the cursor to resume after it (the same cursor when nothing new is there)."""

    items: list[dict[str, Any]]
    next_cursor: str
    has_more: bool


def visible(session: Session, principal: Principal) -> sa.ColumnElement[bool]:
    """The events a caller may follow: its enterprises', and its regions' own (a freeze of the city or district)."""
    return sa.or_(
        sa.and_(Event.enterprise_id.is_not(None), enterprise_scope(session, principal, Event.enterprise_id)),
        sa.and_(Event.enterprise_id.is_(None), region_scope(session, principal, Event.region_id)),
    )


def read(
    session: Session, *, principal: Principal, after: int, since: datetime | None, limit: int
) -> FeedPage:
    """The caller's events after position `after` (and at or after `since`), in commit order (AU-01)."""
    stmt = (
        sa.select(FeedPosition.position, Event)
        .join(Event, Event.id == FeedPosition.event_id)
        .where(
            FeedPosition.position > after, Event.subject_type.in_(FEED_SUBJECTS), visible(session, principal)
        )
        .order_by(FeedPosition.position)
        .limit(limit + 1)
    )
    if since is not None:
        stmt = stmt.where(Event.at >= since)
    rows = session.execute(stmt).all()
    page = rows[:limit]
    items = payloads(session, [(position, event) for position, event in page])
    return FeedPage(items, str(page[-1][0]) if page else str(after), len(rows) > limit)


def payloads(session: Session, rows: Sequence[tuple[int, Event]]) -> list[dict[str, Any]]:
    """The stable payload of each event: names, codes and states a platform maps, never an identity number."""
    events = [event for _, event in rows]
    context = _Context.load(session, events)
    return [context.payload(position, event) for position, event in rows]


def rule_ids(data: Any) -> list[str]:
    """The rule IDs an event's data names (effects, reasons, refusals), sorted."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.update(RULE_ID.findall(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    return sorted(found)


@dataclass
class _Context:
    """What a page of payloads names, loaded once per page."""

    enterprises: dict[
        uuid.UUID, tuple[str, str, str, str]
    ]  # id -> credit code, name, region code, risk grade
    regions: dict[uuid.UUID, str]
    permits: dict[str, Permit]
    areas: dict[uuid.UUID, PlantArea]
    guardians: dict[uuid.UUID, list[str]]
    gas_tests: dict[uuid.UUID, list[GasTest]]
    people: dict[str, str]

    @classmethod
    def load(cls, session: Session, events: Sequence[Event]) -> _Context:
        regions: dict[uuid.UUID, str] = {
            rid: code for rid, code in session.execute(sa.select(Region.id, Region.code))
        }
        enterprise_ids = {e.enterprise_id for e in events if e.enterprise_id}
        enterprises = {
            row.id: (row.credit_code, row.name, regions.get(row.region_id, ""), row.risk_grade)
            for row in session.scalars(sa.select(Enterprise).where(Enterprise.id.in_(enterprise_ids)))
        }
        permit_ids = {uuid.UUID(e.subject_id) for e in events if e.subject_type == "permit"}
        permits = {str(p.id): p for p in session.scalars(sa.select(Permit).where(Permit.id.in_(permit_ids)))}
        areas = {p.area.id: p.area for p in permits.values()}
        guardians: dict[uuid.UUID, list[str]] = {}
        for permit_id, name in session.execute(
            sa.select(PermitCrewMember.permit_id, Person.name)
            .join(Person, Person.id == PermitCrewMember.person_id)
            .where(PermitCrewMember.permit_id.in_(permit_ids), PermitCrewMember.role == "guardian")
        ):
            guardians.setdefault(permit_id, []).append(name)
        gas_tests: dict[uuid.UUID, list[GasTest]] = {}
        for test in session.scalars(
            sa.select(GasTest).where(GasTest.permit_id.in_(permit_ids)).order_by(GasTest.recorded_at)
        ):
            gas_tests.setdefault(test.permit_id, []).append(test)
        actor_ids = set()
        for e in events:
            try:
                actor_ids.add(uuid.UUID(e.actor_id))
            except ValueError:
                continue
        people = {
            str(pid): name
            for pid, name in session.execute(
                sa.select(Person.id, Person.name).where(Person.id.in_(actor_ids))
            )
        }
        return cls(enterprises, regions, permits, areas, guardians, gas_tests, people)

    def payload(self, position: int, event: Event) -> dict[str, Any]:
        data = event.data or {}
        enterprise = self.enterprises.get(event.enterprise_id) if event.enterprise_id else None
        region_code = (
            enterprise[2] if enterprise else self.regions.get(event.region_id) if event.region_id else None
        )
        signature = data.get("signature") if isinstance(data.get("signature"), dict) else None
        return {
            "cursor": str(position),
            "event_id": event.id,
            "kind": event.kind,
            "at": event.at,
            "subject_type": event.subject_type,
            "subject_id": event.subject_id,
            "enterprise": (
                {"credit_code": enterprise[0], "name": enterprise[1], "risk_grade": enterprise[3]}
                if enterprise
                else None
            ),
            "region_code": region_code,
            "permit": self._permit(event, data),
            "signer": (
                {
                    "role": signature.get("role"),
                    "step": signature.get("kind"),
                    "name": self.people.get(str(signature.get("person_id")), ""),
                    "evidence_kinds": sorted(signature.get("evidence") or {}),  # the kinds, not the values
                }
                if signature
                else None
            ),
            "actor_roles": list(event.actor_roles or []),
            "reason": data.get("reason") if isinstance(data.get("reason"), str) else None,
            "rule_ids": rule_ids(data),
            "hash": event.hash,
        }

    def _permit(self, event: Event, data: dict[str, Any]) -> dict[str, Any] | None:
        permit = self.permits.get(event.subject_id) if event.subject_type == "permit" else None
        if permit is None:
            return None
        area = self.areas.get(permit.area_id)
        tests = [t for t in self.gas_tests.get(permit.id, []) if t.recorded_at <= event.at]
        latest = tests[-1] if tests else None
        return {
            "number": permit.number,
            "type": permit.type,
            "grade": data.get("grade", permit.grade),
            "state": data.get("to", permit.state),
            "previous_state": data.get("from"),
            "valid_from": permit.valid_from,
            "valid_until": permit.valid_until,
            "area": {"code": area.code, "name": area.name} if area else None,
            "location": permit.location,
            "work_unit": permit.work_unit,
            "guardians": self.guardians.get(permit.id, []),
            "gas_test": (
                {
                    "sampled_at": latest.sampled_at,
                    "passed": latest.passed,
                    "readings": [
                        {"gas": r.get("gas"), "value": r.get("value"), "unit": r.get("unit")}
                        for r in latest.readings
                    ],
                }
                if latest
                else None
            ),
        }
