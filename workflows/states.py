"""Permit states shared by every permit type (rules.md §1)."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """A permit's state; member names equal their values."""

    draft = "draft"
    submitted = "submitted"
    countersigned = "countersigned"
    approved = "approved"
    briefed = "briefed"
    active = "active"
    suspended = "suspended"
    completed = "completed"
    closed = "closed"
    rejected = "rejected"
    cancelled = "cancelled"
    expired = "expired"
    voided = "voided"


TERMINAL: frozenset[State] = frozenset(
    {State.closed, State.rejected, State.cancelled, State.expired, State.voided}
)

# G-07: once anything is signed the permit is immutable; these are the signed, still-open states.
SIGNED_OPEN: tuple[State, ...] = (
    State.submitted,
    State.countersigned,
    State.approved,
    State.briefed,
    State.active,
    State.suspended,
    State.completed,
)

# States in which a permit holds its place on site (conflict and cross-operation checks).
LIVE: frozenset[str] = frozenset({State.approved, State.briefed, State.active, State.suspended})
