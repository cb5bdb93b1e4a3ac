"""The core judges a permit on the gas tests read_by_guards picks as it would on its whole history (issue 14: the
shell loads only those for an action, so an action's cost does not grow with the permit's life)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from workflows import get_workflow
from workflows.model import GasTest
from workflows.rules.gas_tests import read_by_guards
from workflows.states import State

from .factories import NOW, actor_for, ctx, payload_for, permit

GAS_TYPES = ("hot_work", "confined_space", "temporary_power")
STATES = (State.briefed, State.active, State.suspended)
# Minutes before the judgement's "now": nothing is sampled in the future (readings_valid refuses it).
SAMPLES = st.lists(st.tuples(st.integers(min_value=0, max_value=3 * 24 * 60), st.booleans()), max_size=12)


def _history(samples: list[tuple[int, bool]]) -> tuple[GasTest, ...]:
    """Tests in sampling order, ties in recording order, as the shell loads them."""
    tests = [
        GasTest(NOW - timedelta(minutes=ago), f"p-analyst-{i}", passed)
        for i, (ago, passed) in enumerate(samples)
    ]
    return tuple(sorted(tests, key=lambda t: t.sampled_at))


def _verdicts(p, now):
    wf = get_workflow(p.type)
    found = {}
    for step in wf.steps:
        c = ctx(actor_for(wf, p, step.name), now=now)
        found[step.name] = wf.check(p, step.name, c, payload_for(wf, p, step.name))
        found[f"next:{step.name}"] = wf.next_actions(p, c)
    found["watch"] = wf.watch(p, ctx(now=now))
    return found


@settings(max_examples=150, deadline=None)
@given(
    permit_type=st.sampled_from(GAS_TYPES),
    state=st.sampled_from(STATES),
    samples=SAMPLES,
    people_inside=st.integers(min_value=0, max_value=2),
    later=st.integers(min_value=0, max_value=26 * 60),
)
def test_guards_judge_the_picked_tests_as_the_whole_history(
    permit_type, state, samples, people_inside, later
):
    base = permit(permit_type, state)
    now = NOW + timedelta(minutes=later)
    whole = replace(base, gas_tests=_history(samples), people_inside=people_inside, suspended_at=NOW)
    picked = replace(whole, gas_tests=read_by_guards(whole.gas_tests, lambda t: t.passed))
    assert _verdicts(picked, now) == _verdicts(whole, now)


def test_read_by_guards_keeps_the_latest_and_the_latest_pass_in_order():
    older_pass, newer_pass, failed = (
        GasTest(NOW + timedelta(minutes=m), "a", ok) for m, ok in ((0, True), (5, True), (9, False))
    )
    assert read_by_guards((older_pass, newer_pass, failed), lambda t: t.passed) == (newer_pass, failed)
    assert read_by_guards((older_pass, newer_pass), lambda t: t.passed) == (newer_pass,)
    assert read_by_guards((failed,), lambda t: t.passed) == (failed,)
    assert read_by_guards((), lambda t: t.passed) == ()
