"""AU-03, DC-01: what a stored gas reading names (its batch, enterprise, detector and area) is kept as long as the
reading is. Since 0026 no foreign key checks each reading; a trigger on each named table refuses to delete the row,
or change its id, while a reading names it, whoever sends the statement, on PostgreSQL and SQLite alike."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from permit_service.integrations import service
from permit_service.integrations.models import Detector, GasReadingRecord, IngestBatch
from tests.conftest import DEFAULT_NOW
from tests.plant import iso, portal, registered_earlier

NAMED = {
    "ingest_batches": "batch_id",
    "enterprises": "enterprise_id",
    "detectors": "detector_id",
    "plant_areas": "area_id",
}


def _table(name: str) -> sa.TableClause:
    return sa.table(name, sa.column("id", sa.Uuid))


@pytest.fixture
def reading(client, factory) -> GasReadingRecord:
    """One reading pushed by the enterprise's plant portal, and a second detector that no reading names."""
    world = factory.world()
    gate = portal(factory, world)
    for code in ("GD-1", "GD-IDLE"):
        detector = {"code": code, "area_code": world.area.code, "gas": "CH4", "unit": "%LEL"}
        assert (
            client.post("/api/v1/integrations/detectors", json=detector, headers=gate.headers).status_code
            == 201
        )
    registered_earlier(factory, world)
    body = {"readings": [{"detector": "GD-1", "value": 1.0, "measured_at": iso()}]}
    resp = client.post("/api/v1/integrations/gas-readings", json=body, headers=gate.push("one"))
    assert resp.status_code == 201 and resp.get_json()["accepted"] == 1, resp.get_json()
    stored = factory.session.scalars(sa.select(GasReadingRecord)).one()
    factory.session.commit()
    return stored


def _still_named(session: Session, reading: GasReadingRecord) -> bool:
    """Every row the reading names is there."""
    return all(
        session.scalar(sa.select(sa.func.count()).where(_table(name).c.id == getattr(reading, column))) == 1
        for name, column in NAMED.items()
    )


@pytest.mark.parametrize("table", NAMED)
@pytest.mark.parametrize("change", ["delete", "new id"])
def test_AU_03_a_row_a_gas_reading_names_is_neither_deleted_nor_renumbered(app, reading, table, change):
    named = _table(table)
    where = named.c.id == getattr(reading, NAMED[table])
    statement = (
        sa.delete(named).where(where)
        if change == "delete"
        else sa.update(named).where(where).values(id=uuid.uuid4())
    )
    with Session(app.extensions["db_engine"]) as session:
        with pytest.raises(IntegrityError, match=f"AU-03: gas readings name this row of {table}"):
            session.execute(statement)
        session.rollback()
        assert _still_named(session, reading)


def test_AU_03_a_detector_no_reading_names_can_still_go(app, reading):
    with Session(app.extensions["db_engine"]) as session:
        session.execute(sa.delete(Detector).where(Detector.code == "GD-IDLE"))
        session.commit()
        assert session.scalars(sa.select(Detector.code)).all() == ["GD-1"]


def test_DC_05_the_purge_of_batch_keys_passes_the_guard_and_the_readings_keep_their_batch(app, reading):
    with app.app_context(), app.extensions["db_sessionmaker"].begin() as session:
        assert service.purge_expired_batch_keys(session, now=DEFAULT_NOW + timedelta(days=8)) == 1
    with Session(app.extensions["db_engine"]) as session:
        assert (
            session.scalar(sa.select(IngestBatch.idempotency_key).where(IngestBatch.id == reading.batch_id))
            is None
        )
        assert _still_named(session, reading)
