"""Feed positions in commit order, handed out at commit under one short row lock (AU-01, DC-04).

An event id is not commit order: ids are taken when a row is inserted, and a transaction that took id 10 may
commit after one that took id 11, so a reader that passed 11 would never see 10. Instead, just before a
transaction that recorded events commits, it advances the one counter row (locking it) and gives its events
the next positions. The lock is held only for the commit itself, and PostgreSQL makes a commit visible before it
releases the transaction's locks: the next committer gets higher positions and becomes visible later. So once a
reader sees position p, every position below p is already visible, and nothing can appear behind a cursor.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
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

# session.info key: (id, event, permit as at the event) of each event recorded in the open transaction
_PENDING = "feed_pending_events"
# What can change after a permit's event: its state and grade; a draft edit changes validity, location and work
# unit; an administrator the area's code and name.
AT_EVENT = ("state", "grade", "valid_from", "valid_until", "area_code", "area_name", "location", "work_unit")


@audit.on_event
def remember(session: Session, event: Event) -> None:
    """Note an event recorded in this transaction, and its permit as it stands now; both go to the feed at commit."""
    session.info.setdefault(_PENDING, []).append((event.id, event, _permit_at(session, event)))


def _permit_at(session: Session, event: Event) -> dict[str, Any] | None:
    if event.subject_type != "permit":
        return None
    # The permit that recorded the event is in the session already: no statement, and its values are the
    # event's own (an edit sets them before it records `permit.edited`).
    permit = session.get(Permit, uuid.UUID(event.subject_id))
    if permit is None:
        return None
    return {
        "state": permit.state, "grade": permit.grade, "valid_from": permit.valid_from, "valid_until": permit.valid_until, "area_code": permit.area.code,
        "area_name": permit.area.name, "location": permit.location, "work_unit": permit.work_unit,
    }  # fmt: skip


@sa_event.listens_for(Session, "before_commit")
def _assign_positions(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    last, platforms, generation = session.execute(
        _advance_counter(is_postgres(session)), {"n": len(pending)}
    ).one()
    # An event of a savepoint that was rolled back is no longer persistent: it is gone, gets no row and delivers
    # nothing; its position stays unused, a harmless hole (a reader never sees anything appear below a position
    # it passed).
    kept = [
        (first_position, event, permit)
        for first_position, (_, event, permit) in enumerate(pending, start=last - len(pending) + 1)
        if sa.inspect(event).persistent
    ]
    # The plant portals' deliveries, matched against the subscriptions as they stand at this commit.
    webhooks.enqueue(session, [event for _, event, _ in kept], generation)
    if kept:
        session.execute(
            FeedPosition.__table__.insert(),
            [
                {"position": position, "event_id": event.id, **(permit or _NOT_A_PERMIT)}
                for position, event, permit in kept
            ],
        )
    if (
        platforms
    ):  # read under the counter's lock: a subscription committed before this commit counts (push.py)
        push.enqueue(session, [event.id for _, event, _ in kept])


_NOT_A_PERMIT = dict.fromkeys(AT_EVENT)


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


@sa_event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction ended without commit (rolled back or closed)
        session.info.pop(_PENDING, None)
