"""General guards every permit type shares (rules.md §2, G-01..G-12; G-13 in workflows.certificates) and the helpers they rest on."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from workflows.model import Context, CrewMember, LinkedPermit, PermitData, Signature
from workflows.rules import Guard, Violation, on_site, reads_payload
from workflows.states import LIVE, TERMINAL


def aware(moment: datetime) -> datetime:
    """A timezone-aware datetime; naive values are taken as UTC (storage is always UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def signed(permit: PermitData, kind: str) -> tuple[Signature, ...]:
    """The permit's signatures of one kind, oldest first."""
    return tuple(s for s in permit.signatures if s.kind == kind)


def crew_with(permit: PermitData, role: str) -> tuple[CrewMember, ...]:
    """The crew members in one crew role."""
    return tuple(m for m in permit.crew if m.role == role)


def filled(value: Any) -> bool:
    """Whether a fact or payload value was actually given (non-blank text, true, non-empty list)."""
    return bool(value.strip()) if isinstance(value, str) else bool(value)


def overlaps(permit: PermitData, other: LinkedPermit) -> bool:
    """Whether another permit's window overlaps this one's (an open window is taken to overlap)."""
    start, end = aware(permit.valid_from), aware(permit.valid_until)
    other_start = aware(other.valid_from) if other.valid_from else None
    other_end = aware(other.valid_until) if other.valid_until else None
    return (other_end is None or start < other_end) and (other_start is None or other_start < end)


def live_neighbours(permit: PermitData, ctx: Context) -> tuple[LinkedPermit, ...]:
    """Other permits holding their place on site during this permit's window."""
    return tuple(o for o in ctx.nearby if o.id != permit.id and o.state in LIVE and overlaps(permit, o))


def has_linked(permit: PermitData, permit_type: str) -> bool:
    """Whether a live (non-terminal) permit of a type is linked to this one (G-03)."""
    return any(lp.type == permit_type and lp.state not in TERMINAL for lp in permit.linked)


POWERED_TYPES = ("hot_work", "confined_space")  # TE-01: the permits temporary power serves and ends with


def parents(permit: PermitData) -> tuple[LinkedPermit, ...]:
    """TE-01: the hot-work and confined-space permits linked to a temporary-power permit: the work it serves."""
    if permit.type != "temporary_power":
        return ()
    return tuple(lp for lp in permit.linked if lp.type in POWERED_TYPES)


def has_linked_ended_parent(permit: PermitData) -> bool:
    """TE-01: temporary power whose hot-work or confined-space permit has ended (or is completed)."""
    return any(lp.state in TERMINAL or lp.state == "completed" for lp in parents(permit))


def hazard_analysis_recorded(
    permit: PermitData, ctx: Context, payload: Mapping[str, Any]
) -> Violation | None:
    """G-01: the risk identification result and the safety measures exist before submission (a permit under an
    Appendix A list has its measures in the list: G-02 asks for its answers)."""
    if filled(permit.risk_analysis) and (permit.measures or permit.measure_list):
        return None
    return Violation(
        "G-01",
        "提交前须记录风险辨识结果和安全措施",
        "record the hazard analysis and the safety measures before submitting",
    )


# SD-02: the enterprise-configured checklists of Plan 28 (their items are not published: rules.md §11).
CHECKLISTS: Mapping[str, tuple[str, str]] = {
    "site": ("现场十个要素", "site checklist"),
    "outsourcing": ("外包作业八个必查", "outsourcing checklist"),
}


def checklists_confirmed(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """SD-02: every item of the site checklist, and of the outsourcing checklist for contractor work, has a named
    confirmer before approval; a checklist the enterprise has not configured has nothing to confirm."""
    confirmed = {(c.checklist, c.code) for c in permit.checklist_confirmations if filled(c.confirmed_by)}
    due = ("site", "outsourcing") if permit.contractor else ("site",)
    missing = {
        kind: codes
        for kind in due
        if (codes := [code for code in ctx.checklists.get(kind, ()) if (kind, code) not in confirmed])
    }
    if not missing:
        return None
    zh = "；".join(f"{CHECKLISTS[kind][0]} {', '.join(codes)}" for kind, codes in missing.items())
    en = "; ".join(f"{CHECKLISTS[kind][1]} {', '.join(codes)}" for kind, codes in missing.items())
    return Violation(
        "SD-02", f"检查项未经确认人确认：{zh}", f"checklist items not confirmed by a named person: {en}"
    )


def linked_types_present(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """G-03: every other special operation the job involves has its own linked permit."""
    missing = [t for t in permit.facts.get("also_involves") or () if not has_linked(permit, t)]
    if not missing:
        return None
    names = ", ".join(missing)
    return Violation(
        "G-03",
        f"同时涉及的作业须关联各自的作业票：{names}",
        f"link a permit for each other operation: {names}",
    )


def cross_operations_covered(
    permit: PermitData, ctx: Context, payload: Mapping[str, Any]
) -> Violation | None:
    """G-04: with another live permit in the same area and window, a coordinator and a risk analysis exist."""
    others = [o.number or o.id for o in live_neighbours(permit, ctx) if o.area_id == permit.area.id]
    facts = permit.facts
    if not others or (
        filled(facts.get("cross_operation_coordinator"))
        and filled(facts.get("cross_operation_risk_analysis"))
    ):
        return None
    numbers = ", ".join(others)
    return Violation(
        "G-04",
        f"与{numbers}交叉作业：须指定协调人并完成交叉作业风险辨识",
        f"cross operation with {numbers}: name a coordinator and record a cross-operation risk analysis",
    )


@reads_payload
def approved_on_site(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """G-06: the approver is seen on site by positioning, fixed inside the area's boundary, or declared where
    the regulator exempted the area (workflows.rules.on_site weighs what the shell gathered)."""
    found = on_site.judge(ctx.on_site, ctx.now, ctx.policy, signer=("审批人", "approver"))
    return found if isinstance(found, Violation) else None


def reason_given(rule: str) -> Guard:
    """A guard requiring a non-blank payload `reason`, cited under `rule` (G-07 void, G-08 suspend)."""

    @reads_payload
    def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        if filled(payload.get("reason")):
            return None
        return Violation(rule, "须说明原因", "a reason is required")

    return guard


def payload_confirms(key: str, rule: str, zh: str, en: str) -> Guard:
    """A guard requiring the payload to confirm `key` as true, cited under `rule`."""

    @reads_payload
    def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        return None if payload.get(key) is True else Violation(rule, zh, en)

    return guard


conditions_reconfirmed = payload_confirms(
    "conditions_confirmed",
    "G-08",
    "恢复作业前须重新确认作业条件",
    "re-confirm the work conditions before resuming",
)
site_restored = payload_confirms(
    "site_restored",
    "G-11",
    "完工验收前须恢复现场（盖板、栏杆等）",
    "restore the site (covers, rails) before acceptance",
)


def duties_separated(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """G-09: the guardian is not also a worker on the same permit."""
    both = {m.person_id for m in crew_with(permit, "guardian")} & {
        m.person_id for m in crew_with(permit, "worker")
    }
    if not both:
        return None
    names = ", ".join(sorted(both))
    return Violation("G-09", f"监护人不得兼任作业人：{names}", f"a guardian cannot also be a worker: {names}")


def within_validity(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """G-12: nothing moves a permit forward once its validity has ended."""
    if ctx.now < aware(permit.valid_until):
        return None
    return Violation(
        "G-12", "作业票已过有效期，须重新办理", "the permit's validity has ended: issue a new permit"
    )


def window_open(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """G-12: work runs only inside the validity window."""
    if aware(permit.valid_from) <= ctx.now < aware(permit.valid_until):
        return None
    return Violation("G-12", "当前时间不在作业票有效期内", "now is outside the permit's validity window")


def validity_over(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """G-12: only a permit past valid_until expires."""
    if ctx.now >= aware(permit.valid_until):
        return None
    return Violation("G-12", "作业票尚未到期", "the permit has not reached valid_until yet")


def fact_given(name: str, rule: str, zh: str, en: str) -> Guard:
    """A guard requiring the fact `name` to be filled in, cited under `rule`."""

    def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        return None if filled(permit.facts.get(name)) else Violation(rule, zh, en)

    return guard


def crew_includes(role: str, rule: str, zh: str, en: str) -> Guard:
    """A guard requiring at least one crew member in `role`, cited under `rule`."""

    def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        return None if crew_with(permit, role) else Violation(rule, zh, en)

    return guard


def has_signed(kind: str, rule: str, zh: str, en: str) -> Guard:
    """A guard requiring a signature of `kind` on the permit, cited under `rule`."""

    def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        return None if signed(permit, kind) else Violation(rule, zh, en)

    return guard
