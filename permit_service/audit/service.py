"""Append events to their subject's hash chain in the caller's transaction (AU-01, AU-02)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
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


@functools.cache
def _advance_head(postgres: bool) -> sa.Insert:
    """One statement creates or advances a subject's head and locks that row until commit: appends to one subject
    queue (they would anyway, on the subject's own row), other subjects of the enterprise never do. Built once."""
    insert = pg_insert if postgres else sqlite_insert
    head = ChainHead.__table__
    return (
        insert(head)
        .on_conflict_do_update(index_elements=[head.c.chain], set_={"length": head.c.length + 1})
        .returning(head.c.last_hash, head.c.length)
    )


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
    prev_hash, seq = session.execute(
        _advance_head(is_postgres(session)),
        {
            "chain": chain,
            "last_hash": GENESIS,
            "length": 1,
            "enterprise_id": enterprise_id,
            "region_id": region_id,
        },
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
