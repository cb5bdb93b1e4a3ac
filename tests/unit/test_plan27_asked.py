"""HR-01: every permit answers whether it is Plan-27 work, the obvious cases are derived, and a 切水 job in a dike
stops hot work there with or without a permit (HW-10)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from workflows.model import Area, DikeJob
from workflows.rules.plan27 import derived_kind
from workflows.states import State

from .factories import NOW, check, permit


def test_HR_01_a_permit_that_never_answered_is_asked_at_submit() -> None:
    assert "HR-01" in check(replace(permit(), high_risk_answer=None), "submit")
    assert "HR-01" not in check(permit(), "submit")


@pytest.mark.parametrize(
    ("permit_type", "facts", "kind"),
    [
        ("confined_space", {"space_kind": "tank", "purpose": "cleaning"}, "tank_cleaning"),
        ("blind_plate", {"leaking_line": True}, "leak_plugging"),
        ("hot_work", {"leaking_line": True}, "leak_plugging"),
        ("height", {"activities": ["water_draining"]}, "water_draining"),
    ],
)
def test_HR_01_obvious_plan27_work_cannot_answer_none(permit_type: str, facts: dict, kind: str) -> None:
    assert derived_kind(permit_type, facts)[0] == kind
    filed_as_none = permit(permit_type, facts=facts)
    assert "HR-01" in check(filed_as_none, "submit")
    assert "HR-01" not in check(replace(filed_as_none, high_risk_answer=kind), "submit")


@pytest.mark.parametrize(
    ("permit_type", "facts"),
    [
        ("confined_space", {"space_kind": "tank", "purpose": "inspection"}),
        ("confined_space", {"space_kind": "tower", "purpose": "cleaning"}),
        ("hot_work", {"activities": ["sampling"]}),
    ],
)
def test_HR_01_other_work_may_answer_none(permit_type: str, facts: dict) -> None:
    assert derived_kind(permit_type, facts) is None
    assert "HR-01" not in check(permit(permit_type, facts=facts), "submit")


def _draining(starts_hours: float = -1, ends_hours: float = 8) -> DikeJob:
    return DikeJob(
        "job-1",
        "2#罐切水",
        "water_draining",
        NOW + timedelta(hours=starts_hours),
        NOW + timedelta(hours=ends_hours),
    )


def test_HW_10_a_water_draining_job_in_the_dike_stops_hot_work_with_or_without_a_permit() -> None:
    in_dike = permit(state=State.submitted, area=Area("tank-farm", dike_code="D-1"))
    assert "HW-10" in check(in_dike, "approve", dike_jobs=(_draining(),))
    assert "HW-10" in check(replace(in_dike, state=State.briefed), "activate", dike_jobs=(_draining(),))


def test_HW_10_a_water_draining_job_elsewhere_or_at_another_time_does_not() -> None:
    no_dike = permit(state=State.submitted)
    assert "HW-10" not in check(no_dike, "approve", dike_jobs=(_draining(),))
    in_dike = replace(no_dike, area=Area("tank-farm", dike_code="D-1"))
    assert "HW-10" not in check(in_dike, "approve", dike_jobs=(_draining(5, 9),))  # the permit ends at +4 h
