"""Append events to their subject's hash chain in the caller's transaction (AU-01, AU-02)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Sequence
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

__all__ = [
    "GENESIS", "ChainReport", "append", "append_parameters", "appended", "appending", "chain_of", "event",
    "event_hash", "on_event", "record", "verify",
]  # fmt: skip

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
            sealed_length=0,  # given: a column's Python-side default is not sent from a CTE of another statement
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
    given = [sa.bindparam(f"event_{name}", type_=events.c[name].type) for name in _GIVEN]
    return (
        events.insert()
        .from_select(
            [*_GIVEN, "seq", "prev_hash", "hash"],
            sa.select(*given, head.c.length, head.c.last_hash, hashed),
        )
        .returning(events.c.id, events.c.seq, events.c.prev_hash, events.c.hash)
    )


def event(
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
    """A new event, not yet appended to its subject's chain (append, or appending on PostgreSQL)."""
    return Event(
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
    return append(
        session,
        event(
            kind=kind,
            actor=actor,
            subject_type=subject_type,
            subject_id=subject_id,
            enterprise_id=enterprise_id,
            region_id=region_id,
            data=data,
            at=at,
        ),
    )


def append(session: Session, event: Event) -> Event:
    """Append a new event to its subject's chain, flush and run the listeners (record)."""
    # Either way the event's INSERT also moves the head to its hash (trigger of 0023).
    if is_postgres(session):
        return appended(session, event, session.execute(_append(), append_parameters(event)).one())
    head = _head_parameters(event)
    event.prev_hash, event.seq = session.execute(_advance_head(False), head).one()
    event.hash = event_hash(event)
    event.id = session.execute(
        _insert_event(),
        {**_given(event), "seq": event.seq, "prev_hash": event.prev_hash, "hash": event.hash},
    ).scalar_one()
    return appended(session, event, (event.id, event.seq, event.prev_hash, event.hash))


def appending() -> sa.CTE:
    """PostgreSQL: the event's append (head and event, as `append` sends it) as a data-modifying CTE of a caller's
    statement, returning the event's id, seq, prev_hash and hash for `appended`; its parameters: append_parameters.
    """
    return _append().cte("appended")


def append_parameters(event: Event) -> dict[str, Any]:
    """PostgreSQL: the parameters of the event's append (`appending`)."""
    before, after = canonical_parts(event)
    # Each named apart from every column: a caller's statement would also write a parameter named as a column of a
    # table one of its CTEs writes (SQLAlchemy's crud adds it to that table's VALUES or SET).
    given = {f"event_{name}": value for name, value in _given(event).items()}
    return {**given, **_head_parameters(event), "before": before, "after": after}


def appended(session: Session, event: Event, placed: Sequence[Any]) -> Event:
    """The event's place in its chain as its append returned it (id, seq, prev_hash, hash); then flush and run the
    listeners."""
    event.id, event.seq, event.prev_hash, event.hash = placed
    session.flush()  # what the caller changed before the event is written before the listeners run, as it was
    for listener in _listeners:
        listener(session, event)
    return event


def _given(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _GIVEN}


def _head_parameters(event: Event) -> dict[str, Any]:
    return {
        "head_chain": event.chain,
        "head_enterprise_id": event.enterprise_id,
        "head_region_id": event.region_id,
    }
