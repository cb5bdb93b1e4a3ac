"""The core's view of a permit: the permits around it are read only when a conflict guard needs them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from permit_service.auth.principal import SYSTEM, Principal
from permit_service.permits import service as permits
from permit_service.scheduling.jobs import run_expire_permits
from tests.api.checks import listening
from tests.integration.scheduler_helpers import NOW, arrange, run, states


@contextmanager
def queries(app, *fragments: str) -> Iterator[list[str]]:
    """Collect the statements that contain every one of `fragments`."""
    found: list[str] = []

    def spy(conn, cursor, statement, parameters, context, executemany) -> None:
        if all(f in statement for f in fragments):
            found.append(statement)

    with listening(app, "before_cursor_execute", spy):
        yield found


def nearby_queries(app):
    """The statements that look for the permits around another one (G-04, HW-10, BP-02, CS-06)."""
    return queries(app, "FROM permits", "permits.id !=")


def test_expiry_does_not_read_the_permits_around(app, factory, db_session):
    world = factory.world()
    due = arrange(db_session, world, n=3, valid_until=NOW)
    arrange(db_session, world, n=5)  # live neighbours the expiry has no use for
    with nearby_queries(app) as found:
        assert run(app, run_expire_permits, NOW).done == 3
    assert found == []
    assert states(db_session, due) == {"expired": 3}


def test_G_04_the_allowed_actions_of_a_briefed_permit_read_the_permits_around(app, factory, db_session):
    world = factory.world()
    (briefed,) = arrange(db_session, world, state="briefed", valid_from=NOW - timedelta(minutes=5))
    (active,) = arrange(db_session, world)
    leader = world.people["work_leader"]
    # The one who may start the work: the rules of an action are judged for a caller whose role may take it.
    caller = Principal(str(leader.id), "person", leader.name, frozenset({"work_leader"}), world.enterprise.id)
    with app.app_context(), app.extensions["db_sessionmaker"]() as session:
        with nearby_queries(app) as found:
            permit = permits.get_permit(session, principal=caller, permit_id=active)
            permits.allowed_actions(session, permit, caller)
        assert found == []  # nothing an active permit may do next looks at its neighbours
        with nearby_queries(app) as found:
            permit = permits.get_permit(session, principal=caller, permit_id=briefed)
            permits.allowed_actions(session, permit, caller)
        assert len(found) == 1  # `activate` checks for conflicts, once however many guards ask
        with nearby_queries(app) as found:
            permits.allowed_actions(session, permit, SYSTEM)
        assert found == []  # the system may not start work: its role settles it before any conflict is read


def test_expiry_does_not_read_the_presence_register(app, factory, db_session):
    # Presence is read when a guard reads it (CS-05 at completion, HC-04 on resuming); no guard of expiry does.
    world = factory.world()
    due = arrange(db_session, world, n=3, valid_until=NOW)
    with queries(app, "FROM presence_entries", "presence_entries.permit_id =") as found:
        assert run(app, run_expire_permits, NOW).done == 3
    assert found == []
    assert states(db_session, due) == {"expired": 3}
