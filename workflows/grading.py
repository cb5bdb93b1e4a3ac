"""Grades, upgrades and windows (GB 5.1, B.1; G-10, G-12): which grade the facts call for, who approves it, how long
it may run."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from workflows import facts as f
from workflows.model import Context, PermitData, WorkingPeriod
from workflows.rules import RuleViolation, Violation, upgrade
from workflows.rules import general as g

Approvers = Callable[[PermitData, Context, str | None], tuple[tuple[str, ...], str] | None]
Slot = tuple[tuple[str, ...], str]  # (any one of these roles, the rule ID that asks for them)


@dataclass(frozen=True)
class Grade:
    """One grade of a type: its approver roles (any one of them, GB B.1) and maximum validity."""

    code: str | None
    zh: str
    en: str
    approvers: tuple[str, ...]
    max_hours: float


@dataclass(frozen=True)
class Grading:
    """How a type is graded: the base grade from the facts, its upgrades, the approvers and the validity."""

    type: str
    grades: tuple[Grade, ...]
    base_grade: Callable[[Mapping[str, Any]], str | None] | None = None
    rule: str | None = None
    approvers: Approvers | None = None
    upgrade: Callable[..., tuple[str, ...]] | None = None
    validity_rule: str = "G-12"
    validity_policy: bool = False
    extended_hours: float | None = None

    @property
    def codes(self) -> list[str | None]:
        """The grade codes, lowest first."""
        return [gr.code for gr in self.grades]

    def grade_def(self, code: str | None) -> Grade:
        """The grade declaration for a code (the first grade when the code is unknown or the type is ungraded)."""
        return next((gr for gr in self.grades if gr.code == code), self.grades[0])

    def derive(
        self,
        facts: Mapping[str, Any],
        ctx: Context,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        periods: Sequence[WorkingPeriod] = (),
    ) -> str | None:
        """The grade the facts call for, upgraded where the working time or context say so (HW-03, FZ-02).

        Raises RuleViolation when the facts need no permit or lack what the grade depends on (WH-01, LF-01, EX-01).
        """
        code = self.base_grade(facts) if self.base_grade else self.grades[0].code
        if self.upgrade and self.upgrade(facts, ctx, valid_from, valid_until, periods):
            codes = self.codes
            code = codes[min(codes.index(code) + 1, len(codes) - 1)]
        return code

    def effective(self, permit: PermitData, ctx: Context) -> str | None:
        """The higher of the declared grade and the derived one."""
        try:
            derived = self.derive(
                f.recorded(permit), ctx, permit.valid_from, permit.valid_until, permit.working_periods
            )
        except RuleViolation:
            derived = None
        codes = self.codes
        ranks = [codes.index(c) for c in (permit.grade, derived) if c in codes]
        return codes[max(ranks, default=0)]

    def approval_slots(self, permit: PermitData, ctx: Context) -> list[Slot]:
        """The approvals the permit needs, each as (any of these roles, rule ID): G-10 plus HR-02's principal."""
        grade = self.effective(permit, ctx)
        override = self.approvers(permit, ctx, grade) if self.approvers else None
        roles, rule = override or (self.grade_def(grade).approvers, "G-10")
        slots = [(roles, rule)]
        if upgrade.principal_required(permit, ctx) and "principal" not in roles:
            slots.append((("principal",), "HR-02"))
        return slots

    def validate_window(
        self,
        valid_from: datetime,
        valid_until: datetime,
        grade: str | None,
        facts: Mapping[str, Any],
        policy: Mapping[str, Any] | None = None,
    ) -> Violation | None:
        """G-12 / TE-01: the window is ordered and no longer than the grade's maximum validity."""
        if valid_until <= valid_from:
            return Violation("G-12", "有效期结束时间须晚于开始时间", "valid_until must be after valid_from")
        hours = self.grade_def(grade).max_hours
        if self.validity_policy:
            hours = (policy or {}).get("max_validity_hours", {}).get(self.type, hours)
        if self.extended_hours and g.filled(facts.get("extended_validity_reason")):
            hours = self.extended_hours
        if valid_until - valid_from <= timedelta(hours=hours):
            return None
        return Violation(
            self.validity_rule,
            f"有效期超过{hours:g}小时上限",
            f"validity exceeds the {hours:g} h maximum for this grade",
        )

    def new_grade(self, event: str, permit: PermitData, ctx: Context) -> str | None:
        """The grade an accepted event records: set at submit, raised at approval when it went up meanwhile."""
        if event not in ("submit", "approve"):
            return None
        grade = self.effective(permit, ctx)
        return grade if event == "submit" or grade != permit.grade else None

    # -- guards ---------------------------------------------------------------------------------------------

    def grade_valid(self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        """HW-01 / WH-01 / LF-01: the service derives the grade; a lower declared grade is refused."""
        try:
            derived = self.derive(
                f.recorded(permit), ctx, permit.valid_from, permit.valid_until, permit.working_periods
            )
        except RuleViolation as exc:
            return exc.violations[0]
        codes = self.codes
        rule = self.rule or "G-10"
        if permit.grade is not None and permit.grade not in codes:
            return Violation(rule, f"未知作业级别{permit.grade}", f"unknown grade {permit.grade}")
        if permit.grade is not None and codes.index(permit.grade) < codes.index(derived):
            return Violation(
                rule,
                f"申报级别{permit.grade}低于应有级别{derived}",
                f"declared grade {permit.grade} is lower than the required grade {derived}",
            )
        return None

    def window_valid(self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        """G-12: the window fits the grade the permit has now."""
        grade = self.effective(permit, ctx)
        return self.validate_window(permit.valid_from, permit.valid_until, grade, permit.facts, ctx.policy)

    def upgraded_grade(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        """FZ-02/FZ-03: work an upgrade freeze stopped resumes only with its grade raised (consent and approvals are
        guarded beside this), as upgrade_lacking() judged it."""
        if not upgrade.freezes(ctx, permit.type, "upgrade"):
            return None
        return self.grade_valid(permit, ctx, payload)

    def catalogue(self) -> list[dict[str, Any]]:
        """The grades as the catalogue publishes them."""
        return [
            {
                "code": gr.code,
                "zh": gr.zh,
                "en": gr.en,
                "approvers": list(gr.approvers),
                "max_validity_hours": gr.max_hours,
            }
            for gr in self.grades
        ]
