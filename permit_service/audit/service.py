"""Append events to their subject's hash chain in the caller's transaction (AU-01, AU-02)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import g, has_request_context
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.audit.hashing import GENESIS, chain_of, event_hash
from permit_service.audit.models import ChainHead, Event
from permit_service.audit.verify import ChainReport, verify  # 0.1.0 callers use audit.verify
from permit_service.auth.principal import Principal
from permit_service.db import is_postgres

__all__ = ["GENESIS", "ChainReport", "chain_of", "event_hash", "on_event", "record", "verify"]

# Called with (session, event) inside the same transaction, e.g. to write webhook outbox rows (DC-04).
EventListener = Callable[[Session, Event], None]
_listeners: list[EventListener] = []


def on_event(listener: EventListener) -> EventListener:
    """Register a function run for every recorded event, in the recording transaction."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, ensure_ascii=False, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def record(
    session: Session,
    *,
    kind: str,
    actor: Principal,
    subject_type: str,
    subject_id: uuid.UUID | str,
    enterprise_id: uuid.UUID | None = None,
    region_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Event:
    """Append one event to its subject's chain; runs the listeners; flushes, never commits."""
    chain = chain_of(subject_type, subject_id)
    # One statement creates or advances the subject's head and locks that row until commit: appends to one
    # subject queue (they would anyway, on the subject's own row), other subjects of the enterprise never do.
    insert = pg_insert if is_postgres(session) else sqlite_insert
    upsert = insert(ChainHead).values(
        chain=chain, last_hash=GENESIS, length=1, enterprise_id=enterprise_id, region_id=region_id
    )
    prev_hash, seq = session.execute(
        upsert.on_conflict_do_update(
            index_elements=[ChainHead.chain], set_={"length": ChainHead.__table__.c.length + 1}
        ).returning(ChainHead.last_hash, ChainHead.length)
    ).one()
    event = Event(
        at=at or clock.now(),
        kind=kind,
        actor_id=actor.id,
        actor_roles=sorted(actor.roles),
        enterprise_id=enterprise_id,
        region_id=region_id,
        subject_type=subject_type,
        subject_id=str(subject_id),
        data=_json_safe(data or {}),
        request_id=g.get("request_id") if has_request_context() else None,
        chain=chain,
        seq=seq,
        prev_hash=prev_hash,
        hash="",
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()  # the insert also moves the head to this event's hash (trigger of 0023)
    for listener in _listeners:
        listener(session, event)
    return event
