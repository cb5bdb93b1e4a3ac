"""Who signs what and in which order (GB 4.4-4.11, B.1, Appendix A): roles per event, approvals, countersigning,
the briefing, the shift check and the completion acceptance."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workflows.grading import Grading, Slot
from workflows.model import Context, CrewMember, PermitData
from workflows.rules import Guard, Violation, reads_payload
from workflows.rules import general as g
from workflows.states import State
from workflows.vocabulary import DEPARTMENT_NAMES

SYSTEM = "system"  # pseudo-role held only by the system actor (Actor.is_system)
STATIC_ROLES: Mapping[str, tuple[str, ...]] = {
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
Completes = Callable[[PermitData, Context, Mapping[str, Any]], bool]


def department_name(code: Any) -> tuple[str, str]:
    """A department's Chinese and English name (an unlisted code as itself)."""
    return DEPARTMENT_NAMES.get(code, (str(code), str(code)))


def department_names(codes: list[str]) -> tuple[str, str]:
    """Departments by name, Chinese and English ("—" for none)."""
    pairs = [department_name(c) for c in codes]
    return "、".join(zh for zh, _ in pairs) or "—", ", ".join(en for _, en in pairs) or "—"


@dataclass(frozen=True)
class Signatures:
    """A type's signers: the approval table it grades by, countersigning, briefing, acceptance and closure."""

    grading: Grading
    countersign_rule: str | None = None
    departments: tuple[str, ...] = ()  # countersign every permit of the type (RC-01: fire, safety)
    default_departments: tuple[str, ...] = ()  # where the enterprise configured none (EX-01)
    briefing_order: tuple[str, ...] = ("work_leader", "worker")
    briefing_rule: str = "G-05"
    acceptance: tuple[tuple[str, ...], ...] = (("unit_leader", "shift_leader"),)
    acceptance_rule: str = "G-11"
    close_roles: tuple[str, ...] = ("unit_leader", "shift_leader", "safety_dept")
    close_rule: str = "ROLE"
    guardian_rule: str = "SD-01"
    shift_check_rule: str | None = None

    def roles(self, event: str) -> tuple[str, ...]:
        """The roles that may fire an event whose signers do not depend on the permit."""
        return self.close_roles if event == "close" else STATIC_ROLES[event]

    def role_guard(self, event: str) -> Guard:
        """A guard: the actor holds a role that may sign this event on this permit now."""

        def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
            role = self.signing_role(event, permit, ctx)
            return role if isinstance(role, Violation) else None

        return guard

    def signing_role(self, event: str, permit: PermitData, ctx: Context) -> str | Violation:
        """The role the actor signs this event in, or the violation that keeps them from signing it."""
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
            roles = tuple(r for slot, _ in self.grading.approval_slots(permit, ctx) for r in slot)
            roles += STATIC_ROLES["countersign"] if event == "reject" and self.countersign_rule else ()
            roles += ("safety_dept",) if event == "void" else ()
        else:
            roles = self.roles(event)
        held = [r for r in roles if r in actor.roles or (r == SYSTEM and actor.is_system)]
        if held:
            return held[0]
        names = ", ".join(dict.fromkeys(roles))
        rule = self.close_rule if event == "close" else "ROLE"
        return Violation(
            rule, f"“{event}”需要以下角色之一：{names}", f"'{event}' needs one of the roles: {names}"
        )

    # -- approval (G-09, G-10, HR-02) ---------------------------------------------------------------------

    def missing_approvals(self, permit: PermitData, ctx: Context) -> list[Slot]:
        """The approval slots nobody has signed yet."""
        given = {s.role for s in g.signed(permit, "approval")}
        return [
            (roles, rule)
            for roles, rule in self.grading.approval_slots(permit, ctx)
            if not given & set(roles)
        ]

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
        missing = self.missing_approvals(permit, ctx)
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

    def approval_completes(self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> bool:
        """Whether this approval is the last one missing."""
        missing = self.missing_approvals(permit, ctx)
        return len(missing) == 1 and bool(set(missing[0][0]) & ctx.actor.roles)

    def approvals_complete(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        """SD-01: no approval, no work."""
        missing = self.missing_approvals(permit, ctx)
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

    def guardian_assigned(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        """SD-01 / HW-11: no guardian, no work."""
        if g.crew_with(permit, "guardian"):
            return None
        return Violation(self.guardian_rule, "无监护人不得作业", "no guardian, no work: assign a guardian")

    # -- countersigning (EX-01, RC-01) --------------------------------------------------------------------

    def required_departments(self, configured: tuple[str, ...] | None) -> tuple[str, ...]:
        """EX-01, RC-01: the departments a permit submitted now must gather: the type's own (road closure's fire and
        safety) and those the enterprise `configured` for the type, or the type's default where it configured none."""
        listed = self.default_departments if configured is None else configured
        return tuple(dict.fromkeys((*self.departments, *listed)))

    def departments_missing(self, permit: PermitData) -> list[str]:
        """The departments fixed at submission that have not countersigned yet, in their order."""
        signed = {s.evidence.get("department") for s in g.signed(permit, "countersign")}
        return [d for d in permit.countersign_departments if d not in signed]

    def countersign_completes(self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> bool:
        """Whether this countersignature is the last one missing."""
        return not set(self.departments_missing(permit)) - {payload.get("department")}

    def _already_countersigned(self, permit: PermitData, ctx: Context) -> Violation | None:
        signed = [s for s in g.signed(permit, "countersign") if s.person_id == ctx.actor.person_id]
        if not signed:
            return None
        zh, en = department_name(signed[0].evidence.get("department"))
        return Violation(
            self.countersign_rule or "STATE",
            f"同一人只能为一个部门会签：已代表{zh}会签",
            f"one person countersigns for one department only: already signed for the {en}",
        )

    def countersigner_eligible(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        """EX-01, RC-01: the actor belongs to a department still to countersign and has not countersigned this permit
        for another one (each department is signed by a different person of that department)."""
        found = self._already_countersigned(permit, ctx)
        if found or set(self.departments_missing(permit)) & ctx.actor.departments:
            return found
        zh, en = department_names(self.departments_missing(permit))
        return Violation(
            self.countersign_rule or "STATE",
            f"会签人须属于待会签的部门：{zh}",
            f"the countersigner must belong to a department still to countersign: {en}",
        )

    def _department_named(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        department, missing = payload.get("department"), self.departments_missing(permit)
        rule = self.countersign_rule or "STATE"
        if department not in missing:
            zh, en = department_names(missing)
            return Violation(
                rule,
                f"会签部门须为待会签部门之一：{zh}",
                f"department must be one still to countersign: {en}",
            )
        if department not in ctx.actor.departments:
            zh, en = department_name(department)
            return Violation(rule, f"会签人不属于{zh}", f"the countersigner does not belong to the {en}")
        return None

    @property
    def countersign_guard(self) -> Guard:
        """A countersign guard: the department named is one still to countersign, and the actor's own."""
        return reads_payload(self._department_named)

    # -- briefing (G-05, LF-04) ---------------------------------------------------------------------------

    def briefing_due(self, permit: PermitData) -> list[CrewMember]:
        """The crew still to sign the briefing, in signing order."""
        done = {s.person_id for s in g.signed(permit, "briefing")}
        order = self.briefing_order
        due = [m for m in permit.crew if m.role in order and m.person_id not in done]
        return sorted(due, key=lambda m: order.index(m.role))

    def briefing_completes(self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> bool:
        """Whether the actor is the last one due to sign the briefing."""
        return {m.person_id for m in self.briefing_due(permit)} <= {ctx.actor.person_id}

    def _briefing_role(self, permit: PermitData, ctx: Context) -> str | Violation:
        # G-05: the briefer signs first, then every worker; a type may put another signer first (LF-04).
        due = self.briefing_due(permit)
        mine = [m for m in due if m.person_id == ctx.actor.person_id]
        if not mine:
            return Violation(
                "G-05",
                "只有尚未签字的交底人或作业人可以签署安全交底",
                "only a briefer or worker on this permit who has not signed yet can sign the briefing",
            )
        first = due[0]
        if self.briefing_order.index(mine[0].role) > self.briefing_order.index(first.role):
            rule = self.briefing_rule if first.role == self.briefing_order[0] else "G-05"
            return Violation(
                rule, f"须由{first.role}先签字", f"the {first.role} must sign the briefing first"
            )
        return mine[0].role

    def briefing_complete(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        """G-05: the briefer and every worker have signed the briefing."""
        absent = [r for r in self.briefing_order if not g.crew_with(permit, r)]
        due = self.briefing_due(permit)
        if not absent and not due:
            return None
        who = ", ".join(absent + [m.name or m.person_id for m in due])
        return Violation("G-05", f"安全交底未完成：{who}", f"the safety briefing is not complete: {who}")

    # -- acceptance (G-11, BP-04, RC-02) ------------------------------------------------------------------

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
            self.acceptance_rule, f"完工验收待签角色：{names}", f"acceptance still awaits one of: {names}"
        )

    def acceptance_complete(
        self, permit: PermitData, ctx: Context, payload: Mapping[str, Any]
    ) -> Violation | None:
        """G-11: completion acceptance is signed by every group before closing."""
        missing = self._acceptance_missing(permit)
        if not missing:
            return None
        names = "; ".join(", ".join(gr) for gr in missing)
        return Violation(
            self.acceptance_rule, f"关闭前须完成完工验收：{names}", f"close needs acceptance by: {names}"
        )

    # -- the order of the form ----------------------------------------------------------------------------

    def completes(self) -> Mapping[str, Completes]:
        """For each collecting event: whether this signature completes the collection."""
        return {
            "countersign": self.countersign_completes,
            "approve": self.approval_completes,
            "brief": self.briefing_completes,
        }

    def countersigning(self) -> dict[str, Any] | None:
        """EX-01, RC-01 as the catalogue publishes them: the departments every permit of the type gathers, those it
        gathers where the enterprise configured none, and the departments an enterprise configures from."""
        if not self.countersign_rule:
            return None
        return {
            "rule": self.countersign_rule,
            "always": list(self.departments),
            "default": list(self.default_departments),
            "departments": [{"code": c, "zh": zh, "en": en} for c, (zh, en) in DEPARTMENT_NAMES.items()],
        }

    def order(self, tests_gas: bool) -> list[dict[str, Any]]:
        """The signatures of the form in their order, each with the roles that sign it."""
        order: list[dict[str, Any]] = [{"kind": "application", "roles": ["applicant"]}]
        if self.countersign_rule:
            order.append({"kind": "countersign", "roles": list(STATIC_ROLES["countersign"])})
        approvers = sorted({r for gr in self.grading.grades for r in gr.approvers})
        order.append({"kind": "approval", "roles": approvers})
        if tests_gas:
            order.append({"kind": "gas_test", "roles": ["analyst"]})
        order.append({"kind": "briefing", "roles": list(self.briefing_order)})
        if self.shift_check_rule:
            order.append({"kind": "shift_check", "roles": ["shift_leader"]})
        order += [
            {"kind": "acceptance", "roles": [list(gr) for gr in self.acceptance]},
            {"kind": "closure", "roles": list(self.close_roles)},
        ]
        return order
