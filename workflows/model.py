"""Plain data the workflow core reads: the shell builds these from its rows, the core never sees ORM objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Protocol


@dataclass(frozen=True)
class Actor:
    """Who acts: a person (or the system / an integration account) with the roles they hold."""

    person_id: str
    roles: frozenset[str]
    enterprise_id: str | None = None
    name: str = ""
    # The positioning card the person carries (HC-03); the shell's G-06 claim names it as the signer's own.
    card_id: str | None = None
    # The departments the person belongs to on their record: they countersign for those only (EX-01, RC-01).
    departments: frozenset[str] = frozenset()

    SYSTEM_ID = "system"

    @property
    def is_system(self) -> bool:
        return self.person_id == self.SYSTEM_ID


@dataclass(frozen=True)
class Area:
    """The risk area the work is in (a plant area)."""

    id: str
    name: str = ""
    running_unit: bool = False
    flammable: bool = False
    explosive: bool = False
    toxic: bool = False
    fire_explosion_area: bool = False
    max_headcount: int | None = None
    major_hazard: bool = False  # part of a major hazard installation (重大危险源)
    dike_code: str | None = None  # the tank-farm dike (防火堤) the area lies in
    media: tuple[str, ...] = ()  # gas codes of the media the area holds (HW-05, CS-02)


@dataclass(frozen=True)
class Certificate:
    """A special-work certificate on a person's record in the directory (G-13): kind, number, expiry, issuer."""

    kind: str
    number: str
    expires_on: date | None = None
    issued_by: str | None = None


@dataclass(frozen=True)
class CrewMember:
    """A named person on the permit in one crew role (worker, guardian, work_leader, signaller, ...), with the
    certificates their directory record holds (G-13: the service checks those, not what the applicant says)."""

    person_id: str
    role: str
    name: str = ""
    certificates: tuple[Certificate, ...] = ()


@dataclass(frozen=True)
class Measure:
    """A safety measure line of the permit: whether it applies (None: not answered yet), the counts its blanks
    record, and who confirmed it (G-02). `text` is the applicant's own wording (added and legacy lines)."""

    code: str
    text: str = ""
    involved: bool | None = True
    confirmed_by: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ChecklistConfirmation:
    """An item of one of the enterprise's checklists (SD-02) and the named person who confirmed it."""

    checklist: str  # "site" (十个要素) | "outsourcing" (外包作业八个必查)
    code: str
    confirmed_by: str


@dataclass(frozen=True)
class Signature:
    """A signature on the permit: the step (kind), the signing role and person, when and where (G-06)."""

    kind: str
    role: str
    person_id: str
    at: datetime
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GasReading:
    """One reading, already normalised by the shell to its stored unit (% vol for flammables/O2, mg/m3 or ppm for toxics)."""

    gas: str
    value: float
    unit: str


@dataclass(frozen=True)
class GasTest:
    """A gas analysis with its verdict, computed by the core (never by the client)."""

    sampled_at: datetime
    analyst_id: str
    passed: bool
    readings: tuple[GasReading, ...] = ()
    point: str = ""


@dataclass(frozen=True)
class LinkedPermit:
    """Another permit this one is linked to (G-03) or that runs nearby (conflict checks)."""

    id: str
    number: str
    type: str
    state: str
    area_id: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    dike_code: str | None = None  # the tank-farm dike its area lies in, from the area record (HW-10, G-14)


@dataclass(frozen=True)
class WorkingPeriod:
    """A daily working period in Asia/Shanghai local time (HW-03); one ending at or before its start runs past
    midnight (a night shift)."""

    start: time
    end: time


