"""The hash chains of events (AU-01, AU-02): one per subject, appended concurrently, verified, tampering named."""

from __future__ import annotations

import itertools
import threading
import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from permit_service.audit import service as audit
from permit_service.audit.models import ChainHead, Event
from permit_service.audit.verify import verify
from permit_service.auth import SYSTEM
from permit_service.cli import main


def _record(
    session: Session, enterprise_id: uuid.UUID, subject_id: uuid.UUID, kind: str = "test.event"
) -> Event:
    return audit.record(
        session,
        kind=kind,
        actor=SYSTEM,
        subject_type="permit",
        subject_id=subject_id,
        enterprise_id=enterprise_id,
    )


def test_AU_02_each_subject_has_its_own_chain_numbered_from_one(app, factory, db_session):
    world = factory.world()
    first, second = uuid.uuid4(), uuid.uuid4()
    with app.app_context():
        events = [_record(db_session, world.enterprise.id, subject) for subject in (first, second, first)]
        db_session.commit()
        assert [(e.chain, e.seq) for e in events] == [
            (f"permit/{first}", 1),
            (f"permit/{second}", 1),
            (f"permit/{first}", 2),
        ]
        assert events[2].prev_hash == events[0].hash and events[1].prev_hash == audit.GENESIS
        head = db_session.get(ChainHead, f"permit/{first}")
        assert (head.last_hash, head.length, head.enterprise_id) == (events[2].hash, 2, world.enterprise.id)
        assert [r.ok for r in verify(db_session)] == [True, True]


