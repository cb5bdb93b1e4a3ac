"""A type's form in GB 30871-2022 Appendix A (AU-04); its safety-measure lines are in workflows.measures (G-02)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Form:
    """The type's form in GB 30871-2022 Appendix A: its number there (A.1 ... A.8) and its title (AU-04)."""

    code: str
    zh: str
    en: str
