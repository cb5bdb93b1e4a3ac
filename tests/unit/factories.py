"""Factories for workflow unit tests: permits, contexts, actors, payloads, and a tiny stand-in for the shell."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from workflows import Outcome, Workflow, get_workflow, measures
from workflows.model import (
    Actor,
    Area,
    Certificate,
    Context,
    CrewMember,
    Freeze,
    GasTest,
    LinkedPermit,
    Measure,
    OnSiteClaim,
    PermitData,
)
from workflows.states import State

NOW = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai, a working day, daytime
APPLICANT = "p-applicant"
LEADER, WORKER, GUARDIAN, SIGNALLER = "p-leader", "p-worker", "p-guardian", "p-signaller"
TYPES = (
    "hot_work",
    "confined_space",
    "blind_plate",
    "height",
    "lifting",
    "temporary_power",
    "excavation",
    "road_closure",
)

FACTS: Mapping[str, Mapping[str, Any]] = {
    "hot_work": {"methods": ["electric_welding"]},
    "confined_space": {},
    "blind_plate": {
        "pipeline_id": "L-101",
        "blind_number": "B-7",
        "action": "insert",
        "diagram_blind_numbers": ["B-7"],
    },
    "height": {"height_m": 3.0},
    "lifting": {"load_t": 20.0},
    "temporary_power": {},
    "excavation": {"depth_m": 1.0},
    "road_closure": {"road": "Road 3", "traffic_plan": "detour via Road 5", "fire_access_kept": True},
}
GOOD_AIR = ({"gas": "O2", "value": 20.9, "unit": "%vol"}, {"gas": "CH4", "value": 0.1, "unit": "%vol"})
BAD_AIR = ({"gas": "O2", "value": 20.9, "unit": "%vol"}, {"gas": "CH4", "value": 0.8, "unit": "%vol"})


@dataclass
class FakeCalendar:
    """A holiday calendar answering from a fixed set of rest days."""

    rest_days: set[date] = field(default_factory=set)

    def is_rest_day(self, day: date) -> bool:
        return day in self.rest_days


def actor(*roles: str, person_id: str | None = None) -> Actor:
    """An actor holding roles; the person id defaults to p-<first role>."""
    return Actor(person_id or f"p-{roles[0] if roles else 'nobody'}", frozenset(roles), "ent-1")


SYSTEM = Actor(Actor.SYSTEM_ID, frozenset(), "ent-1")


def member_of(department: str) -> Actor:
    """A countersigner of one department (EX-01, RC-01): person p-<department>."""
    return Actor(
        f"p-{department}", frozenset({"countersigner"}), "ent-1", departments=frozenset({department})
    )


def countersigner(p: PermitData) -> Actor:
    """A member of the first department still to countersign the permit."""
    return member_of(next(iter(get_workflow(p.type).signatures.departments_missing(p)), "none"))


# G-06: what the shell would find for an approver on site: their own card seen in the area just now.
SEEN_ON_SITE = OnSiteClaim(own_card="C-1", card_seen_at=NOW)


def ctx(who: Actor | None = None, now: datetime = NOW, **kw: Any) -> Context:
    """A context at `now` (default NOW) with a fake calendar, the actor seen on site and no surroundings."""
    kw.setdefault("calendar", FakeCalendar())
    kw.setdefault("on_site", SEEN_ON_SITE)
    return Context(now=now, actor=who or actor("applicant", person_id=APPLICANT), **kw)


# G-13: valid well past NOW; the worker holds what any type's work may need, the signaller the signaller's.
EXPIRY = date(2030, 12, 31)
WORKER_CERTIFICATES = tuple(
    Certificate(kind, f"{kind}-1", EXPIRY) for kind in ("welder", "electrician", "crane_operator")
)


def crew(permit_type: str) -> tuple[CrewMember, ...]:
    """A complete crew: work leader, a certified worker, a guardian (and a certified signaller for lifting)."""
    members = [
        CrewMember(LEADER, "work_leader", "Leader"),
        CrewMember(WORKER, "worker", "Worker", WORKER_CERTIFICATES),
        CrewMember(GUARDIAN, "guardian", "Guardian"),
    ]
    if permit_type == "lifting":
        signaller = Certificate("crane_signaller", "Q1-1", EXPIRY)
        members.insert(0, CrewMember(SIGNALLER, "signaller", "Signaller", (signaller,)))
    return tuple(members)


def permit(permit_type: str = "hot_work", state: str = State.draft, **overrides: Any) -> PermitData:
    """A permit that passes every check up to `state` (its history signed accordingly)."""
    facts = {**FACTS[permit_type], **overrides.pop("facts", {})}
    area = overrides.pop("area", Area("area-1", "Unit 1"))
    base = PermitData(
        id=f"id-{permit_type}",
        type=permit_type,
        state=State.draft,
        grade=None,
        facts=facts,
        area=area,
        valid_from=NOW - timedelta(minutes=30),
        valid_until=NOW + timedelta(hours=4),
        applicant_id=APPLICANT,
        number=f"N-{permit_type}",
        risk_analysis="hazards identified",
        high_risk_answer="none",  # HR-01: answered at filing
        measures=(Measure("M1", "isolate and purge", True, GUARDIAN),),
        crew=crew(permit_type),
    )
    later = {k: overrides.pop(k) for k in _AFTER if k in overrides}
    return replace(advance(replace(base, **overrides), state), **later)


_AFTER = ("signatures", "gas_tests", "suspended_at", "activated_at", "people_inside", "tools_inside")


def _path(wf: Workflow, target: str) -> list[str]:
    """Events leading from draft to `target` along the happy path (in-place steps included)."""
    path = ["submit"]
    if "countersign" in wf.catalogue()["events"]:
        path.append("countersign*")
    path += ["approve*"]
    if wf.gas_plan:
        path.append("record_gas_test")
    path += ["brief*"]
    if "shift_check" in wf.catalogue()["events"]:
        path.append("shift_check")
    path += ["activate", "complete", "accept*", "close"]
    stops = {
        State.draft: 0,
        State.submitted: 1,
        State.countersigned: 2,
        State.approved: path.index("approve*") + 1,
        State.briefed: path.index("activate"),
        State.active: path.index("activate") + 1,
        State.completed: path.index("complete") + 1,
        State.closed: len(path),
    }
    if target == State.countersigned and "countersign*" not in path:
        raise ValueError(f"{wf.type} has no countersign step")
    if target in stops:
        return path[: stops[target]]
    if target == State.suspended:
        return [*_path(wf, State.active), "suspend"]
    return [
        "submit",
        {"rejected": "reject", "cancelled": "cancel", "expired": "expire", "voided": "void"}[target],
    ]


def advance(p: PermitData, target: str) -> PermitData:
    """Fire the happy path from draft until the permit reaches `target` (terminal states by their own event)."""
    wf = get_workflow(p.type)
    for step in _path(wf, target):
        event = step.rstrip("*")
        later = {"now": p.valid_until + timedelta(minutes=1)} if event == "expire" else {}
        start = p.state
        p = fire(p, event, **later)
        while (
            step.endswith("*")
            and p.state == start
            and event in wf.allowed_actions(p, ctx(actor_for(wf, p, event)))
        ):
            p = fire(p, event)
    return p


def fire(
    p: PermitData, event: str, who: Actor | None = None, payload: Mapping[str, Any] | None = None, **kw: Any
) -> PermitData:
    """Fire an event with the natural actor and payload and apply the outcome like the shell would."""
    wf = get_workflow(p.type)
    c = ctx(who or actor_for(wf, p, event), **kw)
    out = wf.fire(p, event, c, payload if payload is not None else payload_for(wf, p, event))
    return apply(p, out, c)


def actor_for(wf: Workflow, p: PermitData, event: str) -> Actor:
    """The person who naturally performs an event on this permit."""
    if event == "approve":
        given = {s.role for s in p.signatures if s.kind == "approval"}
        slots = [r for r, _ in wf.grading.approval_slots(p, ctx())]
        roles = next((r for r in slots if not given & set(r)), slots[0])
        return actor(roles[0])
    if event == "brief":
        due = wf.signatures.briefing_due(p)
        member = due[0] if due else p.crew[0]
        return actor(member.role, person_id=member.person_id)
    if event == "accept":
        given = {s.role for s in p.signatures if s.kind == "acceptance"}
        group = next(
            (gr for gr in wf.signatures.acceptance if not given & set(gr)), wf.signatures.acceptance[0]
        )
        return actor(group[0])
    fixed = {
        "submit": actor("applicant", person_id=APPLICANT),
        "countersign": countersigner(p),
        "reject": actor(wf.grading.approval_slots(p, ctx())[0][0][0]),
        "record_gas_test": actor("analyst"),
        "shift_check": actor("shift_leader"),
        "activate": actor("work_leader", person_id=LEADER),
        "suspend": actor("guardian", person_id=GUARDIAN),
        "resume": actor("work_leader", person_id=LEADER),
        "complete": actor("work_leader", person_id=LEADER),
        "close": actor("power_supplier" if wf.type == "temporary_power" else "unit_leader"),
        "cancel": actor("applicant", person_id=APPLICANT),
        "void": actor("applicant", person_id=APPLICANT),
        "expire": SYSTEM,
    }
    return fixed[event]


CALM = {
    "wind_level": 2,
    "conditions": [],
}  # the weather seen on site when work starts or resumes (WH-02, LF-03)


def payload_for(wf: Workflow, p: PermitData, event: str) -> dict[str, Any]:
    """A payload that satisfies the event's payload rules."""
    if event == "countersign":
        return {"department": next(iter(wf.signatures.departments_missing(p)), "none")}
    return {
        "approve": {"area_id": p.area.id},
        "record_gas_test": {"readings": list(GOOD_AIR), "point": "manhole"},
        "suspend": {"reason": "lunch break", "reason_code": "abnormal"},
        "activate": {"weather": CALM},
        "resume": {"conditions_confirmed": True, "weather": CALM},
        "accept": {"site_restored": True, "traffic_restored": True},
        "void": {"reason": "scope changed"},
        "reject": {"reason": "incomplete"},
        "cancel": {"reason": "not needed"},
    }.get(event, {})


