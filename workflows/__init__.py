"""The workflow core: permit type -> Workflow. Pure Python (standard library + transitions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from workflows import (
    blind_plate,
    confined_space,
    excavation,
    height,
    hot_work,
    lifting,
    road_closure,
    temporary_power,
)
from workflows.base import Blocked, Outcome, Workflow
from workflows.gas import evaluate
from workflows.model import GasReading
from workflows.rules import RuleViolation, Violation

WORKFLOWS: dict[str, Workflow] = {
    wf.type: wf
    for wf in (
        hot_work.WORKFLOW,
        confined_space.WORKFLOW,
        blind_plate.WORKFLOW,
        height.WORKFLOW,
        lifting.WORKFLOW,
        temporary_power.WORKFLOW,
        excavation.WORKFLOW,
        road_closure.WORKFLOW,
    )
}


def get_workflow(permit_type: str) -> Workflow:
    """The workflow of a permit type; an unknown type raises KeyError naming the known ones."""
    try:
        return WORKFLOWS[permit_type]
    except KeyError:
        raise KeyError(f"unknown permit type {permit_type!r}; known: {', '.join(WORKFLOWS)}") from None


def evaluate_gas(
    permit_type: str,
    readings: Iterable[GasReading | Mapping[str, Any]],
    facts: Mapping[str, Any],
    policy: Mapping[str, Any] | None = None,
) -> tuple[bool, list[Violation]]:
    """Judge a sample by the gas rule of a permit type (HW-05, CS-02; TE-02 uses HW-05)."""
    plan = get_workflow(permit_type).gas_plan
    if plan is None:
        raise KeyError(f"permit type {permit_type!r} has no gas rule")
    return evaluate(plan.limits, readings, facts, policy)


__all__ = [
    "WORKFLOWS",
    "Blocked",
    "Outcome",
    "RuleViolation",
    "Violation",
    "Workflow",
    "evaluate_gas",
    "get_workflow",
]
