"""The service's clock: real time in production, a clock the tests control (never slept on)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app, has_app_context


class FixedClock:
    """A clock that stands still until moved; tests and simulations inject it as `app.extensions['clock']`."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        self.at = at.astimezone(UTC)

    def now(self) -> datetime:
        """The current fixed time."""
        return self.at

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward."""
        self.at += delta
        return self.at

    def set(self, at: datetime) -> None:
        """Jump to a given time."""
        self.at = at.astimezone(UTC)


def now() -> datetime:
    """The current time in UTC, from the injected clock when there is one."""
    if has_app_context():
        clock = current_app.extensions.get("clock")
        if clock is not None:
            return clock.now()
    return datetime.now(UTC)