@dataclass(frozen=True)
class DikeJob:
    """A high-risk job at work in the tank-farm dike of the permit's area, whether or not it carries a permit (HR-01,
    HW-10): a 切水 job is an operation in that dike all the same."""

    id: str
    title: str
    kind: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class PermitData:
    """Everything the core needs to know about one permit."""

    id: str
    type: str
    state: str
    grade: str | None
    facts: Mapping[str, Any]
    area: Area
    valid_from: datetime
    valid_until: datetime
    applicant_id: str
    number: str = ""
    risk_analysis: str = ""
    measures: tuple[Measure, ...] = ()
    # G-02: the version of the type's Appendix A list it was filed under (0: before the lists).
    measure_list: int = 0
    crew: tuple[CrewMember, ...] = ()
    # EX-01, RC-01: the departments that must countersign, fixed at submission from the enterprise's configuration.
    countersign_departments: tuple[str, ...] = ()
    signatures: tuple[Signature, ...] = ()
    # In sampling order, ties in recording order; the shell may give only those rules.gas_tests.read_by_guards picks.
    gas_tests: tuple[GasTest, ...] = ()
    linked: tuple[LinkedPermit, ...] = ()
    suspended_at: datetime | None = None
    activated_at: datetime | None = None
    people_inside: int = 0
    tools_inside: int = 0  # tools registered into the space and not yet out (CS-05)
    job_kind: str | None = None  # set when the permit belongs to a high-risk job (HR-01)
    # HR-01: the answer at filing to "is this Plan-27 work?": a Plan-27 kind, "none", or None (never answered).
    high_risk_answer: str | None = None
    principal_confirmed_at: datetime | None = None  # HR-02: the job's latest on-site confirmation
    guardian_left: bool = False  # HC-04: the guardian checked out and no guardian is registered inside
    consented: bool = False  # a regulator's consent covers this permit (HR-01/03, FZ-02, RG-02)
    contractor: bool = False  # the work unit is a contractor: outsourced work (SD-02)
    checklist_confirmations: tuple[ChecklistConfirmation, ...] = ()  # SD-02
    # HW-03: the daily periods the work is done in; none stated: the whole validity is working time.
    working_periods: tuple[WorkingPeriod, ...] = ()


class HolidayCalendar(Protocol):
    """Answers whether a day in Asia/Shanghai is a statutory holiday or a rest day (make-up working days are not)."""

    def is_rest_day(self, day: date) -> bool: ...


@dataclass(frozen=True)
class Freeze:
    """A declared freeze that overlaps the permit's window (FZ-01..04)."""

    id: str
    mode: str  # "strict" | "upgrade"
    types: frozenset[str]
    starts_at: datetime
    ends_at: datetime
    reason: str = ""


@dataclass(frozen=True)
class OnSiteClaim:
    """What the plant's records say about a signer being in an area now (G-06); the core weighs it.

    Gathered by the shell: where positioning last placed the signer's own card and when, whether a position fix
    lies inside the area's boundary (None: no point to test), and whether the regulator exempted the area.
    """

    own_card: str | None = None  # the signer's positioning card on record (HC-03)
    cited_card: str | None = None  # a card the request names: only the signer's own may be cited
    card_seen_at: datetime | None = None  # when positioning last placed the own card in this area
    position_given: bool = False
    has_boundary: bool = False
    inside: bool | None = None
    accuracy_m: float | None = None
    declared: bool = False
    exempt: bool = False  # the regulator recorded that the area has no positioning coverage


@dataclass(frozen=True)
class Context:
    """The world at the moment of the action: the clock, the actor, the calendar, policy and surroundings."""

    now: datetime
    actor: Actor
    calendar: HolidayCalendar
    policy: Mapping[str, Any] = field(default_factory=dict)
    nearby: Sequence[LinkedPermit] = ()  # the shell may load it on first use: only conflict guards read it
    dike_jobs: Sequence[
        DikeJob
    ] = ()  # likewise: read only for hot work in an area that lies in a dike (HW-10)
    freezes: tuple[Freeze, ...] = ()
    enterprise_risk_grade: str | None = None  # red / orange / yellow / blue (RG-01/02)
    # G-06: what the records say about the signer being in the permit's area (only approvals gather it).
    on_site: OnSiteClaim | None = None
    # SD-02: the item codes of the enterprise's checklists, in order, by kind ("site", "outsourcing"); a kind the
    # enterprise has not configured is absent and has nothing to confirm.
    checklists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # EX-01, RC-01: the departments the enterprise configured to countersign the permit's type (read at submission);
    # None: it configured none, and the type's default applies.
    departments_configured: tuple[str, ...] | None = None
