"""AU-03, DC-01, G-06: what a stored gas reading or card sighting names (its batch, enterprise, area, a reading's
detector) is kept as long as the record is. Since 0026 (readings) and 0028 (sightings) no foreign key checks each
record; a trigger on each named table refuses to delete the row, or change its id, while a record names it, whoever
sends the statement, on PostgreSQL and SQLite alike."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from permit_service.integrations import service
from permit_service.integrations.models import CardSighting, Detector, GasReadingRecord, IngestBatch
from tests.conftest import DEFAULT_NOW
from tests.plant import iso, portal, registered_earlier

# the record's table -> (the words the guard names it by, its model, each table it names -> its column)
NAMED = {
    "gas_readings": (
        "gas readings",
        GasReadingRecord,
        {"ingest_batches": "batch_id", "enterprises": "enterprise_id", "detectors": "detector_id", "plant_areas": "area_id"},
    ),
    "card_sightings": (
        "card sightings",
        CardSighting,
        {"ingest_batches": "batch_id", "enterprises": "enterprise_id", "plant_areas": "area_id"},
    ),
}  # fmt: skip
CASES = [(record, table) for record, (_, _, tables) in NAMED.items() for table in tables]


def _table(name: str) -> sa.TableClause:
    return sa.table(name, sa.column("id", sa.Uuid))


PUSHES = {
    "gas_readings": ("gas-readings", lambda area: {"readings": [{"detector": "GD-1", "value": 1.0, "measured_at": iso()}]}),
    "card_sightings": ("card-sightings", lambda area: {"sightings": [{"card_id": "CARD-1", "area_code": area, "seen_at": iso()}]}),
}  # fmt: skip


def _pushed(client, factory, record: str) -> GasReadingRecord | CardSighting:
    """One record of the kind, pushed by the enterprise's plant portal; a second detector that no reading names."""
    world = factory.world()
    gate = portal(factory, world)
    for code in ("GD-1", "GD-IDLE"):
        detector = {"code": code, "area_code": world.area.code, "gas": "CH4", "unit": "%LEL"}
        assert (
            client.post("/api/v1/integrations/detectors", json=detector, headers=gate.headers).status_code
            == 201
        )
    registered_earlier(factory, world)
    path, body = PUSHES[record]
    resp = client.post(f"/api/v1/integrations/{path}", json=body(world.area.code), headers=gate.push("one"))
    assert resp.status_code == 201 and resp.get_json()["accepted"] == 1, resp.get_json()
    stored = factory.session.scalars(sa.select(NAMED[record][1])).one()
    factory.session.commit()
    return stored


def _still_named(session: Session, record: str, stored: GasReadingRecord | CardSighting) -> bool:
    """Every row the record names is there."""
    return all(
        session.scalar(sa.select(sa.func.count()).where(_table(name).c.id == getattr(stored, column))) == 1
        for name, column in NAMED[record][2].items()
    )


@pytest.mark.parametrize(("record", "table"), CASES)
@pytest.mark.parametrize("change", ["delete", "new id"])
def test_AU_03_a_row_a_reading_or_sighting_names_is_neither_deleted_nor_renumbered(
    app, client, factory, record, table, change
):
    stored = _pushed(client, factory, record)
    words, _, tables = NAMED[record]
    named = _table(table)
    where = named.c.id == getattr(stored, tables[table])
    statement = (
        sa.delete(named).where(where)
        if change == "delete"
        else sa.update(named).where(where).values(id=uuid.uuid4())
    )
    with Session(app.extensions["db_engine"]) as session:
        with pytest.raises(IntegrityError, match=f"AU-03: {words} name this row of {table}"):
            session.execute(statement)
        session.rollback()
        assert _still_named(session, record, stored)


def test_AU_03_a_detector_no_reading_names_can_still_go(app, client, factory):
    _pushed(client, factory, "gas_readings")
    with Session(app.extensions["db_engine"]) as session:
        session.execute(sa.delete(Detector).where(Detector.code == "GD-IDLE"))
        session.commit()
        assert session.scalars(sa.select(Detector.code)).all() == ["GD-1"]


@pytest.mark.parametrize("record", NAMED)
def test_DC_05_the_purge_of_batch_keys_passes_the_guard_and_the_record_keeps_its_batch(
    app, client, factory, record
):
    stored = _pushed(client, factory, record)
    with app.app_context(), app.extensions["db_sessionmaker"].begin() as session:
        assert service.purge_expired_batch_keys(session, now=DEFAULT_NOW + timedelta(days=8)) == 1
    with Session(app.extensions["db_engine"]) as session:
        assert (
            session.scalar(sa.select(IngestBatch.idempotency_key).where(IngestBatch.id == stored.batch_id))
            is None
        )
        assert _still_named(session, record, stored)
