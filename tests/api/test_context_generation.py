"""The freezes and the holiday calendar an action judges by are current, though a process keeps them between
changes (issue 14): any writer's change moves the context generation read with the permit (0027)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from permit_service.freezes.models import CalendarOverride, Freeze
from tests.api.permit_flows import PermitFlow


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


@pytest.fixture
def suspended(flow):
    """Active hot work, suspended: the process has read the region's freezes and calendar for the suspension."""
    return flow.file("hot_work").to_active().suspend()


def test_FZ_02_a_freeze_declared_behind_the_services_back_holds_the_next_resumption(suspended, db_session):
    db_session.add(
        Freeze(
            region_id=suspended.world.district.id,
            starts_at=suspended.now - timedelta(hours=1),
            ends_at=suspended.now + timedelta(hours=1),
            reason="重大活动保障",
            types=["hot_work"],
            mode="strict",
            state="declared",
            created_by="another-process",
        )
    )
    db_session.commit()
    suspended.refused("resume", "FZ-02", {"conditions_confirmed": True}, by="work_leader")


def test_HW_03_SD_01_a_rest_day_set_behind_the_services_back_raises_the_grade_the_resumption_lacks(
    suspended, db_session
):
    today = suspended.now.date()
    assert today == date(2026, 6, 10)  # a working Wednesday
    suspended.resume().suspend()  # the day as the process has read it: a working day
    db_session.add(
        CalendarOverride(
            region_id=suspended.world.district.id, day=today, rest_day=True, created_by="another-process"
        )
    )
    db_session.commit()
    problem = suspended.refused("resume", "SD-01", {"conditions_confirmed": True}, by="work_leader")
    assert "the grade now required lacks approval by: leader_in_charge" in problem["message_en"]
