"""Upgrading 0.1.0's per-enterprise chains: kept as verified legacy history, new events chain per subject (AU-02)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service.audit import service as audit
from permit_service.audit.models import ChainHead, Event
from permit_service.audit.verify import verify
from permit_service.auth import SYSTEM
from permit_service.migrate import upgrade
from tests.integration.test_migrations import empty_database_url  # noqa: F401 - the fixture

AT = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
V010_EVENT_COLUMNS = (
    "at", "kind", "actor_id", "actor_roles", "enterprise_id", "region_id", "subject_type", "subject_id", "data",
    "chain", "prev_hash", "hash",
)  # fmt: skip


def _append_as_v010(conn: sa.Connection, chain: str, n: int) -> str:
    """Append `n` events to `chain` the way 0.1.0 did (no position), keeping its head; the last hash."""
    events = sa.table("events", *(sa.column(c, Event.__table__.c[c].type) for c in V010_EVENT_COLUMNS))
    prev = audit.GENESIS
    for i in range(n):
        event = Event(
            at=AT, kind="permit.filed", actor_id="system", actor_roles=["system"], enterprise_id=None,
            region_id=None, subject_type="permit", subject_id=str(uuid.uuid4()), data={"n": i}, chain=chain,
            prev_hash=prev,
        )  # fmt: skip
        event.hash = audit.event_hash(event)
        conn.execute(sa.insert(events).values({c: getattr(event, c) for c in V010_EVENT_COLUMNS}))
        prev = event.hash
    heads = sa.table("event_chain_heads", sa.column("chain"), sa.column("last_hash"), sa.column("length"))
    conn.execute(sa.insert(heads).values(chain=chain, last_hash=prev, length=n))
    return prev


def test_AU_02_a_v010_database_upgrades_with_its_chains_kept_and_verified(empty_database_url):  # noqa: F811
    enterprise_id = uuid.uuid4()
    upgrade(empty_database_url, "0001")
    engine = sa.create_engine(empty_database_url)
    with engine.begin() as conn:
        last = _append_as_v010(conn, f"enterprise:{enterprise_id}", 3)
        _append_as_v010(conn, "system", 2)
    upgrade(empty_database_url)
    try:
        with Session(engine) as session:
            legacy = session.get(ChainHead, f"enterprise:{enterprise_id}")
            assert (legacy.enterprise_id, legacy.length, legacy.last_hash) == (enterprise_id, 3, last)
            assert session.scalars(
                sa.select(Event.seq).where(Event.chain == legacy.chain).order_by(Event.id)
            ).all() == [1, 2, 3]
            assert [(r.chain, r.events, r.ok) for r in verify(session)] == [
                (f"enterprise:{enterprise_id}", 3, True),
                ("system", 2, True),
            ]
            audit.record(
                session,
                kind="permit.filed",
                actor=SYSTEM,
                subject_type="permit",
                subject_id=uuid.uuid4(),
                at=AT,
            )
            session.commit()
            assert (
                session.get(ChainHead, f"enterprise:{enterprise_id}").length == 3
            )  # frozen: nothing new joins it
            reports = list(verify(session))
            assert len(reports) == 3 and all(r.ok for r in reports)
    finally:
        engine.dispose()
