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
from permit_service.audit.hashing import GENESIS, canonical_parts, chain_of, event_hash
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
        .values(
            chain=sa.bindparam("head_chain"),
            last_hash=GENESIS,
            length=1,
            enterprise_id=sa.bindparam("head_enterprise_id"),
            region_id=sa.bindparam("head_region_id"),
        )
        .on_conflict_do_update(index_elements=[head.c.chain], set_={"length": head.c.length + 1})
        .returning(head.c.last_hash, head.c.length)
    )


# The event's columns its recorder gives; the head gives its position and previous hash, which its hash covers.
_GIVEN = ("at", "kind", "actor_id", "actor_roles", "enterprise_id", "region_id", "subject_type", "subject_id", "data", "request_id", "chain")  # fmt: skip


@functools.cache
def _insert_event() -> sa.Insert:
    """SQLite: the event, once its head handed out its position and previous hash."""
    return Event.__table__.insert().returning(Event.__table__.c.id)


@functools.cache
def _append() -> sa.Insert:
    """PostgreSQL: the head's upsert and the event in one statement, the event hashed by the database from its
    canonical text around the previous hash the upsert hands out (hashing.canonical_parts). Built once."""
    events = Event.__table__
    head = _advance_head(True).cte("head")
    hashed = sa.func.encode(
        sa.func.sha256(
            sa.func.convert_to(
                sa.bindparam("before", type_=sa.Text)
                + sa.cast(sa.func.to_json(head.c.last_hash), sa.Text)
                + sa.bindparam("after", type_=sa.Text),
                "UTF8",
            )
        ),
        "hex",
    )
    given = [sa.bindparam(name, type_=events.c[name].type) for name in _GIVEN]
    return (
        events.insert()
        .from_select(
            [*_GIVEN, "seq", "prev_hash", "hash"],
            sa.select(*given, head.c.length, head.c.last_hash, hashed),
        )
        .returning(events.c.id, events.c.seq, events.c.prev_hash, events.c.hash)
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
    """Append one event to its subject's chain, flush and run the listeners, in the caller's transaction: never
    commits.

    The event returned is not in the session (its row is written by Core statements, not the unit of work).
    """
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
        chain=chain_of(subject_type, subject_id),
    )
    params = {name: getattr(event, name) for name in _GIVEN}
    head = {"head_chain": event.chain, "head_enterprise_id": enterprise_id, "head_region_id": region_id}
    # Either way the event's INSERT also moves the head to its hash (trigger of 0023).
    if is_postgres(session):
        before, after = canonical_parts(event)
        event.id, event.seq, event.prev_hash, event.hash = session.execute(
            _append(), {**params, **head, "before": before, "after": after}
        ).one()
    else:
        event.prev_hash, event.seq = session.execute(_advance_head(False), head).one()
        event.hash = event_hash(event)
        event.id = session.execute(
            _insert_event(), {**params, "seq": event.seq, "prev_hash": event.prev_hash, "hash": event.hash}
        ).scalar_one()
    session.flush()  # what the caller changed before the event is written before the listeners run, as it was
    for listener in _listeners:
        listener(session, event)
    return event
