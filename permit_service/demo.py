"""Rizhao demo data (filled in by the seed-demo work)."""

from __future__ import annotations


def seed() -> list[str]:
    """Create the demo data; returns the lines to print."""
    raise NotImplementedError
