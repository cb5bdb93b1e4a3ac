"""The shared machines: every (state, event) pair, the happy path of each type, diagrams, catalogue, purity."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
from dataclasses import replace

import pytest
import transitions

from workflows import WORKFLOWS, get_workflow
from workflows.rules import RuleViolation
from workflows.states import TERMINAL, State
from workflows.steps import EVENTS

from .factories import TYPES, actor, actor_for, apply, ctx, payload_for, permit

WORKFLOWS_DIR = pathlib.Path(__file__).resolve().parents[2] / "workflows"


def _defined(permit_type: str) -> set[tuple[str, str]]:
    return {(s.value, step.name) for step in get_workflow(permit_type).steps for s in step.sources}


@pytest.mark.parametrize("permit_type", TYPES)
@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("event", EVENTS)
def test_STATE_every_state_event_pair(permit_type: str, state: State, event: str) -> None:
    wf = get_workflow(permit_type)
    if state == State.countersigned and state not in {st for st, _ in _defined(permit_type)}:
        p = replace(
            permit(permit_type, State.submitted), state=State.countersigned
        )  # unreachable for this type
    else:
        p = permit(permit_type, state)
    c = ctx(actor_for(wf, p, event) if (state.value, event) in _defined(permit_type) else actor("applicant"))
    found = wf.check(p, event, c, payload_for(wf, p, event))
    if (state.value, event) in _defined(permit_type):
        assert "STATE" not in {v.rule_id for v in found}
    else:
        with pytest.raises(RuleViolation) as exc:
            wf.fire(p, event, c, payload_for(wf, p, event))
        assert exc.value.rule == "STATE"
        assert exc.value.allowed_actions is not None


@pytest.mark.parametrize("permit_type", TYPES)
def test_happy_path_reaches_closed_and_terminal_states_accept_nothing(permit_type: str) -> None:
    p = permit(permit_type, State.closed)
    assert p.state == State.closed
    kinds = [s.kind for s in p.signatures]
    assert kinds[0] == "application" and kinds[-1] == "closure"
    for end in TERMINAL:
        if end == State.closed:
            continue
        ended = permit(permit_type, end)
        assert ended.state == end
        assert (
            get_workflow(permit_type).allowed_actions(ended, ctx(actor("unit_leader", "safety_dept"))) == []
        )


@pytest.mark.parametrize("permit_type", TYPES)
def test_allowed_actions_are_defined_for_the_state(permit_type: str) -> None:
    wf = get_workflow(permit_type)
    p = permit(permit_type, State.active)
    everyone = actor(*{"guardian", "work_leader", "analyst", "applicant"}, person_id="p-leader")
    allowed = wf.allowed_actions(p, ctx(everyone))
    assert set(allowed) <= {e for s, e in _defined(permit_type) if s == State.active}
    assert "complete" in allowed and "suspend" in allowed


def test_STATE_unknown_event_is_a_state_conflict() -> None:
    with pytest.raises(RuleViolation) as exc:
        get_workflow("height").fire(permit("height"), "teleport", ctx())
    assert exc.value.rule == "STATE"
    assert "teleport" in exc.value.violations[0].en


def test_one_machine_per_type_built_once() -> None:
    machines = {id(wf.machine) for wf in WORKFLOWS.values()}
    assert len(machines) == len(WORKFLOWS)
    for wf in WORKFLOWS.values():
        assert isinstance(wf.machine, transitions.Machine)
        assert wf.machine.models == []  # model=None: nothing is bound to the shared machine
        assert wf.machine.auto_transitions is False
    before = get_workflow("hot_work").machine
    apply(permit("hot_work"), get_workflow("hot_work").fire(permit("hot_work"), "submit", ctx()), ctx())
    assert get_workflow("hot_work").machine is before


def test_get_workflow_unknown_type_raises_key_error() -> None:
    with pytest.raises(KeyError, match="unknown permit type"):
        get_workflow("diving")


def test_registry_names_and_prefixes() -> None:
    assert {t: wf.prefix for t, wf in WORKFLOWS.items()} == {
        "hot_work": "DH",
        "confined_space": "SX",
        "blind_plate": "MB",
        "height": "GC",
        "lifting": "DZ",
        "temporary_power": "LD",
        "excavation": "DT",
        "road_closure": "DL",
    }


@pytest.mark.parametrize("permit_type", TYPES)
def test_mermaid_is_generated_from_the_machine(permit_type: str) -> None:
    wf = get_workflow(permit_type)
    diagram = wf.mermaid()
    assert diagram.startswith("stateDiagram-v2\n    [*] --> draft")
    for state, event in _defined(permit_type):
        step = next(s for s in wf.steps if s.name == event)
        assert f"    {state} --> {(step.dest or state)} : {event}" in diagram
    assert "closed --> [*]" in diagram
    assert ("countersigned" in diagram) == (permit_type in ("excavation", "road_closure"))


@pytest.mark.parametrize("permit_type", TYPES)
def test_catalogue_describes_the_type(permit_type: str) -> None:
    cat = get_workflow(permit_type).catalogue()
    assert cat["type"] == permit_type and cat["zh"] and cat["en"]
    assert cat["grades"] and all(g["approvers"] and g["max_validity_hours"] > 0 for g in cat["grades"])
    lines = cat["measures"]["lines"]
    assert cat["measures"]["version"] == 1 and all(i["code"] and i["zh"] and i["en"] for i in lines)
    assert cat["signature_order"][0]["kind"] == "application"
    assert cat["mermaid"] == get_workflow(permit_type).mermaid()
    assert (cat["gas"] is not None) == (permit_type in ("hot_work", "confined_space", "temporary_power"))


def test_LF_04_catalogue_puts_the_signaller_first_in_the_briefing() -> None:
    order = get_workflow("lifting").catalogue()["signature_order"]
    briefing = next(o for o in order if o["kind"] == "briefing")
    assert briefing["roles"][0] == "signaller"


def test_workflows_imports_no_shell_in_a_fresh_interpreter() -> None:
    code = (
        "import sys, workflows; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'sqlalchemy', 'permit_service', 'chinese_calendar')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_source_imports_only_stdlib_and_transitions() -> None:
    allowed = set(sys.stdlib_module_names) | {"transitions", "workflows", "__future__"}
    for path in WORKFLOWS_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
