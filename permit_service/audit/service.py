"""Append events to their hash chain in the caller's transaction, and verify chains (AU-01, AU-02)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.audit.models import ChainHead, Event
from permit_service.auth.principal import Principal

GENESIS = "0" * 64
# Called with (session, event) inside the same transaction, e.g. to write webhook outbox rows (DC-04).
EventListener = Callable[[Session, Event], None]
_listeners: list[EventListener] = []


def on_event(listener: EventListener) -> EventListener:
    """Register a function run for every recorded event, in the recording transaction."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def _canonical(event: Event) -> bytes:
    body = {
        "at": event.at.isoformat(),
        "kind": event.kind,
        "actor_id": event.actor_id,
        "actor_roles": sorted(event.actor_roles),
        "enterprise_id": str(event.enterprise_id) if event.enterprise_id else None,
        "region_id": str(event.region_id) if event.region_id else None,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "data": event.data,
        "chain": event.chain,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def chain_of(enterprise_id: uuid.UUID | None, region_id: uuid.UUID | None) -> str:
    """Events chain per enterprise (or per region for regulator acts without an enterprise)."""
    if enterprise_id is not None:
        return f"enterprise:{enterprise_id}"
    if region_id is not None:
        return f"region:{region_id}"
    return "system"


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
    """Append one event to its chain; runs the listeners; flushes, never commits."""
    chain = chain_of(enterprise_id, region_id)
    # Locking the chain head serialises appends to one chain (per enterprise), not the whole service.
    # Create the head if missing without racing a concurrent first event, then lock it.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(ChainHead).values(chain=chain, last_hash=GENESIS, length=0).on_conflict_do_nothing()
    )
    head = session.scalars(
        sa.select(ChainHead)
        .where(ChainHead.chain == chain)
        .with_for_update()
        .execution_options(populate_existing=True)
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
        chain=chain,
        prev_hash=head.last_hash,
        hash="",
    )
    event.hash = hashlib.sha256(_canonical(event)).hexdigest()
    head.last_hash = event.hash
    head.length += 1
    session.add(event)
    session.flush()
    for listener in _listeners:
        listener(session, event)
    return event


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying one chain."""

    chain: str
    events: int
    ok: bool
    first_bad_event_id: int | None = None
    reason: str = ""


def _events(session: Session, chain: str) -> Iterator[Event]:
    stmt = sa.select(Event).where(Event.chain == chain).order_by(Event.id).execution_options(yield_per=500)
    yield from session.scalars(stmt)


def verify(session: Session) -> list[ChainReport]:
    """Recompute every chain: an edited, deleted or inserted event breaks it (AU-02)."""
    reports = []
    for head in session.scalars(sa.select(ChainHead).order_by(ChainHead.chain)):
        prev, count, bad, reason = GENESIS, 0, None, ""
        for event in _events(session, head.chain):
            count += 1
            if event.prev_hash != prev:
                bad, reason = (
                    event.id,
                    "prev_hash does not match the previous event (deleted or inserted event)",
                )
                break
            if hashlib.sha256(_canonical(event)).hexdigest() != event.hash:
                bad, reason = event.id, "content does not match its hash (edited event)"
                break
            prev = event.hash
        if bad is None and (prev != head.last_hash or count != head.length):
            reason = "chain head does not match the last event (events deleted at the end)"
        reports.append(ChainReport(head.chain, count, bad is None and not reason, bad, reason))
    return reports
