"""Walk every hash chain and name the first broken link of each: edited, deleted, inserted or reordered (AU-02).

The walk streams (one server-side cursor over the events in chain order), so it runs in constant memory over
millions of events; it looks an event up by its hash only where a link is broken, to say what broke it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service.audit.hashing import GENESIS, event_hash
from permit_service.audit.models import ChainHead, Event

# What can be wrong with a link, in the words the report uses.
EDITED, DELETED, INSERTED, REORDERED = "edited", "deleted", "inserted", "reordered"
STREAM_BATCH = 1000
Progress = Callable[[int, int], None]  # (events checked, chains checked)


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying one chain: ok, or the first broken link (event id, what, why)."""

    chain: str
    events: int
    ok: bool
    first_bad_event_id: int | None = None
    what: str = ""
    reason: str = ""


@dataclass(frozen=True)
class _Head:
    last_hash: str | None
    length: int | None


def _event_by_hash(session: Session, chain: str, digest: str) -> Event | None:
    return session.scalar(sa.select(Event).where(Event.hash == digest, Event.chain == chain))


def _broken_link(session: Session, prev: Event | None, event: Event) -> tuple[int, str, str]:
    """Why `event` does not follow `prev` although its own hash holds: which event to name, and what happened."""
    target = _event_by_hash(session, event.chain, event.prev_hash)
    if target is not None and (target.seq > event.seq or target.id > event.id):
        return event.id, REORDERED, f"it follows event {target.id}, which comes after it"
    if target is not None and prev is not None and prev.prev_hash == target.hash:
        return prev.id, INSERTED, f"it and event {event.id} both follow event {target.id}; nothing follows it"
    if target is not None:
        return event.id, INSERTED, f"it follows event {target.id} although other events came after that one"
    if prev is not None and event.seq == prev.seq + 1:
        return (
            prev.id,
            EDITED,
            f"event {event.id} follows a different version of it (its hash was recomputed)",
        )
    return event.id, DELETED, "the event(s) before it are missing"


def _walk(session: Session, chain: str, rows: Iterator[Any], tick: Callable[[], None]) -> ChainReport:
    prev: Event | None = None
    head = _Head(None, None)
    count = 0
    for row in rows:
        event, head = row.Event, _Head(row.last_hash, row.length)
        count += 1
        tick()
        if event_hash(event) != event.hash:
            return ChainReport(
                chain, count, False, event.id, EDITED, "its content no longer matches its hash"
            )
        if event.prev_hash != (prev.hash if prev else GENESIS):
            bad, what, why = _broken_link(session, prev, event)
            return ChainReport(chain, count, False, bad, what, why)
        if prev is not None and event.id < prev.id:
            return ChainReport(
                chain, count, False, event.id, REORDERED, f"its id is lower than event {prev.id}'s"
            )
        if head.length is not None and event.seq > head.length:
            return ChainReport(chain, count, False, event.id, INSERTED, "it lies beyond the chain's head")
        prev = event
    if head.last_hash is None:
        return ChainReport(
            chain, count, False, prev.id if prev else None, DELETED, "the chain's head is missing"
        )
    if prev is None or prev.hash != head.last_hash:
        if prev is not None and (head.length or 0) > prev.seq:
            why = f"{head.length - prev.seq} event(s) after it are missing"
            return ChainReport(chain, count, False, prev.id, DELETED, why)
        bad = prev.id if prev else None
        return ChainReport(chain, count, False, bad, EDITED, "the chain's head names a different last event")
    return ChainReport(chain, count, True)


def verify(
    session: Session,
    *,
    enterprise_id: uuid.UUID | None = None,
    since: datetime | None = None,
    progress: Progress | None = None,
    every: int = 100_000,
) -> Iterator[ChainReport]:
    """Verify every chain (of one enterprise; only chains with events since `since`), one report per chain."""
    stmt = (
        sa.select(Event, ChainHead.last_hash, ChainHead.length)
        .outerjoin(ChainHead, ChainHead.chain == Event.chain)
        .order_by(Event.chain, Event.seq, Event.id)
        .execution_options(yield_per=STREAM_BATCH)
    )
    heads = sa.select(ChainHead.chain).where(
        ChainHead.length > 0, ~sa.exists().where(Event.chain == ChainHead.chain)
    )
    if enterprise_id is not None:
        stmt = stmt.where(Event.enterprise_id == enterprise_id)
        heads = heads.where(ChainHead.enterprise_id == enterprise_id)
    if since is not None:
        stmt = stmt.where(Event.chain.in_(sa.select(Event.chain).where(Event.at >= since).distinct()))
    counted = {"events": 0, "chains": 0}

    def tick() -> None:
        counted["events"] += 1
        if progress is not None and counted["events"] % every == 0:
            progress(counted["events"], counted["chains"])

    for chain, rows in groupby(session.execute(stmt), key=lambda row: row.Event.chain):
        yield _walk(session, chain, rows, tick)
        counted["chains"] += 1
    if since is None:
        for chain in session.scalars(heads):
            yield ChainReport(chain, 0, False, None, DELETED, "the chain's head counts events, none is left")