def apply(p: PermitData, out: Outcome, c: Context) -> PermitData:
    """What the shell does with an Outcome: new state, signature, grade, gas test, suspension times."""
    changes: dict[str, Any] = {"state": out.state.value}
    if out.signature:
        changes["signatures"] = (*p.signatures, out.signature)
    if out.grade:
        changes["grade"] = out.grade
    if out.gas_test:
        changes["gas_tests"] = (*p.gas_tests, out.gas_test)
    if out.departments:
        changes["countersign_departments"] = out.departments
    if out.state == State.suspended and p.state != State.suspended:
        changes["suspended_at"] = c.now
    if out.state == State.active and p.state != State.active:
        changes.update(activated_at=p.activated_at or c.now, suspended_at=None)
    return replace(p, **changes)


def gas_test(passed: bool = True, at: datetime = NOW) -> GasTest:
    """A gas test sampled at `at`."""
    return GasTest(at, "p-analyst", passed)


def neighbour(
    permit_type: str,
    state: str = State.active,
    area_id: str = "area-1",
    dike_code: str | None = None,
    **facts: Any,
) -> LinkedPermit:
    """Another live permit nearby."""
    return LinkedPermit(
        f"other-{permit_type}",
        f"X-{permit_type}",
        permit_type,
        state,
        area_id,
        facts,
        NOW,
        NOW + timedelta(hours=2),
        dike_code,
    )


