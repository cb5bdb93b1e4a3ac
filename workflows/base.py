"""Workflow: one shared transitions.Machine per permit type, wired from the parts of the general chapter.

The parts decide: signatures.py who signs what and in which order, grading.py grades, upgrades and windows,
gas.py with rules/gas_tests.py the gas plan, facts.py the declared facts, steps.py the events. This module only
wires them into guards per event and runs the machine. Guards raise RuleViolation, never return False.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from transitions import EventData, Machine

from workflows import certificates as certs
from workflows import facts as f
from workflows import measures
from workflows import steps as st
from workflows import working_hours as wh
from workflows.facts import COMMON_FACTS, Fact
from workflows.forms import Form
from workflows.gas import GasPlan
from workflows.grading import Approvers, Grade, Grading
from workflows.model import Context, GasTest, PermitData, Signature
from workflows.rules import (
    Guard,
    RuleViolation,
    Violation,
    gas_tests,
    guardian,
    plan27,
    state_conflict,
    upgrade,
    uses_payload,
)
from workflows.rules import general as g
from workflows.signatures import Signatures
from workflows.states import TERMINAL, State
from workflows.weather import as_observed

# G-12 applies to every forward step; activate/resume check the whole window instead.
_FORWARD = frozenset({"submit", "countersign", "approve", "record_gas_test", "brief", "shift_check"})
_ENDS_WORK = frozenset({State.completed, State.cancelled, State.voided, State.expired})
Effects = Callable[[PermitData, Context, Mapping[str, Any]], tuple[str, ...]]


@dataclass(frozen=True)
class Outcome:
    """What an accepted event means; the shell records it (state, signature, grade, gas test) and runs effects."""

    event: str
    state: State
    signature: Signature | None
    grade: str | None = None
    effects: tuple[str, ...] = ()
    gas_test: GasTest | None = None
    # G-13: the certificates submit accepted, to record on the permit
    certified: tuple[certs.Certified, ...] = ()
    # EX-01, RC-01: the departments to countersign, fixed at submission
    departments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Blocked:
    """An action the actor's role could take but rules block now, with what each asks for."""

    action: str
    violations: tuple[Violation, ...]