@pytest.mark.postgres_only
def test_AU_02_writes_to_two_permits_of_one_enterprise_do_not_wait_on_one_row(app, factory):
    world = factory.world()
    make_session = sessionmaker(bind=app.extensions["db_engine"])
    busy, other = uuid.uuid4(), uuid.uuid4()
    with app.app_context(), make_session() as holding, holding.begin():
        _record(holding, world.enterprise.id, busy)  # this transaction keeps its locks until the block ends
        with make_session() as session, session.begin():
            session.execute(sa.text("SET LOCAL lock_timeout = '1s'"))
            _record(session, world.enterprise.id, other)  # another permit of the enterprise: no wait
        with make_session() as session, session.begin():
            session.execute(sa.text("SET LOCAL lock_timeout = '1s'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                _record(session, world.enterprise.id, busy)  # the same permit's chain does wait: one order
    with make_session() as session:
        assert all(r.ok for r in verify(session))


@pytest.mark.postgres_only
def test_AU_02_concurrent_events_of_one_permit_form_one_valid_chain(app, factory):
    world = factory.world()
    permit_id = uuid.uuid4()
    make_session = sessionmaker(bind=app.extensions["db_engine"])
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def append() -> None:
        try:
            with app.app_context(), make_session() as session, session.begin():
                barrier.wait()
                _record(session, world.enterprise.id, permit_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with make_session() as session:
        rows = session.execute(sa.select(Event.seq, Event.prev_hash, Event.hash).order_by(Event.seq)).all()
        assert [r.seq for r in rows] == list(range(1, 9))
        assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(rows))
        assert [(r.events, r.ok) for r in verify(session)] == [(8, True)]


# --- tampering, caught by `permit-service audit verify` ----------------------------------------------------


@pytest.fixture
def trail(app, factory, db_session, cli_env):
    """Five events of one permit (and one of another, left alone), and the CLI pointed at the test database."""
    world = factory.world()
    permit_id = uuid.uuid4()
    with app.app_context():
        events = [_record(db_session, world.enterprise.id, permit_id, f"test.step{n}") for n in range(1, 6)]
        _record(db_session, world.enterprise.id, uuid.uuid4())
        db_session.commit()
    return [e.id for e in events]


def tamper(db_session: Session, *statements: str) -> None:
    """Change the record behind the service's back, as the database's owner could: with the append-only
    triggers (AU-01) switched off for this one transaction."""
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        guards = []
    else:
        guards = db_session.scalars(sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger'")).all()
        for name in db_session.scalars(
            sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        ).all():
            db_session.execute(sa.text(f"DROP TRIGGER {name}"))
    for statement in statements:
        db_session.execute(sa.text(statement))
    for guard in guards:
        db_session.execute(sa.text(guard))
    db_session.commit()


def audit_verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["audit", "verify", *args])
    return result.exit_code, result.output


def test_AU_02_an_intact_history_verifies(trail):
    code, output = audit_verify()
    assert code == 0 and "2 chains, 6 events intact" in output


def test_AU_02_an_edited_field_is_named_at_the_edited_event(trail, db_session):
    tamper(db_session, f"UPDATE events SET kind = 'test.forged' WHERE id = {trail[2]}")
    code, output = audit_verify()
    assert code == 1 and f"event {trail[2]} edited" in output and "1 of 2 chains broken" in output


def delete_event(db_session: Session, event_id: int) -> None:
    """Delete an event as its owner could: its feed position (issue 17) has to go with it."""
    tamper(
        db_session,
        f"DELETE FROM event_feed WHERE event_id = {event_id}",
        f"DELETE FROM events WHERE id = {event_id}",
    )


def test_AU_02_a_deleted_event_is_named_at_the_event_after_the_gap(trail, db_session):
    delete_event(db_session, trail[2])
    code, output = audit_verify()
    assert code == 1 and f"event {trail[3]} deleted" in output


def test_AU_02_a_deleted_last_event_is_named_after_the_event_before_it(trail, db_session):
    delete_event(db_session, trail[4])
    code, output = audit_verify()
    assert code == 1 and f"event {trail[3]} deleted: 1 event(s) after it are missing" in output


def test_AU_02_two_swapped_events_are_named_as_reordered(trail, db_session):
    tamper(
        db_session,
        f"UPDATE events SET seq = 100 WHERE id = {trail[1]}",
        f"UPDATE events SET seq = 2 WHERE id = {trail[2]}",
        f"UPDATE events SET seq = 3 WHERE id = {trail[1]}",
    )
    code, output = audit_verify()
    assert code == 1 and f"event {trail[2]} reordered" in output


def test_AU_02_an_inserted_event_is_named_even_with_a_valid_hash_of_its_own(app, trail, db_session):
    # make room at position 3, then insert a forged event there that links correctly to event 2
    for event_id in reversed(trail[2:]):
        tamper(db_session, f"UPDATE events SET seq = seq + 1 WHERE id = {event_id}")
    second = db_session.get(Event, trail[1])
    forged = Event(
        at=second.at, kind="test.forged", actor_id=second.actor_id, actor_roles=second.actor_roles,
        enterprise_id=second.enterprise_id, region_id=None, subject_type="permit", subject_id=second.subject_id,
        data={}, chain=second.chain, seq=3, prev_hash=second.hash, hash="",
    )  # fmt: skip
    forged.hash = audit.event_hash(forged)
    db_session.add(forged)
    db_session.commit()
    code, output = audit_verify()
    assert code == 1 and f"event {forged.id} inserted" in output


def test_AU_02_verify_can_be_limited_to_one_enterprise(trail, factory, db_session):
    tamper(db_session, f"UPDATE events SET kind = 'test.forged' WHERE id = {trail[0]}")
    other = factory.world().enterprise.id  # a world of its own: no events
    assert audit_verify("--enterprise", str(other)) == (0, "0 chains, 0 events intact / 审计链完整\n")
    assert audit_verify("--since", "2026-06-10T10:00:00")[0] == 1
    assert audit_verify("--since", "2026-06-11T10:00:00+08:00")[0] == 0  # no chain has events that late


def test_AU_02_verify_reports_its_progress_as_it_streams(trail, db_session):
    seen: list[tuple[int, int]] = []
    reports = list(verify(db_session, progress=lambda events, chains: seen.append((events, chains)), every=2))
    assert sorted(r.events for r in reports) == [1, 5] and all(r.ok for r in reports)
    assert [events for events, _chains in seen] == [2, 4, 6]