def freeze(mode: str, *types: str) -> Freeze:
    """A freeze of some types overlapping the window."""
    return Freeze(
        "fz-1", mode, frozenset(types), NOW - timedelta(days=1), NOW + timedelta(days=1), "Spring Festival"
    )


def rules(violations: Iterable[Any]) -> set[str]:
    """The rule IDs of some violations."""
    return {v.rule_id for v in violations}


def check(
    p: PermitData, event: str, who: Actor | None = None, payload: Mapping[str, Any] | None = None, **kw: Any
) -> set[str]:
    """The rule IDs blocking an event (natural actor and payload unless given)."""
    wf = get_workflow(p.type)
    c = ctx(who or actor_for(wf, p, event), **kw)
    return rules(wf.check(p, event, c, payload if payload is not None else payload_for(wf, p, event)))


def answered_measures(permit_type: str, *, open_line: bool = False) -> tuple[Measure, ...]:
    """Every line of the type's current Appendix A list answered (G-02): the first line, and each line with count
    blanks, involved (counts filled) and confirmed by the guardian, the others not involved; with `open_line` the
    first line lacks its confirmer."""
    lines = [line for line in measures.current(permit_type).lines if not line.other]
    involved = {lines[0].code} | {line.code for line in lines if line.counts}
    return tuple(
        Measure(
            line.code,
            involved=line.code in involved,
            confirmed_by=GUARDIAN if line.code in involved and not (open_line and line is lines[0]) else None,
            counts={c.name: max(c.minimum, 2) for c in line.counts} if line.code in involved else {},
        )
        for line in lines
    )
