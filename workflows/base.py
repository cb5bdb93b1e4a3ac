"""Workflow: one shared transitions.Machine per permit type; guards raise RuleViolation, never return False."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from transitions import EventData, Machine

from workflows import gas
from workflows.model import Context, CrewMember, GasReading, GasTest, PermitData, Signature
from workflows.rules import (
    Guard,
    RuleViolation,
    Violation,
    gas_tests,
    reads_payload,
    state_conflict,
    upgrade,
    uses_payload,
)
from workflows.rules import general as g
from workflows.states import SIGNED_OPEN, TERMINAL, State
from workflows.weather import as_observed

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
SYSTEM = "system"  # pseudo-role held only by the system actor (Actor.is_system)
_STATIC_ROLES: Mapping[str, tuple[str, ...]] = {
    "submit": ("applicant",),
    "countersign": ("countersigner", "safety_dept"),
    "record_gas_test": ("analyst",),
    "shift_check": ("shift_leader",),
    "activate": ("work_leader",),
    "suspend": (SYSTEM, "guardian", "work_leader", "shift_leader", "unit_leader", "safety_dept", "principal"),
    "resume": ("work_leader",),
    "complete": ("work_leader",),
    "expire": (SYSTEM,),
}
# G-12 applies to every forward step; activate/resume check the whole window instead.
_FORWARD = frozenset({"submit", "countersign", "approve", "record_gas_test", "brief", "shift_check"})
_ENDS_WORK = frozenset({State.completed, State.cancelled, State.voided, State.expired})


@dataclass(frozen=True)
class Grade:
    """One grade of a type: its approver roles (any one of them, GB B.1) and maximum validity."""

    code: str | None
    zh: str
    en: str
    approvers: tuple[str, ...]
    max_hours: float


@dataclass(frozen=True)
class Fact:
    """A fact the applicant declares on the form (kind: bool, number, text, list, position)."""

    name: str
    kind: str
    zh: str
    en: str
    required: bool = False
    rule: str = "G-01"


@dataclass(frozen=True)
class Form:
    """The type's form in GB 30871-2022 Appendix A: its number there (A.1 ... A.8) and its title (AU-04)."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Item:
    """A safety-measure line of the type's Appendix A form."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class GasPlan:
    """How a type tests gas: limits, the freshness rule before work, and when resuming needs a re-test."""

    limits: gas.GasRule
    fresh_rule: str
    resume_rule: str
    breach_rule: str
    resume_after_minutes: Mapping[str | None, int]
    applies: Callable[[PermitData], bool] = lambda permit: True
    breach_effects: tuple[str, ...] = ("suspend_permit",)


@dataclass(frozen=True)
class Outcome:
    """What an accepted event means; the shell records it (state, signature, grade, gas test) and runs effects."""

    event: str
    state: State
    signature: Signature | None
    grade: str | None = None
    effects: tuple[str, ...] = ()
    gas_test: GasTest | None = None


@dataclass(frozen=True)
class _Step:
    name: str
    sources: tuple[State, ...]
    dest: State | None  # None: in place
    kind: str
    evidence: tuple[str, ...] = ()
    collects: bool = False  # stays in place until every required signer has signed


def _absent(value: Any) -> bool:
    """A required fact left out: missing, blank text or an empty list (a 0 or false is an answer, not a gap)."""
    return value is None or (isinstance(value, str | list | tuple | Mapping) and not g.filled(value))


class _Subject:
    """The throwaway object the shared machine moves: just a state."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


COMMON_FACTS: tuple[Fact, ...] = (
    Fact(
        "also_involves",
        "list",
        "同时涉及的其他特殊作业",
        "other special operations in the same job",
        rule="G-03",
    ),
    Fact("cross_operation_coordinator", "text", "交叉作业协调人", "cross-operation coordinator", rule="G-04"),
    Fact(
        "cross_operation_risk_analysis",
        "text",
        "交叉作业风险辨识",
        "cross-operation risk analysis",
        rule="G-04",
    ),
    Fact("position", "position", "作业点厂区坐标(m)", "work point on the plant grid (m)"),
    Fact("activities", "list", "本作业包含的活动", "activities under this permit (conflict checks)"),
)


