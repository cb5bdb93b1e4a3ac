"""Violations and guards: every refusal names the rules.md ID that caused it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workflows.model import Context, PermitData
from workflows.vocabulary import plain_zh


@dataclass(frozen=True)
class Violation:
    """One broken rule, with its ID and a message in Chinese and English."""

    rule_id: str
    zh: str
    en: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "zh", plain_zh(self.zh))  # states, roles and actions by their Chinese names

    def as_dict(self) -> dict[str, str]:
        """The violation as JSON-ready data."""
        return {"rule": self.rule_id, "zh": self.zh, "en": self.en}


class RuleViolation(Exception):
    """Raised when an action is refused; carries every violation found and, once known, the allowed actions."""

    def __init__(self, *violations: Violation, allowed_actions: list[str] | None = None) -> None:
        if not violations:
            raise ValueError("RuleViolation needs at least one Violation")
        super().__init__("; ".join(f"{v.rule_id}: {v.en}" for v in violations))
        self.violations: tuple[Violation, ...] = violations
        self.allowed_actions = allowed_actions

    @property
    def rule(self) -> str:
        """The ID of the first violated rule."""
        return self.violations[0].rule_id


Guard = Callable[[PermitData, Context, Mapping[str, Any]], Violation | None]

_PAYLOAD_GUARDS: set[Callable[..., Any]] = set()


def reads_payload(guard: Guard) -> Guard:
    """Mark a guard whose verdict depends on the request payload (skipped by allowed_actions)."""
    _PAYLOAD_GUARDS.add(guard)
    return guard


def uses_payload(guard: Guard) -> bool:
    """Whether a guard reads the payload."""
    return guard in _PAYLOAD_GUARDS


def state_conflict(state: str, event: str) -> Violation:
    """The pseudo-rule STATE: the event does not exist for this type or is not allowed in this state."""
    return Violation(
        "STATE",
        f"作业票处于“{state}”状态，不能执行“{event}”",
        f"event '{event}' is not allowed in state '{state}'",
    )
