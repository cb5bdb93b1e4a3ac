"""The regulators' event feed: a region's events in commit order from a cursor or a date, as a stable payload."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from permit_service.audit.models import Event
from permit_service.auth.principal import Principal, enterprise_scope, region_scope
from permit_service.directory.models import Enterprise, Person, PlantArea, Region
from permit_service.feed.models import FeedPosition
from permit_service.integrations.models import Alarm
from permit_service.jobs.models import HighRiskJob
from permit_service.permits.models import GasTest, Permit, PermitCrewMember
from permit_service.regulators.models import EnterpriseRiskGrade

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
        sa.select(FeedPosition, Event)
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
    page = [(position, event) for position, event in rows[:limit]]
    items = payloads(session, page)
    return FeedPage(items, str(page[-1][0].position) if page else str(after), len(rows) > limit)


def payloads(session: Session, rows: Sequence[tuple[FeedPosition, Event]]) -> list[dict[str, Any]]:
    """The stable payload of each event as it was at the event: names, codes, states, validity and area a platform
    maps, never an identity number."""
    context = _Context.load(session, rows)
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

    enterprises: dict[uuid.UUID, Enterprise]
    grades: dict[uuid.UUID, list[EnterpriseRiskGrade]]  # each enterprise's gradings, oldest first
    regions: dict[uuid.UUID, str]
    permits: dict[str, Permit]
    jobs: dict[str, HighRiskJob]
    alarms: dict[str, Alarm]
    areas: dict[uuid.UUID, PlantArea]  # the areas of the alarms
    guardians: dict[uuid.UUID, list[str]]
    gas_tests: dict[uuid.UUID, list[GasTest]]
    people: dict[str, str]

    @classmethod
    def load(cls, session: Session, rows: Sequence[tuple[FeedPosition, Event]]) -> _Context:
        events = [event for _, event in rows]
        regions: dict[uuid.UUID, str] = {
            rid: code for rid, code in session.execute(sa.select(Region.id, Region.code))
        }
        enterprise_ids = {e.enterprise_id for e in events if e.enterprise_id}
        enterprises = {
            row.id: row
            for row in session.scalars(sa.select(Enterprise).where(Enterprise.id.in_(enterprise_ids)))
        }
        grades: dict[uuid.UUID, list[EnterpriseRiskGrade]] = {}
        for grading in session.scalars(
            sa.select(EnterpriseRiskGrade)
            .where(EnterpriseRiskGrade.enterprise_id.in_(enterprise_ids))
            .order_by(EnterpriseRiskGrade.created_at, EnterpriseRiskGrade.id)
        ):
            grades.setdefault(grading.enterprise_id, []).append(grading)
        permit_ids = {uuid.UUID(e.subject_id) for e in events if e.subject_type == "permit"}
        permits = {str(p.id): p for p in session.scalars(sa.select(Permit).where(Permit.id.in_(permit_ids)))}
        job_ids = {uuid.UUID(e.subject_id) for e in events if e.subject_type == "job"}
        jobs = (
            {
                str(j.id): j
                for j in session.scalars(
                    sa.select(HighRiskJob)
                    .where(HighRiskJob.id.in_(job_ids))
                    .options(selectinload(HighRiskJob.permit_links))
                )
            }
            if job_ids
            else {}
        )
        alarm_ids = {uuid.UUID(e.subject_id) for e in events if e.subject_type == "alarm"}
        alarms = (
            {str(a.id): a for a in session.scalars(sa.select(Alarm).where(Alarm.id.in_(alarm_ids)))}
            if alarm_ids
            else {}
        )
        area_ids = {a.area_id for a in alarms.values() if a.area_id}
        areas = (
            {a.id: a for a in session.scalars(sa.select(PlantArea).where(PlantArea.id.in_(area_ids)))}
            if area_ids
            else {}
        )
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
        return cls(enterprises, grades, regions, permits, jobs, alarms, areas, guardians, gas_tests, people)

    def risk_grade(self, enterprise: Enterprise, at: datetime) -> str:
        """The enterprise's risk grade at `at`, from its grading history (RG-01)."""
        history = self.grades.get(enterprise.id, [])
        before = [g for g in history if g.created_at <= at]
        if before:
            return before[-1].grade
        return history[0].previous_grade if history else enterprise.risk_grade

    def payload(self, position: FeedPosition, event: Event) -> dict[str, Any]:
        data = event.data or {}
        enterprise = self.enterprises.get(event.enterprise_id) if event.enterprise_id else None
        region_id = enterprise.region_id if enterprise else event.region_id
        signature = data.get("signature") if isinstance(data.get("signature"), dict) else None
        return {
            "cursor": str(position.position),
            "event_id": event.id,
            "kind": event.kind,
            "at": event.at,
            "subject_type": event.subject_type,
            "subject_id": event.subject_id,
            "enterprise": (
                {
                    "credit_code": enterprise.credit_code,
                    "name": enterprise.name,
                    "risk_grade": self.risk_grade(enterprise, event.at),
                }
                if enterprise
                else None
            ),
            "region_code": self.regions.get(region_id) if region_id else None,
            "permit": self._permit(position, event, data),
            "job": self._job(event, data),
            "alarm": self._alarm(event, data),
            "freeze": _freeze(event, data),
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
            "rule_ids": rule_ids([data, self._alarm_record(event)]),
            "hash": event.hash,
        }

    def _job(self, event: Event, data: dict[str, Any]) -> dict[str, Any] | None:
        job = self.jobs.get(event.subject_id) if event.subject_type == "job" else None
        if job is None:
            return None
        return {
            "kind": job.kind,
            "title": job.title,
            "state": data.get("state", job.state),
            # A report names its permits as reported; other job events, the permits the job carries now.
            "permits": data.get("permits") or sorted(link.permit.number for link in job.permit_links),
            "planned_headcount": job.planned_headcount,
            "starts_at": job.starts_at,
            "ends_at": job.ends_at,
            "risk_analysis": job.risk_analysis,
        }

    def _alarm_record(self, event: Event) -> dict[str, Any]:
        """An alarm event's alarm as stored: it also names the permits the alarm stopped and under which rules."""
        alarm = self.alarms.get(event.subject_id) if event.subject_type == "alarm" else None
        return alarm.data if alarm is not None else {}

    def _alarm(self, event: Event, data: dict[str, Any]) -> dict[str, Any] | None:
        alarm = self.alarms.get(event.subject_id) if event.subject_type == "alarm" else None
        if alarm is None:
            return None
        area = self.areas.get(alarm.area_id) if alarm.area_id else None
        return {
            "kind": alarm.kind,
            "source": alarm.source,
            "rule": alarm.rule,
            "permit_number": data.get("number"),
            "suspended_permits": [
                s["number"] for s in alarm.data.get("suspended") or [] if isinstance(s, dict)
            ],
            "area": {"code": area.code, "name": area.name} if area else None,
            "message_zh": alarm.message_zh,
            "message_en": alarm.message_en,
            "raised_at": alarm.raised_at,
        }

    def _permit(self, position: FeedPosition, event: Event, data: dict[str, Any]) -> dict[str, Any] | None:
        permit = self.permits.get(event.subject_id) if event.subject_type == "permit" else None
        if permit is None:
            return None
        # As at the event; a feed row from before the rows kept them (0014, 0017) falls back to the event's data
        # and the permit as it is.
        kept = position.valid_from is not None
        at_event = position if kept else permit
        area = (position.area_code, position.area_name) if kept else (permit.area.code, permit.area.name)
        state_kept = position.state is not None
        tests = [t for t in self.gas_tests.get(permit.id, []) if t.recorded_at <= event.at]
        latest = tests[-1] if tests else None
        return {
            "number": permit.number,
            "type": permit.type,
            "grade": position.grade if state_kept else data.get("grade", permit.grade),
            "state": position.state if state_kept else data.get("to", permit.state),
            "previous_state": data.get("from"),
            "valid_from": at_event.valid_from,
            "valid_until": at_event.valid_until,
            "area": {"code": area[0], "name": area[1]},
            "location": at_event.location,
            "work_unit": at_event.work_unit,
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


def _freeze(event: Event, data: dict[str, Any]) -> dict[str, Any] | None:
    """The freeze as its event's data tells it (every freeze event carries its summary)."""
    if event.subject_type != "freeze" or "starts_at" not in data:
        return None
    return {
        "starts_at": _instant(data["starts_at"]),
        "ends_at": _instant(data.get("ends_at")),
        "mode": data.get("mode", ""),
        "types": list(data.get("types") or []),
        "state": data.get("state", ""),
    }


def _instant(value: Any) -> datetime | None:
    """A datetime from event data (stored as ISO 8601 text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else None
