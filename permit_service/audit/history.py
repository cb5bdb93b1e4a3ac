"""The record read back for inspections: a permit's timeline and a regulator's export of a period (AU-01)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from permit_service.audit.models import Checkpoint, Event
from permit_service.audit.verify import STREAM_BATCH
from permit_service.auth.principal import Principal, enterprise_scope
from permit_service.directory.models import Person


def timeline(session: Session, *, subject_type: str, subject_id: uuid.UUID) -> list[dict[str, Any]]:
    """The subject's events, oldest first, each with its actor's name, the role and evidence of its signature."""
    events = session.scalars(
        sa.select(Event)
        .where(Event.subject_type == subject_type, Event.subject_id == str(subject_id))
        .order_by(Event.at, Event.id)
    ).all()
    people = _names(session, {e.actor_id for e in events})
    return [
        {
            "event": e,
            "actor_name": people.get(e.actor_id),
            "role": (e.data.get("signature") or {}).get("role"),
            "evidence": (e.data.get("signature") or {}).get("evidence"),
        }
        for e in events
    ]


def _names(session: Session, actor_ids: set[str]) -> dict[str, str]:
    ids = []
    for actor_id in actor_ids:
        try:
            ids.append(uuid.UUID(actor_id))
        except ValueError:
            continue  # the system, an integration client: no person
    rows = session.execute(sa.select(Person.id, Person.name).where(Person.id.in_(ids))) if ids else []
    return {str(person_id): name for person_id, name in rows}


def period_events(
    session: Session, principal: Principal, *, start: datetime, end: datetime, enterprise_id: uuid.UUID | None
) -> Iterator[Event]:
    """The events of the caller's enterprises from `start` (inclusive) to `end` (exclusive), streamed in order."""
    stmt = sa.select(Event).where(
        enterprise_scope(session, principal, Event.enterprise_id), Event.at >= start, Event.at < end
    )
    if enterprise_id is not None:
        stmt = stmt.where(Event.enterprise_id == enterprise_id)
    yield from session.scalars(stmt.order_by(Event.at, Event.id).execution_options(yield_per=STREAM_BATCH))


def checkpoints_at(
    session: Session, principal: Principal, *, end: datetime, enterprise_id: uuid.UUID | None
) -> list[Checkpoint]:
    """The latest checkpoint of each of the caller's enterprises sealed before `end`: where an export ends."""
    later = aliased(Checkpoint)
    stmt = sa.select(Checkpoint).where(
        enterprise_scope(session, principal, Checkpoint.enterprise_id),
        Checkpoint.created_at < end,
        ~sa.exists().where(
            later.scope == Checkpoint.scope, later.seq > Checkpoint.seq, later.created_at < end
        ),
    )
    if enterprise_id is not None:
        stmt = stmt.where(Checkpoint.enterprise_id == enterprise_id)
    return list(session.scalars(stmt.order_by(Checkpoint.scope)))
