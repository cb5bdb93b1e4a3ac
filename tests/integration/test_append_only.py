"""AU-01: events, signatures, gas tests, sealed checkpoints, feed positions and what the plant pushed (gas readings,
position snapshots, card sightings) are append-only in the database itself: the service's own connection cannot UPDATE
or DELETE them, on PostgreSQL and on SQLite."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from permit_service.scheduling import jobs
from tests.api.permit_flows import PermitFlow
from tests.integration.scheduler_helpers import run
from tests.plant import iso, portal, registered_earlier

GUARDED = (
    *("events", "signatures", "gas_tests", "audit_checkpoints", "audit_checkpoint_heads", "event_feed"),
    *("gas_readings", "position_snapshots", "card_sightings"),
)


@pytest.fixture
def records(app, client, factory, clock):
    """A permit worked to active (events, signatures, a gas test) and a sealed checkpoint."""
    flow = PermitFlow(client, factory, factory.world()).file("hot_work").submit().approve().gas_test().brief()
    flow.shift_check().activate()
    run(app, jobs.run_seal_checkpoints, clock.now())
    _plant_pushes(client, factory, flow)
    return flow


def _plant_pushes(client, factory, flow: PermitFlow) -> None:
    """A gas reading, a position snapshot and a card sighting from the enterprise's plant portal (DC-01), in an
    area of its own: nothing they report touches the permit."""
    world, gate = flow.world, portal(factory, flow.world)
    area = factory.area(world.enterprise, code="EAST").code
    for feed in ({"code": "GDS", "kind": "gas"}, {"code": "POS", "kind": "positioning"}):
        resp = client.post(
            "/api/v1/integrations/feeds", json={**feed, "area_codes": [area]}, headers=gate.headers
        )
        assert resp.status_code == 201, resp.get_json()
    detector = {"code": "O2-A", "area_code": area, "gas": "O2", "unit": "%vol", "feed": "GDS"}
    assert (
        client.post("/api/v1/integrations/detectors", json=detector, headers=gate.headers).status_code == 201
    )
    registered_earlier(factory, world)
    card = "VISITOR-1"
    for path, body in (
        ("gas-readings", {"readings": [{"detector": "O2-A", "value": 20.9, "measured_at": iso()}]}),
        ("positions", {"snapshots": [{"area_code": area, "observed_at": iso(), "card_ids": [card]}]}),
        ("card-sightings", {"sightings": [{"card_id": card, "area_code": area, "seen_at": iso()}]}),
    ):
        resp = client.post(f"/api/v1/integrations/{path}", json=body, headers=gate.push(path))
        assert resp.status_code == 201, resp.get_json()


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
