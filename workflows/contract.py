"""What each workflow event asks of its caller, read from the workflow itself: who may fire it, which rules may refuse it.

The OpenAPI document publishes this next to each action, so it follows the catalogue instead of being written twice.
Rule IDs are collected from the event's guards: the IDs they name in their code, in their closures and in the
declarations of the workflow they read (e.g. a fact's own rule), plus the rule of each signing step's signer.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable
from typing import Any

from workflows.base import Workflow
from workflows.signatures import STATIC_ROLES, SYSTEM

RULE_ID = re.compile(r"^(?:[A-Z]{1,4}-\d{2}|ROLE|STATE)$")
_DEPTH = 4  # how far a guard's helpers are followed (guards call small helpers of their own module)


def roles_for(workflow: Workflow, event: str) -> list[str]:
    """The roles any one of which may fire `event` on a permit of this type (the system actor aside)."""
    signatures = workflow.signatures
    approvers = [role for grade in workflow.grades for role in grade.approvers]
    if event == "approve":
        roles = [*approvers, "principal"]  # HR-02: a raised grade adds the principal's approval
    elif event == "brief":
        roles = list(signatures.briefing_order)
    elif event == "accept":
        roles = [role for group in signatures.acceptance for role in group]
    elif event in ("reject", "cancel", "void"):
        roles = [*(("applicant",) if event != "reject" else ()), *approvers]
        roles += (
            list(STATIC_ROLES["countersign"]) if event == "reject" and signatures.countersign_rule else []
        )
        roles += ["safety_dept"] if event == "void" else []
    else:
        roles = list(signatures.roles(event))
    return [role for role in dict.fromkeys(roles) if role != SYSTEM]


def rules_for(workflow: Workflow, event: str) -> list[str]:
    """The rule IDs that may refuse `event` on a permit of this type, besides STATE (the wrong state) and ROLE."""
    found: set[str] = set()
    seen: dict[int, Any] = {}  # holds what it saw, so that no id is reused while it runs
    for guard in workflow._guards.get(event, ()):
        found |= _rule_ids(guard, seen, _DEPTH)
    found |= _signer_rules(workflow, event, seen)
    return sorted(found - {"STATE", "ROLE"})


def _signer_rules(workflow: Workflow, event: str, seen: dict[int, Any]) -> set[str]:
    """The rules behind "not you, not yet" of the signing events: who signs is itself a rule there."""
    signatures = workflow.signatures
    if event == "approve":
        return _rule_ids(workflow.grading.approval_slots, seen, _DEPTH)  # G-10, HR-02
    if event == "brief":
        return {signatures.briefing_rule, "G-05"}
    if event == "accept":
        return {signatures.acceptance_rule}
    if event == "close":
        return {signatures.close_rule}  # BP-04, TE-03
    return set()


def _rule_ids(obj: Any, seen: dict[int, Any], depth: int) -> set[str]:
    """Rule IDs named by a guard, a helper it calls, a closure value or a declaration it reads."""
    if isinstance(obj, str):
        return {obj} if RULE_ID.match(obj) else set()
    if depth < 0 or id(obj) in seen:
        return set()
    seen[id(obj)] = obj
    if isinstance(obj, types.MethodType):
        found = _rule_ids(obj.__func__, seen, depth)
        names = _names(obj.__func__.__code__)
        return found | _values(
            getattr(obj.__self__, name, None) for name in names if "rule" in name or name == "facts"
        )
    if isinstance(obj, types.FunctionType):
        found = _code_rule_ids(obj.__code__)
        found |= _values(cell.cell_contents for cell in obj.__closure__ or () if _filled(cell))
        names = _names(obj.__code__)
        helpers = [obj.__globals__.get(name) for name in names]
        # A helper module's functions the guard calls by attribute (`on_site.judge`) count as helpers too.
        helpers += [
            getattr(module, name, None)
            for module in helpers
            if isinstance(module, types.ModuleType) and module.__name__.startswith("workflows")
            for name in names
        ]
        for helper in helpers:
            if isinstance(helper, types.FunctionType) and helper.__module__.startswith("workflows"):
                found |= _rule_ids(helper, seen, depth - 1)
        for cell in obj.__closure__ or ():
            if _filled(cell) and callable(cell.cell_contents):
                found |= _rule_ids(cell.cell_contents, seen, depth - 1)
        return found
    return set()


def _values(values: Iterable[Any]) -> set[str]:
    """Rule IDs among plain values: strings, or declarations carrying a `rule` (tuples of them too)."""
    found: set[str] = set()
    for value in values:
        items = value if isinstance(value, tuple | list) else (value,)
        for item in items:
            rule = item if isinstance(item, str) else getattr(item, "rule", None)
            if isinstance(rule, str) and RULE_ID.match(rule):
                found.add(rule)
    return found


def _code_rule_ids(code: types.CodeType) -> set[str]:
    return _const_rule_ids(code.co_consts)


def _const_rule_ids(consts: Iterable[Any]) -> set[str]:
    """Rule IDs among a code object's constants, in folded tuples and nested functions too."""
    found: set[str] = set()
    for const in consts:
        if isinstance(const, str) and RULE_ID.match(const):
            found.add(const)
        elif isinstance(const, tuple | frozenset):
            found |= _const_rule_ids(const)
        elif isinstance(const, types.CodeType):
            found |= _code_rule_ids(const)
    return found


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True
