"""The steps of a permit's life (rules.md §1): which event moves which states where, and what it signs."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.states import SIGNED_OPEN, State

EVENTS: tuple[str, ...] = (
    "submit",
    "countersign",
    "reject",
    "approve",
    "record_gas_test",
    "brief",
    "shift_check",
    "activate",
    "suspend",
    "resume",
    "complete",
    "accept",
    "close",
    "cancel",
    "void",
    "expire",
)


@dataclass(frozen=True)
class Step:
    """One event: its source states, its destination (None: in place), the signature kind and its evidence keys."""

    name: str
    sources: tuple[State, ...]
    dest: State | None
    kind: str
    evidence: tuple[str, ...] = ()
    collects: bool = False  # stays in place until every required signer has signed


def build(*, countersign: bool, gas_test: bool, shift_check: bool) -> tuple[Step, ...]:
    """The steps of a type: the shared life plus its countersign, gas-test and shift-check steps where it has them."""
    s = State
    review = (s.submitted, s.countersigned) if countersign else (s.submitted,)
    signed_open = tuple(st for st in SIGNED_OPEN if st in review or st not in (s.submitted, s.countersigned))
    steps = [Step("submit", (s.draft,), s.submitted, "application")]
    if countersign:
        steps.append(
            Step("countersign", (s.submitted,), s.countersigned, "countersign", ("department",), True)
        )
    steps += [
        Step("reject", review, s.rejected, "rejection", ("reason",)),
        Step(
            "approve",
            review[-1:],
            s.approved,
            "approval",
            ("area_id", "position", "card_id", "declared", "weather"),
            True,
        ),
    ]
    if gas_test:
        gas_states = (*review, s.approved, s.briefed, s.active, s.suspended)
        steps.append(Step("record_gas_test", gas_states, None, "gas_test"))
    steps.append(Step("brief", (s.approved,), s.briefed, "briefing", ("content",), True))
    if shift_check:
        steps.append(Step("shift_check", (s.briefed,), None, "shift_check", ("remarks",)))
    steps += [
        Step("activate", (s.briefed,), s.active, "activation", ("weather",)),
        Step("suspend", (s.active,), s.suspended, "suspension", ("reason", "reason_code", "found_object")),
        Step(
            "resume",
            (s.suspended,),
            s.active,
            "resumption",
            ("conditions_confirmed", "found_object_disposal", "weather"),
        ),
        Step("complete", (s.active,), s.completed, "completion"),
        Step("accept", (s.completed,), None, "acceptance", ("site_restored", "traffic_restored")),
        Step("close", (s.completed,), s.closed, "closure"),
        Step("cancel", (s.draft, *review, s.approved, s.briefed), s.cancelled, "cancellation", ("reason",)),
        Step("void", signed_open, s.voided, "voiding", ("reason",)),
        Step("expire", signed_open, s.expired, "expiry"),
    ]
    return tuple(steps)
