"""Feed positions in commit order, handed out at commit under one short row lock (AU-01, DC-04).

An event id is not commit order: ids are taken when a row is inserted, and a transaction that took id 10 may
commit after one that took id 11, so a reader that passed 11 would never see 10. Instead, just before a
transaction that recorded events commits, it advances the one counter row (locking it) and gives its events
the next positions. The lock is held only for the commit itself, and PostgreSQL makes a commit visible before it
releases the transaction's locks: the next committer gets higher positions and becomes visible later. So once a
reader sees position p, every position below p is already visible, and nothing can appear behind a cursor.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, SessionTransaction

from permit_service.audit import service as audit
from permit_service.audit.models import Event
from permit_service.db import is_postgres
from permit_service.feed.models import FeedCounter, FeedPosition

_PENDING = "feed_pending_events"  # session.info key: ids of events recorded in the open transaction


@audit.on_event
def remember(session: Session, event: Event) -> None:
    """Note an event recorded in this transaction; it gets its feed position at commit."""
    session.info.setdefault(_PENDING, []).append(event.id)


@sa_event.listens_for(Session, "before_commit")
def _assign_positions(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if not ids:
        return
    session.flush()
    insert = pg_insert if is_postgres(session) else sqlite_insert
    upsert = insert(FeedCounter).values(id=1, last_position=len(ids))
    last = session.execute(
        upsert.on_conflict_do_update(
            index_elements=[FeedCounter.id],
            set_={"last_position": FeedCounter.__table__.c.last_position + len(ids)},
        ).returning(FeedCounter.last_position)
    ).scalar_one()
    first = last - len(ids) + 1
    # INSERT ... SELECT: an event written inside a savepoint that was rolled back is gone and gets no row; its
    # position stays unused, a harmless hole (a reader never sees anything appear below a position it passed).
    positions = sa.case({eid: first + i for i, eid in enumerate(ids)}, value=Event.id)
    session.execute(
        sa.insert(FeedPosition).from_select(
            ["position", "event_id"], sa.select(positions, Event.id).where(Event.id.in_(ids))
        )
    )


@sa_event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction ended without commit (rolled back or closed)
        session.info.pop(_PENDING, None)
