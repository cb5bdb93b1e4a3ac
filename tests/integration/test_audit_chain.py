"""The hash chain of events (AU-01, AU-02): concurrent appends, verification, tampering."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from permit_service.audit import service as audit
from permit_service.audit.models import Event
from permit_service.auth import SYSTEM


@pytest.mark.postgres_only
def test_AU_02_first_events_of_a_chain_written_at_once_all_land_in_one_chain(app, factory):
    world = factory.world()
    make_session = sessionmaker(bind=app.extensions["db_engine"])
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            with app.app_context(), make_session() as session, session.begin():
                barrier.wait()
                audit.record(
                    session,
                    kind="test.concurrent",
                    actor=SYSTEM,
                    subject_type="test",
                    subject_id=str(n),
                    enterprise_id=world.enterprise.id,
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with make_session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == 8
        assert all(report.ok for report in audit.verify(session))


def test_AU_02_an_edited_event_breaks_its_chain(app, factory, db_session):
    world = factory.world()
    with app.app_context():
        for n in range(3):
            audit.record(
                db_session, kind="test.edit", actor=SYSTEM, subject_type="test", subject_id=str(n),
                enterprise_id=world.enterprise.id,
            )  # fmt: skip
        db_session.commit()
        assert all(r.ok for r in audit.verify(db_session))
        db_session.execute(sa.update(Event).where(Event.subject_id == "1").values(kind="test.tampered"))
        db_session.commit()
        broken = [r for r in audit.verify(db_session) if not r.ok]
    assert len(broken) == 1 and "edited" in broken[0].reason
