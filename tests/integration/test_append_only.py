"""AU-01: events, signatures, gas tests, sealed checkpoints and feed positions are append-only in the database itself: the
service's own connection cannot UPDATE or DELETE them, on PostgreSQL and on SQLite."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from permit_service.scheduling import jobs
from tests.api.permit_flows import PermitFlow
from tests.integration.scheduler_helpers import run

GUARDED = ("events", "signatures", "gas_tests", "audit_checkpoints", "audit_checkpoint_heads", "event_feed")


@pytest.fixture
def records(app, client, factory, clock):
    """A permit worked to active (events, signatures, a gas test) and a sealed checkpoint."""
    flow = PermitFlow(client, factory, factory.world()).file("hot_work").submit().approve().gas_test().brief()
    flow.shift_check().activate()
    run(app, jobs.run_seal_checkpoints, clock.now())
    return flow


@pytest.mark.parametrize("table", GUARDED)
@pytest.mark.parametrize("statement", ["UPDATE {table} SET {column} = {column}", "DELETE FROM {table}"])
def test_AU_01_the_service_cannot_update_or_delete_a_kept_record(app, records, table, statement):
    with Session(app.extensions["db_engine"]) as session:
        assert session.scalar(sa.text(f"SELECT count(*) FROM {table}")) > 0  # rows exist: the trigger fires
        column = sa.inspect(session.get_bind()).get_pk_constraint(table)["constrained_columns"][0]
        with pytest.raises(DBAPIError, match=r"AU-01: .* are append-only"):
            session.execute(sa.text(statement.format(table=table, column=column)))
        session.rollback()
        assert session.scalar(sa.text(f"SELECT count(*) FROM {table}")) > 0


def test_AU_01_a_permit_still_works_through_its_life_with_the_guards_in_place(records):
    assert records.suspend().reload().state == "suspended"