class _Subject:
    """The throwaway object the shared machine moves: just a state."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


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
        certificates: tuple[certs.Need, ...] = (),
        base_grade: Callable[[Mapping[str, Any]], str | None] | None = None,
        grade_rule: str | None = None,
        approvers: Approvers | None = None,
        upgrade: Callable[..., tuple[str, ...]] | None = None,
        validity_rule: str = "G-12",
        validity_policy: bool = False,
        extended_validity_hours: float | None = None,
        gas_plan: GasPlan | None = None,
        countersign_rule: str | None = None,
        countersign_departments: tuple[str, ...] = (),
        default_departments: tuple[str, ...] = (),
        briefing_order: tuple[str, ...] = ("work_leader", "worker"),
        briefing_rule: str = "G-05",
        acceptance: tuple[tuple[str, ...], ...] = (("unit_leader", "shift_leader"),),
        acceptance_rule: str = "G-11",
        close_roles: tuple[str, ...] = ("unit_leader", "shift_leader", "safety_dept"),
        close_rule: str = "ROLE",
        guardian_rule: str = "SD-01",
        shift_check_rule: str | None = None,
        working_hours_rule: str | None = None,
        guards: Mapping[str, tuple[Guard, ...]] | None = None,
        watches: tuple[Guard, ...] = (),
        effects: Mapping[str, Effects] | None = None,
        ends_linked_power: bool = False,
    ) -> None:
        self.type, self.prefix, self.zh, self.en, self.form = type, prefix, zh, en, form
        # A type that tests gas takes the permit's own media beside the area's (G-14, HW-05, CS-02).
        self.facts = facts + COMMON_FACTS + ((f.MEDIA,) if gas_plan else ())
        self.certificates = certificates
        self.grading = Grading(
            type=type,
            grades=grades,
            base_grade=base_grade,
            rule=grade_rule,
            approvers=approvers,
            upgrade=upgrade,
            validity_rule=validity_rule,
            validity_policy=validity_policy,
            extended_hours=extended_validity_hours,
        )
        self.signatures = Signatures(
            grading=self.grading,
            countersign_rule=countersign_rule,
            departments=countersign_departments,
            default_departments=default_departments,
            briefing_order=briefing_order,
            briefing_rule=briefing_rule,
            acceptance=acceptance,
            acceptance_rule=acceptance_rule,
            close_roles=close_roles,
            close_rule=close_rule,
            guardian_rule=guardian_rule,
            shift_check_rule=shift_check_rule,
        )
        self.gas_plan = gas_plan
        self.working_hours_rule = working_hours_rule  # the type states daily working periods (HW-03)
        self._watches, self._effects, self._ends_linked_power = watches, effects or {}, ends_linked_power
        self.steps = st.build(
            countersign=countersign_rule is not None,
            gas_test=gas_plan is not None,
            shift_check=shift_check_rule is not None,
        )
        self._guards = self._wire_guards(guards or {})
        self._completes = self.signatures.completes()
        self.machine = Machine(
            model=None,
            states=[s.value for s in State],
            transitions=self._machine_transitions(),
            initial=State.draft.value,
            auto_transitions=False,
            send_event=True,
            model_attribute="state",
        )

    @property
    def grades(self) -> tuple[Grade, ...]:
        """The type's grades, lowest first."""
        return self.grading.grades

    # -- wiring ---------------------------------------------------------------------------------------------

    def _wire_guards(self, extra: Mapping[str, tuple[Guard, ...]]) -> dict[str, tuple[Guard, ...]]:
        sig, grading = self.signatures, self.grading
        plan = gas_tests.plan_guards(self.gas_plan) if self.gas_plan else {}
        shift_checked = (
            g.has_signed(
                "shift_check",
                sig.shift_check_rule,
                "动火前须由岗位当班班长验票",
                "the on-duty shift leader must check the permit first",
            )
            if sig.shift_check_rule
            else None
        )
        rule = self.working_hours_rule
        in_working_time = (wh.in_working_time(rule),) if rule else ()
        certified = (certs.held(self.certificates),) if self.certificates else ()
        shared: dict[str, tuple[Guard, ...]] = {
            "submit": (
                g.hazard_analysis_recorded,
                measures.measures_answered,
                *certified,
                g.linked_types_present,
                f.typed(self.facts),
                f.required_given(self.facts),
                plan27.plan27_answered,
                f.shutdown_on_record,
                grading.grade_valid,
                grading.window_valid,
                *((wh.periods_stated_well(rule),) if rule else ()),
            ),
            "countersign": (sig.countersigner_eligible, sig.countersign_guard),
            "approve": (
                g.duties_separated,
                measures.measures_confirmed,
                g.checklists_confirmed,
                g.cross_operations_covered,
                g.approved_on_site,
                grading.window_valid,
                upgrade.consent_given,
                upgrade.no_strict_freeze,
            ),
            "record_gas_test": plan.get("record_gas_test", ()),
            "activate": (
                sig.approvals_complete,
                sig.guardian_assigned,
                sig.briefing_complete,
                *certified,  # G-13: a certificate removed or replaced on the record since submission
                *plan.get("activate", ()),
                *((shift_checked,) if shift_checked else ()),
                g.window_open,
                *in_working_time,
                upgrade.no_strict_freeze,
                upgrade.consent_given,
                plan27.principal_confirmed,
            ),
            "suspend": (g.reason_given("G-08"),),
            "resume": (
                g.conditions_reconfirmed,
                *plan.get("resume", ()),
                g.window_open,
                *in_working_time,
                upgrade.no_strict_freeze,
                upgrade.consent_given,  # RG-02, FZ-03: work stopped for want of consent resumes only with it
                plan27.principal_confirmed,  # HR-02: confirmed on site again after a freeze or a red grade
                guardian.guardian_back,  # HC-04: the guardian who checked out is back in
                sig.approvals_complete,  # HW-03, FZ-02: wind seen now or an upgrade freeze may raise the grade
                grading.upgraded_grade,
            ),
            "accept": (g.site_restored,),
            "close": (sig.acceptance_complete,),
            "void": (g.reason_given("G-07"),),
            "expire": (g.validity_over,),
        }
        built = {}
        for step in self.steps:
            name = step.name
            forward = (g.within_validity,) if name in _FORWARD else ()
            built[name] = (sig.role_guard(name), *forward, *shared.get(name, ()), *extra.get(name, ()))
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

    # -- public API -----------------------------------------------------------------------------------------

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
        gas_test = None
        if event == "record_gas_test" and self.gas_plan:
            gas_test = gas_tests.new_test(self.gas_plan, f.recorded(permit), ctx, payload)
        return Outcome(
            event=event,
            state=state,
            signature=self._signature(event, permit, ctx, payload, gas_test),
            grade=self.grading.new_grade(event, permit, ctx),
            effects=self._outcome_effects(event, permit, ctx, payload, state, gas_test),
            gas_test=gas_test,
            certified=certs.certified(self.certificates, permit) if event == "submit" else (),
            departments=self.signatures.required_departments(ctx.departments_configured)
            if event == "submit" and self.signatures.countersign_rule
            else (),
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
        return self.next_actions(permit, ctx)[0]

    def next_actions(self, permit: PermitData, ctx: Context) -> tuple[list[str], list[Blocked]]:
        """What the actor can do next, and what their role could do but a rule blocks (issue 11: say it early).

        Allowed: a transition exists and every payload-independent guard passes. Blocked: a transition exists and
        the actor may sign it (the role guard, always first, passes), but other guards say why not yet.
        """
        allowed: list[str] = []
        blocked: list[Blocked] = []
        for step in self.steps:
            if permit.state not in step.sources:
                continue
            role_guard, *rules = self._guards[step.name]
            if role_guard(permit, ctx, {}):
                continue
            found = [v for gd in rules if not uses_payload(gd) and (v := gd(permit, ctx, {}))]
            if found:
                blocked.append(Blocked(step.name, tuple(found)))
            else:
                allowed.append(step.name)
        return allowed, blocked

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
            self.signatures.approvals_complete(permit, ctx, {}),
            self.grading.grade_valid(permit, ctx, {}),
        )
        return [v for v in found if v is not None]

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

    def fact_problems(
        self, values: Mapping[str, Any], gases: Mapping[str, Any]
    ) -> dict[str, tuple[str, str]]:
        """G-14: the declared facts that do not fit their type, or that the type does not declare: name -> (zh, en)."""
        return f.problems(self.facts, values, gases)

    def catalogue(self) -> dict[str, Any]:
        """Everything a client needs to file this type: grades, facts, measure list, signature order, gas, events."""
        return {
            "type": self.type,
            "prefix": self.prefix,
            "zh": self.zh,
            "en": self.en,
            "grades": self.grading.catalogue(),
            "facts": f.catalogue(self.facts),
            "certificates": [need.catalogue() for need in self.certificates],  # G-13
            "measures": measures.current(self.type).catalogue(),  # G-02: the list new permits are filed under
            "signature_order": self.signatures.order(tests_gas=self.gas_plan is not None),
            "countersigning": self.signatures.countersigning(),  # EX-01, RC-01
            "gas": self.gas_plan.catalogue() if self.gas_plan else None,
            "working_periods_rule": self.working_hours_rule,
            "events": [s.name for s in self.steps],
            "mermaid": self.mermaid(),
        }

    # -- outcome --------------------------------------------------------------------------------------------

    def _signature(
        self,
        event: str,
        permit: PermitData,
        ctx: Context,
        payload: Mapping[str, Any],
        gas_test: GasTest | None,
    ) -> Signature:
        step = next(s for s in self.steps if s.name == event)
        role = self.signatures.signing_role(event, permit, ctx)
        evidence: dict[str, Any] = {k: payload[k] for k in step.evidence if k in payload}
        if gas_test is not None and self.gas_plan:
            evidence = gas_tests.evidence(self.gas_plan, f.recorded(permit), ctx, gas_test)
        return Signature(step.kind, str(role), ctx.actor.person_id, ctx.now, evidence)

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
        grade = self.grading.effective(permit, ctx)
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