class Workflow:
    """One permit type: its declarations, its shared machine and the guards of each event."""

    def __init__(
        self,
        *,
        type: str,
        prefix: str,
        zh: str,
        en: str,
        form: Form,
        grades: tuple[Grade, ...],
        facts: tuple[Fact, ...] = (),
        checklist: tuple[Item, ...] = (),
        base_grade: Callable[[Mapping[str, Any]], str | None] | None = None,
        grade_rule: str | None = None,
        approvers: Callable[[PermitData, Context, str | None], tuple[tuple[str, ...], str] | None]
        | None = None,
        upgrade: Callable[..., tuple[str, ...]] | None = None,
        validity_rule: str = "G-12",
        validity_policy: bool = False,
        extended_validity_hours: float | None = None,
        gas_plan: GasPlan | None = None,
        countersign_rule: str | None = None,
        countersign_departments: tuple[str, ...] = (),
        briefing_order: tuple[str, ...] = ("work_leader", "worker"),
        briefing_rule: str = "G-05",
        acceptance: tuple[tuple[str, ...], ...] = (("unit_leader", "shift_leader"),),
        acceptance_rule: str = "G-11",
        close_roles: tuple[str, ...] = ("unit_leader", "shift_leader", "safety_dept"),
        close_rule: str = "ROLE",
        guardian_rule: str = "SD-01",
        shift_check_rule: str | None = None,
        guards: Mapping[str, tuple[Guard, ...]] | None = None,
        watches: tuple[Guard, ...] = (),
        effects: Mapping[str, Callable[[PermitData, Context, Mapping[str, Any]], tuple[str, ...]]]
        | None = None,
        ends_linked_power: bool = False,
    ) -> None:
        self.type, self.prefix, self.zh, self.en, self.form = type, prefix, zh, en, form
        self.grades, self.facts, self.checklist = grades, facts + COMMON_FACTS, checklist
        self._base_grade, self.grade_rule, self._approvers, self._upgrade = (
            base_grade,
            grade_rule,
            approvers,
            upgrade,
        )
        self.validity_rule, self._validity_policy = validity_rule, validity_policy
        self._extended_hours = extended_validity_hours
        self.gas_plan = gas_plan
        self._countersign_rule, self._departments = countersign_rule, countersign_departments
        self.briefing_order, self._briefing_rule = briefing_order, briefing_rule
        self.acceptance, self._acceptance_rule = acceptance, acceptance_rule
        self._roles = {**_STATIC_ROLES, "close": close_roles}
        self._role_rules = {"close": close_rule}
        self._guardian_rule, self._shift_check_rule = guardian_rule, shift_check_rule
        self._watches, self._effects, self._ends_linked_power = watches, effects or {}, ends_linked_power
        self.steps = self._build_steps()
        self._guards = self._build_guards(guards or {})
        self._completes: Mapping[str, Callable[[PermitData, Context, Mapping[str, Any]], bool]] = {
            "countersign": lambda p, c, pl: not self._departments_missing(p) - {pl.get("department")},
            "approve": self._approval_completes,
            "brief": lambda p, c, pl: {m.person_id for m in self._briefing_due(p)} <= {c.actor.person_id},
        }
        self.machine = Machine(
            model=None,
            states=[s.value for s in State],
            transitions=self._machine_transitions(),
            initial=State.draft.value,
            auto_transitions=False,
            send_event=True,
            model_attribute="state",
        )

    # -- construction -----------------------------------------------------------------------------------

    def _build_steps(self) -> tuple[_Step, ...]:
        s = State
        review = (s.submitted, s.countersigned) if self._countersign_rule else (s.submitted,)
        signed_open = tuple(
            st for st in SIGNED_OPEN if st in review or st not in (s.submitted, s.countersigned)
        )
        steps = [_Step("submit", (s.draft,), s.submitted, "application")]
        if self._countersign_rule:
            steps.append(
                _Step("countersign", (s.submitted,), s.countersigned, "countersign", ("department",), True)
            )
        steps += [
            _Step("reject", review, s.rejected, "rejection", ("reason",)),
            _Step(
                "approve",
                review[-1:],
                s.approved,
                "approval",
                ("area_id", "position", "card_id", "weather"),
                True,
            ),
        ]
        if self.gas_plan:
            gas_states = (*review, s.approved, s.briefed, s.active, s.suspended)
            steps.append(_Step("record_gas_test", gas_states, None, "gas_test"))
        steps.append(_Step("brief", (s.approved,), s.briefed, "briefing", ("content",), True))
        if self._shift_check_rule:
            steps.append(_Step("shift_check", (s.briefed,), None, "shift_check", ("remarks",)))
        steps += [
            _Step("activate", (s.briefed,), s.active, "activation", ("weather",)),
            _Step(
                "suspend", (s.active,), s.suspended, "suspension", ("reason", "reason_code", "found_object")
            ),
            _Step(
                "resume",
                (s.suspended,),
                s.active,
                "resumption",
                ("conditions_confirmed", "found_object_disposal", "weather"),
            ),
            _Step("complete", (s.active,), s.completed, "completion"),
            _Step("accept", (s.completed,), None, "acceptance", ("site_restored", "traffic_restored")),
            _Step("close", (s.completed,), s.closed, "closure"),
            _Step(
                "cancel", (s.draft, *review, s.approved, s.briefed), s.cancelled, "cancellation", ("reason",)
            ),
            _Step("void", signed_open, s.voided, "voiding", ("reason",)),
            _Step("expire", signed_open, s.expired, "expiry"),
        ]
        return tuple(steps)

    def _build_guards(self, extra: Mapping[str, tuple[Guard, ...]]) -> dict[str, tuple[Guard, ...]]:
        plan = self.gas_plan
        shared: dict[str, tuple[Guard, ...]] = {
            "submit": (
                g.hazard_analysis_recorded,
                g.certificates_recorded,
                g.linked_types_present,
                self._facts_given,
                self._grade_valid,
                self._window_valid,
            ),
            "countersign": (reads_payload(self._countersign_guard),),
            "approve": (
                g.duties_separated,
                g.measures_confirmed,
                g.checklists_confirmed,
                g.cross_operations_covered,
                g.approved_on_site,
                self._window_valid,
                upgrade.consent_given,
                upgrade.no_strict_freeze,
            ),
            "record_gas_test": (gas_tests.readings_valid(plan.limits.rule),) if plan else (),
            "activate": (
                self._approvals_complete,
                self._guardian_assigned,
                self._briefing_complete,
                *((gas_tests.gas_test_fresh(plan.fresh_rule, plan.applies),) if plan else ()),
                *(
                    (
                        g.has_signed(
                            "shift_check",
                            self._shift_check_rule,
                            "动火前须由岗位当班班长验票",
                            "the on-duty shift leader must check the permit first",
                        ),
                    )
                    if self._shift_check_rule
                    else ()
                ),
                g.window_open,
                upgrade.no_strict_freeze,
                upgrade.consent_given,
            ),
            "suspend": (g.reason_given("G-08"),),
            "resume": (
                g.conditions_reconfirmed,
                *(
                    (
                        gas_tests.retest_on_resume(
                            plan.resume_rule, plan.breach_rule, plan.resume_after_minutes, plan.applies
                        ),
                    )
                    if plan
                    else ()
                ),
                g.window_open,
                upgrade.no_strict_freeze,
                upgrade.consent_given,  # RG-02, FZ-03: work stopped for want of consent resumes only with it
                self._approvals_complete,  # HW-03, FZ-02: wind seen now or an upgrade freeze may raise the grade
                self._upgraded_grade,
            ),
            "accept": (g.site_restored,),
            "close": (self._acceptance_complete,),
            "void": (g.reason_given("G-07"),),
            "expire": (g.validity_over,),
        }
        built = {}
        for step in self.steps:
            name = step.name
            forward = (g.within_validity,) if name in _FORWARD else ()
            built[name] = (self._role_guard(name), *forward, *shared.get(name, ()), *extra.get(name, ()))
        return built

    def _machine_transitions(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for step in self.steps:
            sources = [s.value for s in step.sources]
            dest = step.dest.value if step.dest else None
            if step.collects:
                out.append(
                    {
                        "trigger": step.name,
                        "source": sources,
                        "dest": dest,
                        "conditions": [self._complete_condition, self._guard_condition],
                    }
                )
                dest = None
            out.append(
                {"trigger": step.name, "source": sources, "dest": dest, "conditions": [self._guard_condition]}
            )
        return out

    def _guard_condition(self, event: EventData) -> bool:
        found = self._violations(
            event.event.name, event.kwargs["permit"], event.kwargs["ctx"], event.kwargs["payload"]
        )
        if found:
            raise RuleViolation(*found)
        return True

    def _complete_condition(self, event: EventData) -> bool:
        # Routing, not a guard: picks "collection complete" vs "stay in place"; the guards run next either way.
        kw = event.kwargs
        return self._completes[event.event.name](kw["permit"], kw["ctx"], kw["payload"])

    # -- public API -------------------------------------------------------------------------------------

    def fire(
        self, permit: PermitData, event: str, ctx: Context, payload: Mapping[str, Any] | None = None
    ) -> Outcome:
        """Apply an event; raises RuleViolation (STATE or the rules that block it) with allowed_actions set."""
        payload = payload or {}
        permit = as_observed(permit, payload)  # WH-02, LF-03, HW-03: the weather seen on site, if reported
        try:
            self._check_state(permit, event)
            subject = _Subject(permit.state)
            self.machine.events[event].trigger(subject, permit=permit, ctx=ctx, payload=payload)
        except RuleViolation as exc:
            exc.allowed_actions = self.allowed_actions(permit, ctx)
            raise
        state = State(subject.state)
        gas_test = self._gas_test(permit, ctx, payload) if event == "record_gas_test" else None
        return Outcome(
            event=event,
            state=state,
            signature=self._signature(event, permit, ctx, payload, gas_test),
            grade=self._new_grade(event, permit, ctx),
            effects=self._outcome_effects(event, permit, ctx, payload, state, gas_test),
            gas_test=gas_test,
        )

    def check(
        self, permit: PermitData, event: str, ctx: Context, payload: Mapping[str, Any] | None = None
    ) -> list[Violation]:
        """Dry run: every violation the event would meet now (empty when it would pass)."""
        payload = payload or {}
        permit = as_observed(permit, payload)
        try:
            self._check_state(permit, event)
        except RuleViolation as exc:
            return list(exc.violations)
        return self._violations(event, permit, ctx, payload)

    def allowed_actions(self, permit: PermitData, ctx: Context) -> list[str]:
        """Events the actor could fire now: a transition exists and every payload-independent guard passes."""
        return [
            step.name
            for step in self.steps
            if permit.state in step.sources
            and not self._violations(step.name, permit, ctx, {}, payload_free=True)
        ]

    def watch(self, permit: PermitData, ctx: Context) -> list[Violation]:
        """Conditions that call for suspending an active permit now (HW-04 daily test, CS-03 monitoring gap)."""
        if permit.state != State.active:
            return []
        return [v for guard in self._watches if (v := guard(permit, ctx, {}))]

    def upgrade_lacking(self, permit: PermitData, ctx: Context) -> list[Violation]:
        """FZ-02 / FZ-03: the parts of the upgraded management the freezes in `ctx` call for that this permit lacks.

        The regulator's consent (HR-01), every approval including the principal's (HR-02) and, for hot work,
        the grade raised (HW-03), as approval would have asked for them; empty when the permit has them all.
        """
        found = (
            upgrade.consent_given(permit, ctx, {}),
            self._approvals_complete(permit, ctx, {}),
            self._grade_valid(permit, ctx, {}),
        )
        return [v for v in found if v is not None]

    def grade_def(self, code: str | None) -> Grade:
        """The grade declaration for a code (the first grade when the code is unknown or the type is ungraded)."""
        return next((gr for gr in self.grades if gr.code == code), self.grades[0])

    def derive_grade(
        self,
        facts: Mapping[str, Any],
        ctx: Context,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> str | None:
        """The grade the facts call for, upgraded where the window or context say so (HW-03, FZ-02).

        Raises RuleViolation when the facts need no permit or lack what the grade depends on (WH-01, LF-01, EX-01).
        """
        code = self._base_grade(facts) if self._base_grade else self.grades[0].code
        if self._upgrade and self._upgrade(facts, ctx, valid_from, valid_until):
            codes = [gr.code for gr in self.grades]
            code = codes[min(codes.index(code) + 1, len(codes) - 1)]
        return code

    def effective_grade(self, permit: PermitData, ctx: Context) -> str | None:
        """The higher of the declared grade and the derived one."""
        try:
            derived = self.derive_grade(self.facts_of(permit), ctx, permit.valid_from, permit.valid_until)
        except RuleViolation:
            derived = None
        codes = [gr.code for gr in self.grades]
        ranks = [codes.index(c) for c in (permit.grade, derived) if c in codes]
        return codes[max(ranks, default=0)]

    def facts_of(self, permit: PermitData) -> dict[str, Any]:
        """The permit's facts, with the area's fire-explosion flag folded in (an area flag is never undone)."""
        facts = dict(permit.facts)
        facts["fire_explosion_area"] = (
            bool(facts.get("fire_explosion_area")) or permit.area.fire_explosion_area
        )
        return facts

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
        if self._validity_policy:
            hours = (policy or {}).get("max_validity_hours", {}).get(self.type, hours)
        if self._extended_hours and g.filled(facts.get("extended_validity_reason")):
            hours = self._extended_hours
        if valid_until - valid_from <= timedelta(hours=hours):
            return None
        return Violation(
            self.validity_rule,
            f"有效期超过{hours:g}小时上限",
            f"validity exceeds the {hours:g} h maximum for this grade",
        )

    def approval_slots(self, permit: PermitData, ctx: Context) -> list[tuple[tuple[str, ...], str]]:
        """The approvals the permit needs, each as (any of these roles, rule ID): G-10 plus HR-02's principal."""
        grade = self.effective_grade(permit, ctx)
        override = self._approvers(permit, ctx, grade) if self._approvers else None
        roles, rule = override or (self.grade_def(grade).approvers, "G-10")
        slots = [(roles, rule)]
        if upgrade.principal_required(permit, ctx) and "principal" not in roles:
            slots.append((("principal",), "HR-02"))
        return slots

    def mermaid(self) -> str:
        """A Mermaid state diagram generated from the machine's transitions."""
        lines = ["stateDiagram-v2", f"    [*] --> {State.draft.value}"]
        for name, event in self.machine.events.items():
            for source, transitions in event.transitions.items():
                for t in transitions:
                    line = f"    {source} --> {t.dest or source} : {name}"
                    if line not in lines:
                        lines.append(line)
        lines += [f"    {s.value} --> [*]" for s in State if s in TERMINAL]
        return "\n".join(lines)

    def catalogue(self) -> dict[str, Any]:
        """Everything a client needs to file this type: grades, facts, checklist, signature order, gas, events."""
        plan = self.gas_plan
        return {
            "type": self.type,
            "prefix": self.prefix,
            "zh": self.zh,
            "en": self.en,
            "grades": [
                {
                    "code": gr.code,
                    "zh": gr.zh,
                    "en": gr.en,
                    "approvers": list(gr.approvers),
                    "max_validity_hours": gr.max_hours,
                }
                for gr in self.grades
            ],
            "facts": [
                {"name": f.name, "kind": f.kind, "zh": f.zh, "en": f.en, "required": f.required}
                for f in self.facts
            ],
            "checklist": [{"code": i.code, "zh": i.zh, "en": i.en} for i in self.checklist],
            "signature_order": self._signature_order(),
            "gas": None if plan is None else {**plan.limits.summary(), "fresh_rule": plan.fresh_rule},
            "events": [s.name for s in self.steps],
            "mermaid": self.mermaid(),
        }

    # -- guards that need the type's declarations -------------------------------------------------------

    def _check_state(self, permit: PermitData, event: str) -> None:
        step = next((s for s in self.steps if s.name == event), None)
        if step is None or permit.state not in step.sources:
            raise RuleViolation(state_conflict(permit.state, event))

    def _violations(
        self,
        event: str,
        permit: PermitData,
        ctx: Context,
        payload: Mapping[str, Any],
        payload_free: bool = False,
    ) -> list[Violation]:
        guards = [gd for gd in self._guards[event] if not (payload_free and uses_payload(gd))]
        return [v for gd in guards if (v := gd(permit, ctx, payload))]

    def _role_guard(self, event: str) -> Guard:
        def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
            role = self._signing_role(event, permit, ctx)
            return role if isinstance(role, Violation) else None

        return guard

    def _signing_role(self, event: str, permit: PermitData, ctx: Context) -> str | Violation:
        if event == "approve":
            return self._approval_role(permit, ctx)
        if event == "brief":
            return self._briefing_role(permit, ctx)
        if event == "accept":
            return self._acceptance_role(permit, ctx)
        actor = ctx.actor
        if event in ("cancel", "complete") and actor.is_system and g.has_linked_ended_parent(permit):
            return SYSTEM  # TE-01: temporary power ends with the permit it serves
        if event == "cancel" and actor.is_system:
            return SYSTEM  # HR-03: a regulator's refusal ends the job and cancels its permits
        if event in ("cancel", "void") and actor.person_id == permit.applicant_id:
            return "applicant"
        if event in ("reject", "cancel", "void"):
            roles = tuple(r for slot, _ in self.approval_slots(permit, ctx) for r in slot)
            roles += self._roles["countersign"] if event == "reject" and self._countersign_rule else ()
            roles += ("safety_dept",) if event == "void" else ()
        else:
            roles = self._roles[event]
        held = [r for r in roles if r in actor.roles or (r == SYSTEM and actor.is_system)]
        if held:
            return held[0]
        names = ", ".join(dict.fromkeys(roles))
        rule = self._role_rules.get(event, "ROLE")
        return Violation(
            rule, f"“{event}”需要以下角色之一：{names}", f"'{event}' needs one of the roles: {names}"
        )

    def _approval_role(self, permit: PermitData, ctx: Context) -> str | Violation:
        actor = ctx.actor
        approvals = g.signed(permit, "approval")
        # G-09: separation of duties on approval.
        if actor.person_id == permit.applicant_id:
            return Violation(
                "G-09", "申请人不得审批本人的作业票", "the applicant cannot approve their own permit"
            )
        if any(s.person_id == actor.person_id for s in approvals):
            return Violation("G-09", "同一人不得重复审批", "this person has already approved the permit")
        missing = self._missing_approvals(permit, ctx)
        for roles, _rule in missing:
            held = [r for r in roles if r in actor.roles]
            if held:
                return held[0]
        if not missing or {s.role for s in approvals} & actor.roles:
            return Violation("G-09", "每个角色只审批一次", "one approval per role per permit")
        roles, rule = missing[0]
        names = ", ".join(roles)
        return Violation(
            rule, f"该作业票须由以下角色审批：{names}", f"this permit must be approved by: {names}"
        )

    def _missing_approvals(self, permit: PermitData, ctx: Context) -> list[tuple[tuple[str, ...], str]]:
        given = {s.role for s in g.signed(permit, "approval")}
        return [(roles, rule) for roles, rule in self.approval_slots(permit, ctx) if not given & set(roles)]

    def _approval_completes(self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> bool:
        missing = self._missing_approvals(permit, ctx)
        return len(missing) == 1 and bool(set(missing[0][0]) & ctx.actor.roles)

    def _approvals_complete(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        # SD-01: no approval, no work.
        missing = self._missing_approvals(permit, ctx)
        if not missing:
            return None
        names = "; ".join(", ".join(roles) for roles, _ in missing)
        if permit.state in (State.briefed, State.suspended):
            # Past approval a missing signature cannot be added: the grade was raised after approval (HW-03
            # wind, an upgrade freeze), so the permit's content changed and it must be re-issued (G-07).
            return Violation(
                "SD-01",
                f"当前等级所需审批缺少：{names}；审批后不能补签，须作废并重新办理作业票（G-07）",
                f"the grade now required lacks approval by: {names}; approvals cannot be added after approval, "
                "void the permit and re-issue it (G-07)",
            )
        return Violation("SD-01", f"未审批不得作业，缺少：{names}", f"no approval, no work; missing: {names}")

    def _upgraded_grade(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        # FZ-02/FZ-03: work an upgrade freeze stopped resumes only under the whole upgraded management, the grade
        # raised included (consent and approvals are guarded beside this), as upgrade_lacking() judged it.
        if not upgrade.freezes(ctx, permit.type, "upgrade"):
            return None
        return self._grade_valid(permit, ctx, payload)

    def _guardian_assigned(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        if g.crew_with(permit, "guardian"):
            return None
        return Violation(self._guardian_rule, "无监护人不得作业", "no guardian, no work: assign a guardian")

    def _briefing_due(self, permit: PermitData) -> list[CrewMember]:
        done = {s.person_id for s in g.signed(permit, "briefing")}
        order = self.briefing_order
        due = [m for m in permit.crew if m.role in order and m.person_id not in done]
        return sorted(due, key=lambda m: order.index(m.role))

    def _briefing_role(self, permit: PermitData, ctx: Context) -> str | Violation:
        # G-05: the briefer signs first, then every worker; a type may put another signer first (LF-04).
        due = self._briefing_due(permit)
        mine = [m for m in due if m.person_id == ctx.actor.person_id]
        if not mine:
            return Violation(
                "G-05",
                "只有尚未签字的交底人或作业人可以签署安全交底",
                "only a briefer or worker on this permit who has not signed yet can sign the briefing",
            )
        first = due[0]
        if self.briefing_order.index(mine[0].role) > self.briefing_order.index(first.role):
            rule = self._briefing_rule if first.role == self.briefing_order[0] else "G-05"
            return Violation(
                rule, f"须由{first.role}先签字", f"the {first.role} must sign the briefing first"
            )
        return mine[0].role

    def _briefing_complete(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        absent = [r for r in self.briefing_order if not g.crew_with(permit, r)]
        due = self._briefing_due(permit)
        if not absent and not due:
            return None
        who = ", ".join(absent + [m.name or m.person_id for m in due])
        return Violation("G-05", f"安全交底未完成：{who}", f"the safety briefing is not complete: {who}")

    def _departments_missing(self, permit: PermitData) -> set[str]:
        wanted = set(self._departments) | set(permit.facts.get("countersign_departments") or ())
        return wanted - {s.evidence.get("department") for s in g.signed(permit, "countersign")}

    def _acceptance_missing(self, permit: PermitData) -> list[tuple[str, ...]]:
        given = {s.role for s in g.signed(permit, "acceptance")}
        return [group for group in self.acceptance if not given & set(group)]

    def _acceptance_role(self, permit: PermitData, ctx: Context) -> str | Violation:
        for group in self._acceptance_missing(permit):
            held = [r for r in group if r in ctx.actor.roles]
            if held:
                return held[0]
        names = "; ".join(", ".join(gr) for gr in self._acceptance_missing(permit)) or "—"
        return Violation(
            self._acceptance_rule, f"完工验收待签角色：{names}", f"acceptance still awaits one of: {names}"
        )

    def _acceptance_complete(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        missing = self._acceptance_missing(permit)
        if not missing:
            return None
        names = "; ".join(", ".join(gr) for gr in missing)
        return Violation(
            self._acceptance_rule, f"关闭前须完成完工验收：{names}", f"close needs acceptance by: {names}"
        )

    def _countersign_guard(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        missing = self._departments_missing(permit)
        if payload.get("department") in missing:
            return None
        names = ", ".join(sorted(missing)) or "—"
        return Violation(
            self._countersign_rule or "STATE",
            f"会签部门须为待会签部门之一：{names}",
            f"department must be one still to countersign: {names}",
        )

    def _facts_given(self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        missing = [f for f in self.facts if f.required and _absent(permit.facts.get(f.name))]
        if not missing:
            return None
        names = ", ".join(f.zh for f in missing)
        return Violation(
            missing[0].rule, f"缺少必填信息：{names}", f"missing facts: {', '.join(f.name for f in missing)}"
        )

    def _grade_valid(self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        # HW-01 / WH-01 / LF-01: the service derives the grade; a lower declared grade is refused.
        try:
            derived = self.derive_grade(self.facts_of(permit), ctx, permit.valid_from, permit.valid_until)
        except RuleViolation as exc:
            return exc.violations[0]
        codes = [gr.code for gr in self.grades]
        rule = self.grade_rule or "G-10"
        if permit.grade is not None and permit.grade not in codes:
            return Violation(rule, f"未知作业级别{permit.grade}", f"unknown grade {permit.grade}")
        if permit.grade is not None and codes.index(permit.grade) < codes.index(derived):
            return Violation(
                rule,
                f"申报级别{permit.grade}低于应有级别{derived}",
                f"declared grade {permit.grade} is lower than the required grade {derived}",
            )
        return None

    def _window_valid(self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        grade = self.effective_grade(permit, ctx)
        return self.validate_window(permit.valid_from, permit.valid_until, grade, permit.facts, ctx.policy)

    # -- outcome ----------------------------------------------------------------------------------------

    def _signature(
        self,
        event: str,
        permit: PermitData,
        ctx: Context,
        payload: Mapping[str, Any],
        gas_test: GasTest | None,
    ) -> Signature:
        step = next(s for s in self.steps if s.name == event)
        role = self._signing_role(event, permit, ctx)
        evidence: dict[str, Any] = {k: payload[k] for k in step.evidence if k in payload}
        if gas_test is not None:
            evidence = {
                "passed": gas_test.passed,
                "findings": [v.as_dict() for v in self._gas_findings(permit, ctx, gas_test.readings)],
                "readings": [{"gas": r.gas, "value": r.value, "unit": r.unit} for r in gas_test.readings],
                "sampled_at": gas_test.sampled_at.isoformat(),
                "point": gas_test.point,
            }
        return Signature(step.kind, str(role), ctx.actor.person_id, ctx.now, evidence)

    def _gas_findings(
        self, permit: PermitData, ctx: Context, readings: tuple[GasReading, ...]
    ) -> list[Violation]:
        assert self.gas_plan is not None  # only called for record_gas_test, which exists only with a gas plan
        return gas.evaluate(self.gas_plan.limits, readings, self.facts_of(permit), ctx.policy)[1]

    def _gas_test(self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> GasTest:
        readings = tuple(
            gas.normalise(str(r["gas"]), r["value"], str(r["unit"]), ctx.policy) for r in payload["readings"]
        )
        passed = not self._gas_findings(permit, ctx, readings)
        return GasTest(
            gas_tests.sampled_at(payload, ctx),
            ctx.actor.person_id,
            passed,
            readings,
            str(payload.get("point", "")),
        )

    def _new_grade(self, event: str, permit: PermitData, ctx: Context) -> str | None:
        if event not in ("submit", "approve"):
            return None
        grade = self.effective_grade(permit, ctx)
        return grade if event == "submit" or grade != permit.grade else None

    def _outcome_effects(
        self,
        event: str,
        permit: PermitData,
        ctx: Context,
        payload: Mapping[str, Any],
        state: State,
        gas_test: GasTest | None,
    ) -> tuple[str, ...]:
        effects: list[str] = []
        if gas_test is not None and not gas_test.passed and permit.state == State.active and self.gas_plan:
            effects += self.gas_plan.breach_effects  # HW-08, CS-04: a failed test during the work stops it
        grade = self.effective_grade(permit, ctx)
        if event == "approve" and state == State.approved and upgrade.notify_regulator(permit, ctx, grade):
            effects.append("notify_regulator")  # RG-02
        if (
            self._ends_linked_power
            and state in _ENDS_WORK
            and state != permit.state
            and g.has_linked(permit, "temporary_power")
        ):
            effects.append("end_linked_temporary_power")  # TE-01
        if event == "void":
            effects.append("reissue_draft")  # G-07
        if event in self._effects:
            effects += self._effects[event](permit, ctx, payload)
        return tuple(effects)

    def _signature_order(self) -> list[dict[str, Any]]:
        kinds = {s.name: s.kind for s in self.steps}
        order: list[dict[str, Any]] = [{"kind": "application", "roles": ["applicant"]}]
        if self._countersign_rule:
            order.append({"kind": "countersign", "roles": list(self._roles["countersign"])})
        order.append({"kind": "approval", "roles": sorted({r for gr in self.grades for r in gr.approvers})})
        if "record_gas_test" in kinds:
            order.append({"kind": "gas_test", "roles": ["analyst"]})
        order.append({"kind": "briefing", "roles": list(self.briefing_order)})
        if "shift_check" in kinds:
            order.append({"kind": "shift_check", "roles": ["shift_leader"]})
        order += [
            {"kind": "acceptance", "roles": [list(gr) for gr in self.acceptance]},
            {"kind": "closure", "roles": list(self._roles["close"])},
        ]
        return order
