"""Helpers that drive permits through the HTTP API as the right people would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import DEFAULT_NOW
from tests.factories import World


def iso(delta: timedelta = timedelta(0)) -> str:
    """A timestamp relative to the test clock's start, with an offset."""
    return (DEFAULT_NOW + delta).isoformat()


def draft_body(world: World, permit_type: str = "hot_work", **overrides: Any) -> dict[str, Any]:
    """A complete draft: hazard analysis, measures confirmed, crew with a guardian and a certified worker."""
    people = world.people
    worker = people["worker"]
    body: dict[str, Any] = {
        "type": permit_type,
        "area_id": str(world.area.id),
        "title": "常减压装置 E-101 换热器出口管线补焊",
        "location": "常减压装置区 E-101",
        "work_content": "更换法兰并补焊",
        "valid_from": iso(timedelta(minutes=10)),
        "valid_until": iso(timedelta(hours=6)),
        "facts": {},
        "risk_analysis": "可燃气体泄漏、火花飞溅；已隔离并置换",
        "measures": [
            {"code": "A1-01", "text": "置换合格", "involved": True, "confirmed_by": str(people["unit_leader"].id)},
        ],
        "crew": [
            {"person_id": str(people["work_leader"].id), "role": "work_leader"},
            {
                "person_id": str(worker.id),
                "role": "worker",
                "certificate_kind": "welder",
                "certificate_number": worker.certificates[0].number,
            },
            {"person_id": str(people["guardian"].id), "role": "guardian"},
        ],
    }
    body.update(overrides)
    return body
