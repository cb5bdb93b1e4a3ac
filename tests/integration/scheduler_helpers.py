"""Arranging permits and running scheduler jobs in tests (time is passed in, never slept on)."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from permit_service.audit.models import Event
from permit_service.clock import FixedClock
from permit_service.permits.models import Permit
from permit_service.scheduling.jobs import RunReport, SessionFactory

_numbers = itertools.count(1)
NOW = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)  # 10:00 Asia/Shanghai, the suite's default clock


def permit_row(world: Any, *, other: bool = False, **overrides: Any) -> dict[str, Any]:
    """Column values of an active level-1 hot-work permit (arranged directly: these tests are about the scheduler)."""
    enterprise = world.other_enterprise if other else world.enterprise
    people = world.other_people if other else world.people
    return {
        "id": uuid.uuid4(),
        "enterprise_id": enterprise.id,
        "area_id": (world.other_area if other else world.area).id,
        "number": f"DH-2026-{next(_numbers):06d}",
        "type": "hot_work",
        "grade": "level1",
        "state": "active",
        "version": 1,
        "title": "E-101 出口管线补焊",
        "location": "",
        "work_content": "",
        "valid_from": NOW - timedelta(hours=1),
        "valid_until": NOW + timedelta(hours=6),
        "facts": {},
        "risk_analysis": "已辨识",
        "measures": [],
        "applicant_id": people["applicant"].id,
        "created_at": NOW - timedelta(hours=2),
        "updated_at": NOW - timedelta(hours=2),
        "activated_at": NOW - timedelta(hours=1),
        "gas_alarm": False,
        **overrides,
    }


def arrange(db_session: Any, world: Any, n: int = 1, **overrides: Any) -> list[uuid.UUID]:
    """Insert `n` permits in one statement and return their ids."""
    rows = [permit_row(world, **overrides) for _ in range(n)]
    db_session.execute(sa.insert(Permit), rows)
    db_session.commit()
    return [r["id"] for r in rows]


def run(
    app: Flask, job: Callable[[SessionFactory, datetime], RunReport], now: datetime, **kw: Any
) -> RunReport:
    """Run a job body at `now`, as the scheduler does (app context, the app's session factory, the clock at `now`)."""
    clock = app.extensions["clock"]
    if isinstance(clock, FixedClock):
        clock.set(now)
    with app.app_context():
        return job(app.extensions["db_sessionmaker"], now, **kw)


def states(db_session: Any, ids: list[uuid.UUID]) -> Counter[str]:
    """How many of the permits are in each state."""
    found = Counter(db_session.scalars(sa.select(Permit.state).where(Permit.id.in_(ids))))
    db_session.commit()  # SQLite: release the write lock
    return found


def event_counts(db_session: Any, kind: str) -> Counter[str]:
    """How many events of `kind` each subject has."""
    found = Counter(db_session.scalars(sa.select(Event.subject_id).where(Event.kind == kind)))
    db_session.commit()
    return found
