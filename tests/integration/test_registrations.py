"""Registering feeds and detectors: only their code's uniqueness is answered as "already registered" (DC-03)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from permit_service.auth.tokens import principal_of_client
from permit_service.errors import Conflict
from permit_service.integrations import service


def _register(app, session, principal, world, kind):
    with app.app_context():
        return service.register_feed(
            session,
            principal=principal,
            data={"code": "POS-1", "kind": kind, "area_codes": [world.area.code]},
        )


def test_DC03_a_twin_code_is_a_conflict_and_another_constraint_is_not_taken_for_one(app, factory, db_session):
    world = factory.world()
    principal = principal_of_client(factory.integration_client(world.enterprise))
    _register(app, db_session, principal, world, "positioning")
    with pytest.raises(Conflict, match="A feed with this code is already registered"):
        _register(app, db_session, principal, world, "positioning")
    # A kind the HTTP schema would refuse breaks the table's CHECK constraint, not the code's uniqueness.
    db_session.rollback()
    with pytest.raises(IntegrityError, match="kind"):
        _register(app, db_session, principal, world, "radar")
