"""Feed positions in commit order, handed out at commit under one short row lock (AU-01, DC-04).

An event id is not commit order: ids are taken when a row is inserted, and a transaction that took id 10 may
commit after one that took id 11, so a reader that passed 11 would never see 10. Instead, just before a
transaction that recorded events commits, it advances the one counter row (locking it) and gives its events
the next positions. The lock is held only for the commit itself, and PostgreSQL makes a commit visible before it
releases the transaction's locks: the next committer gets higher positions and becomes visible later. So once a
reader sees position p, every position below p is already visible, and nothing can appear behind a cursor.

A filing may take its event's position in the statement that appends the event instead (append_numbered, issue 14):
the counter's lock is then held from that statement to the commit, which is sound only while the transaction takes no
row lock another writer may hold after it, that statement included (see may_number_now).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, SessionTransaction

from permit_service.audit import service as audit
from permit_service.audit.models import Event
from permit_service.db import is_postgres
from permit_service.feed import push
from permit_service.feed.models import FeedCounter, FeedPosition
from permit_service.integrations import webhooks
from permit_service.permits.models import Permit

# session.info key: (event, permit as at the event, innermost savepoint, numbered) of each event recorded in the
# transaction; numbered: None, or (platform subscriptions, webhook generation) as its own write statement numbered it
_PENDING = "feed_pending_events"
# session.info key: {event id: (platform subscriptions, webhook generation)} of the events numbered by the statement
# that wrote them, until they are remembered
_NUMBERED = "feed_numbered_events"
# What can change after a permit's event: its state and grade; a draft edit changes validity, location and work
# unit; an administrator the area's code and name.
AT_EVENT = ("state", "grade", "valid_from", "valid_until", "area_code", "area_name", "location", "work_unit")
_COLUMNS = ("position", "event_id", *AT_EVENT)


@audit.on_event
def remember(session: Session, event: Event) -> None:
    """Note an event recorded in this transaction, and its permit as it stands now; both go to the feed at commit."""
    pending = session.info.setdefault(_PENDING, [])
    numbered = session.info.get(_NUMBERED, {}).pop(event.id, None)
    at_event = None if numbered else _permit_at(session, event)
    pending.append((event, at_event, session.get_nested_transaction(), numbered))


def _permit_at(session: Session, event: Event) -> dict[str, Any] | None:
    if event.subject_type != "permit":
        return None
    # The permit that recorded the event is in the session already: no statement, and its values are the
    # event's own (an edit sets them before it records `permit.edited`).
    permit = session.get(Permit, uuid.UUID(event.subject_id))
    if permit is None:
        return None
    return at_event(permit)


def at_event(permit: Permit) -> dict[str, Any]:
    """What the feed keeps of the permit beside its event, as it stands now (AT_EVENT)."""
    return {
        "state": permit.state, "grade": permit.grade, "valid_from": permit.valid_from, "valid_until": permit.valid_until, "area_code": permit.area.code,
        "area_name": permit.area.name, "location": permit.location, "work_unit": permit.work_unit,
    }  # fmt: skip


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_savepoint(session: Session, rolled_back: SessionTransaction) -> None:
    """An event of a savepoint that was rolled back is gone: it gets no position and delivers nothing."""
    pending = session.info.get(_PENDING)
    if rolled_back.nested and pending:
        pending[:] = [p for p in pending if not _within(p[2], rolled_back)]


def _within(transaction: SessionTransaction | None, savepoint: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is savepoint:
            return True
        transaction = transaction.parent
    return False


@sa_event.listens_for(Session, "before_commit")
def _assign_positions(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    rows = [
        {"event_id": event.id, **(permit or _NOT_A_PERMIT)}
        for event, permit, _, numbered in pending
        if not numbered
    ]
    if (
        not rows
    ):  # each numbered by its own append, under the counter's lock held since: the last read is current
        platforms, generation = pending[-1][3]
    elif is_postgres(session):  # the counter and the rows in one statement
        columns = {name: [row[name] for row in rows] for name in _COLUMNS[1:]}
        _, platforms, generation = session.execute(_number_rows(), {"n": len(rows), **columns}).one()
    else:
        last, platforms, generation = session.execute(_advance_counter(False), {"n": len(rows)}).one()
        first = last - len(rows) + 1
        session.execute(
            FeedPosition.__table__.insert(),
            [{"position": position, **row} for position, row in enumerate(rows, start=first)],
        )
    events = [event for event, _, _, _ in pending]
    # The plant portals' deliveries, matched against the subscriptions as they stand at this commit.
    webhooks.enqueue(session, events, generation)
    if (
        platforms
    ):  # read under the counter's lock: a subscription committed before this commit counts (push.py)
        push.enqueue(session, [event.id for event in events])


_NOT_A_PERMIT = dict.fromkeys(AT_EVENT)


def may_number_now(session: Session) -> bool:
    """Whether an event written now may take its feed position in its own statement (append_numbered): no event of the
    transaction waits for one at commit, so the feed keeps the events of a transaction in the order they were
    recorded. The caller promises to take no row lock another writer may hold between that statement and its commit:
    it would wait holding the counter's lock, which that writer waits for as it commits (a deadlock). That statement
    included: PostgreSQL checks its foreign keys at its end, after the counter, taking a key-share lock on each row
    its new rows reference, which a writer may hold for update (an enterprise being graded, a person): the
    transaction must hold those already (a filing's earlier statement references the same enterprise and people).
    So an action's writes number at commit (permits.service._write)."""
    return not session.info.get(_PENDING)


def append_numbered(session: Session, event: Event, permit: Permit) -> Event:
    """PostgreSQL: append a new event about `permit` to its chain (audit.appending) and give it its feed position in
    one statement; the caller's transaction ends without another row lock (may_number_now). Then as audit.append."""
    at_event_of = {f"feed_{name}": value for name, value in at_event(permit).items()}
    placed = session.execute(
        _append_and_number(), {**audit.append_parameters(event), "n": 1, **at_event_of}
    ).one()
    numbered(session, placed.id, placed.feed_platforms, placed.feed_generation)
    return audit.appended(session, event, placed[:4])


@functools.cache
def _append_and_number() -> sa.Select:
    """The event's append (audit.appending), the counter's advance by one and the event's feed row, answering the
    event's place and what the counter answers. Built once."""
    feed = FeedPosition.__table__
    appended = audit.appending()
    counter = _advance_counter(True).cte("counter")
    given = (sa.bindparam(f"feed_{name}", type_=feed.c[name].type) for name in AT_EVENT)
    numbered_row = sa.select(counter.c.last_position, appended.c.id, *given).select_from(
        counter.join(appended, sa.true())
    )
    return (
        sa.select(
            appended.c.id,
            appended.c.seq,
            appended.c.prev_hash,
            appended.c.hash,
            counter.c.platform_subscriptions.label("feed_platforms"),
            counter.c.webhook_generation.label("feed_generation"),
        )
        .select_from(appended.join(counter, sa.true()))
        .add_cte(feed.insert().from_select(_COLUMNS, numbered_row).cte("feed_row"))
    )


def numbered(session: Session, event_id: int, platforms: int, generation: int) -> None:
    """Note that the statement that wrote event `event_id` numbered it, answering the counter's subscription counts
    and webhook generation (the commit enqueues its deliveries with them); before the event is remembered."""
    session.info.setdefault(_NUMBERED, {})[event_id] = (platforms, generation)


@functools.cache
def _advance_counter(postgres: bool) -> sa.Insert:
    """The one statement that takes the counter's lock and :n positions, reading the subscription counts with them
    (built once: a commit runs it, issue 14)."""
    insert = pg_insert if postgres else sqlite_insert
    counter = FeedCounter.__table__
    n = sa.bindparam("n", type_=counter.c.last_position.type)
    return (
        insert(counter)
        .values(id=1, last_position=n)
        .on_conflict_do_update(
            index_elements=[counter.c.id], set_={"last_position": counter.c.last_position + n}
        )
        .returning(counter.c.last_position, counter.c.platform_subscriptions, counter.c.webhook_generation)
    )


@functools.cache
def _number_rows() -> sa.Select:
    """PostgreSQL: the counter's advance and the :n feed rows it numbers, each column given as an array (in the
    events' order), in one statement that answers what the counter's advance returns."""
    feed = FeedPosition.__table__
    counter = _advance_counter(True).cte("counter")
    given = (
        sa.func.unnest(*(sa.bindparam(name, type_=ARRAY(feed.c[name].type)) for name in _COLUMNS[1:]))
        .table_valued(*(sa.column(name, feed.c[name].type) for name in _COLUMNS[1:]), with_ordinality="nth")
        .render_derived("given")
    )
    numbered = sa.select(
        counter.c.last_position - sa.bindparam("n", type_=feed.c.position.type) + given.c.nth,
        *(given.c[name] for name in _COLUMNS[1:]),
    ).select_from(counter.join(given, sa.true()))
    rows = feed.insert().from_select(_COLUMNS, numbered).cte("feed_rows")
    return sa.select(
        counter.c.last_position, counter.c.platform_subscriptions, counter.c.webhook_generation
    ).add_cte(rows)


@sa_event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction ended without commit (rolled back or closed)
        session.info.pop(_PENDING, None)
        session.info.pop(_NUMBERED, None)
