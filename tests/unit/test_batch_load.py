"""A pushed batch loads to what its marshmallow schema loads, and a faulty one is answered with its errors."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from permit_service.integrations import ingest

AT = "2026-06-10T10:00:00+08:00"
BODIES = {
    "gas_readings": {
        "readings": [
            {"detector": "GD-1", "value": 1, "measured_at": AT},
            {"detector": "GD-2", "value": "0.25", "measured_at": "2026-06-10T02:00:00Z"},
        ]
    },
    "positions": {
        "snapshots": [
            {"area_code": "U1", "observed_at": AT, "card_ids": ["C-1", "C-2"]},
            {"area_code": "U1", "observed_at": AT, "card_ids": []},
        ]
    },
    "card_sightings": {"sightings": [{"card_id": "C-1", "area_code": "U1", "seen_at": AT}]},
    "alarms": {
        "alarms": [
            {"area_code": "U1", "kind": "gas", "message": "H2S high", "raised_at": AT},
            {"area_code": "U1", "kind": "fire", "message": "fire", "raised_at": AT, "detector": "GD-1",
             "plant_alarm_id": "P-9"},
        ]
    },
}  # fmt: skip
FAULTS = [
    {"value": True},
    {"value": -1},
    {"value": float("nan")},
    {"measured_at": "2026-06-10T10:00:00"},
    {"measured_at": "1999-12-31T23:00:00+00:00"},
    {"detector": ""},
    {"detector": "GD\t1"},
    {"detector": "GD\x071"},
    {"extra": 1},
]


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_a_sound_batch_loads_as_its_schema_loads_it(kind):
    spec = ingest.PUSHES[kind]
    assert ingest._load(spec.schema, BODIES[kind]) == (spec.schema().load(BODIES[kind]), {})


@pytest.mark.parametrize("fault", FAULTS, ids=repr)
def test_a_faulty_reading_is_answered_with_the_schemas_errors(fault):
    body = {
        "readings": [
            BODIES["gas_readings"]["readings"][0],
            {**BODIES["gas_readings"]["readings"][1], **fault},
        ]
    }
    with pytest.raises(ValidationError) as refused:
        ingest.PUSHES["gas_readings"].schema().load(body)
    data, errors = ingest._load(ingest.PUSHES["gas_readings"].schema, body)
    assert errors and all(key.startswith("readings.1.") for key in errors)
    assert data == (refused.value.valid_data or {})


@pytest.mark.parametrize(
    "body", [{"readings": []}, {"readings": "GD-1"}, {}, {"readings": [], "more": 1}], ids=repr
)
def test_a_malformed_batch_is_answered_whole(body):
    assert ingest._load(ingest.PUSHES["gas_readings"].schema, body)[1]
