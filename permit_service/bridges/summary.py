"""Where a permit event is published on MQTT, and the per-area summary a control-room display keeps (retained)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service.directory.models import Enterprise, PlantArea
from permit_service.permits.models import Permit
from permit_service.presence import service as presence
from workflows.states import State

_NOT_A_LEVEL = re.compile(r"[+#/\x00]")
NONE = "-"  # the level of an event that names no area or no permit
ON_DISPLAY = (str(State.active), str(State.suspended))


def level(text: str) -> str:
    """A value safe as one MQTT topic level (no wildcards, no separators)."""
    return _NOT_A_LEVEL.sub("_", text) or NONE


@dataclass(frozen=True)
class Place:
    """What an event is about: its enterprise, area and permit (as codes and numbers)."""

    enterprise: str
    area: PlantArea | None
    permit: str

    def topic(self, prefix: str) -> str:
        """`{prefix}/{enterprise}/{area}/{permit}`."""
        area = level(self.area.code) if self.area else NONE
        return f"{prefix}/{level(self.enterprise)}/{area}/{level(self.permit)}"

    def summary_topic(self, prefix: str) -> str | None:
        """`{prefix}/{enterprise}/{area}`: the retained summary of the event's area, if it names one."""
        return f"{prefix}/{level(self.enterprise)}/{level(self.area.code)}" if self.area else None


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def place_of(session: Session, event: dict[str, Any]) -> Place:
    """Locate an outbox event (the webhook body): its enterprise's credit code, its permit's area and number."""
    data = event.get("data") or {}
    enterprise = (
        session.get(Enterprise, _uuid(event.get("enterprise_id"))) if event.get("enterprise_id") else None
    )
    permit_id = event.get("subject_id") if event.get("subject_type") == "permit" else data.get("permit_id")
    permit = session.get(Permit, _uuid(permit_id)) if _uuid(permit_id) else None
    area_id = permit.area_id if permit else _uuid(data.get("area_id"))
    area = session.get(PlantArea, area_id) if area_id else None
    return Place(enterprise.credit_code if enterprise else NONE, area, permit.number if permit else NONE)


def area_summary(session: Session, area: PlantArea, enterprise: str, at: str) -> dict[str, Any]:
    """The area now: permits at work or suspended, their types and grades, people inside against the limits (HC-01)."""
    permits = session.scalars(
        sa.select(Permit)
        .where(Permit.area_id == area.id, Permit.state.in_(ON_DISPLAY))
        .order_by(Permit.number)
    ).all()
    shown = []
    for permit in permits:
        limit = presence.headcount_limit(session, permit)
        shown.append({
            "number": permit.number, "type": permit.type, "grade": permit.grade, "state": permit.state,
            "people_inside": presence.people_inside(session, permit.id),
            "limit": limit.number, "limit_rule": limit.rule,
        })  # fmt: skip
    return {
        "enterprise": enterprise,
        "area": area.code,
        "area_name": area.name,
        "as_of": at,
        "active": sum(1 for p in shown if p["state"] == str(State.active)),
        "people_inside": presence.people_inside_area(session, area.id),
        "max_headcount": area.max_headcount,
        "permits": shown,
    }
