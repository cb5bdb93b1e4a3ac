"""Permit use cases: file, edit a draft, act through the workflow, re-issue, read. They flush, never commit."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import fields as dc_fields
from datetime import datetime, time
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload, lazyload, load_only, make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import flag_modified, set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from permit_service import clock
from permit_service.api.fields import display_tz
from permit_service.audit import service as audit
from permit_service.audit.models import Event
from permit_service.auth.principal import SYSTEM, Principal, enterprise_scope, own_enterprise
from permit_service.db import advisory_xact_lock, is_postgres, mark_written
from permit_service.directory.models import Enterprise, PlantArea
from permit_service.errors import Conflict, NotFound, PreconditionFailed, Problem, ValidationProblem
from permit_service.feed import positions
from permit_service.measures.lines import answers as measure_answers
from permit_service.measures.lines import as_input, core_measures
from permit_service.onsite import service as onsite
from permit_service.permits import children, documents
from permit_service.permits.context import (
    GENERATION,
    MEMO,
    Deferred,
    LazySequence,
    Resolving,
    generation_of,
    guarded_names,
    guarded_values,
    keep_read_with,
    note_generation,
    note_read_with,
    provided_again,
    provided_fields,
    read_holding_lock,
    read_with,
    reads,
    with_permit_columns,
)
from permit_service.permits.crew import Held, crew_of, crew_people, held, people_json, people_of, people_read
from permit_service.permits.models import (
    GasTest,
    Permit,
    PermitCrewMember,
    PermitLink,
    PermitNumberCounter,
    Signature,
)
from workflows import Blocked, get_workflow, working_hours
from workflows import model as wf
from workflows.certificates import Certified
from workflows.gas import gas_table
from workflows.measures import CURRENT as CURRENT_MEASURE_LIST
from workflows.rules import RuleViolation, Violation, on_site
from workflows.states import LIVE, TERMINAL, State

if TYPE_CHECKING:
    from permit_service.calendar import ProvisionalNotice

_PERMIT_DATA_FIELDS = {f.name for f in dc_fields(wf.PermitData)}
_CONTEXT_FIELDS = {f.name for f in dc_fields(wf.Context)}


class _PermitData(Resolving, wf.PermitData):
    """The core's PermitData whose provided fields may load on first read (permits.context.Deferred)."""


class _Context(Resolving, wf.Context):
    """The core's Context whose provided fields may load on first read (permits.context.Deferred)."""


ON_SITE_ACTIONS = frozenset({"approve"})  # G-06: signatures that must be given on site, with evidence
EDITABLE = (
    "title", "location", "work_content", "valid_from", "valid_until", "grade", "facts", "risk_analysis",
    "high_risk_kind", "work_unit", "contractor",
)  # fmt: skip


# --- reading --------------------------------------------------------------------------------------


# What the core and an answer read of another permit (_linked, schemas.LinkOut, _nearby): not its measures, text or
# area. A linked permit read with these alone (and its version, which the unit of work checks if it is changed)
# loads the rest where something reads it (_follow_effects refreshes it before acting on it).
_LINKED_COLUMNS = (
    Permit.id, Permit.number, Permit.type, Permit.state, Permit.area_id, Permit.facts, Permit.valid_from,
    Permit.valid_until,
)  # fmt: skip

# What the core's view of a permit reads with its row: the links (rarely any, each read with _LINKED_COLUMNS, not
# as a whole permit with its area) and the enterprise (one), joined to it. The crew comes as plain rows selected
# beside it (permits.crew); signatures and gas tests grow with the permit's life: they are read as plain rows where
# first needed (permits.children). Built once: loader options are immutable, and building them took 65 µs a
# statement.
ROW_OPTIONS = (
    joinedload(Permit.enterprise),
    joinedload(Permit.links)
    .joinedload(PermitLink.linked)
    .options(load_only(*_LINKED_COLUMNS, Permit.version), lazyload(Permit.area)),
)


def load_options() -> list[Any]:
    """ROW_OPTIONS, the crew joined, and the signatures and gas tests, one statement each: for loading many permits
    at once (not read through get_permit, so their crew is the ORM collection, permits.crew)."""
    return [
        *ROW_OPTIONS,
        joinedload(Permit.crew),
        selectinload(Permit.signatures),
        selectinload(Permit.gas_tests),
    ]


def get_permit(
    session: Session, *, principal: Principal, permit_id: uuid.UUID, for_update: bool = False
) -> Permit:
    """A permit the caller may see (404 otherwise); locked for the transaction when `for_update`."""
    permit = _read_permit(session, principal, permit_id, lock="wait" if for_update else None)
    if permit is None:
        raise NotFound("作业票不存在", "No such permit")
    return permit


def _read_permit(
    session: Session, principal: Principal, permit_id: uuid.UUID, *, lock: Literal["wait", "if_free"] | None
) -> Permit | None:
    """The permit the caller may see, or None; locked when `lock` (`if_free`: None as well if another transaction
    holds its row, PostgreSQL's SKIP LOCKED)."""
    enterprise_id = own_enterprise(principal)
    if enterprise_id is not None:
        stmt, params = _own_permit_read(lock), {"permit_id": permit_id, "enterprise_id": enterprise_id}
    else:
        stmt = _permit_read(lock, enterprise_scope(session, principal, Permit.enterprise_id))
        params = {"permit_id": permit_id}
    row = session.execute(stmt, params).unique().one_or_none()
    if row is None:
        return None
    permit, *read = row
    note_read_with(permit, read, locking=lock is not None)
    return permit


def _permit_read(lock: Literal["wait", "if_free"] | None, scope: sa.ColumnElement[bool]) -> sa.Select:
    """The read of the permit whose id is the parameter `permit_id`, within `scope`, with ROW_OPTIONS."""
    stmt = sa.select(Permit, *with_permit_columns(locking=lock is not None)).where(
        Permit.id == sa.bindparam("permit_id"), scope
    )
    if lock is not None:
        # Lock the permit row only: the joined area stays readable by concurrent work in the area.
        stmt = stmt.with_for_update(of=Permit, skip_locked=lock == "if_free")
    return stmt.options(*ROW_OPTIONS)


@functools.cache
def _own_permit_read(lock: Literal["wait", "if_free"] | None) -> sa.Select:
    """_permit_read for a caller of an enterprise (every plant's request), the enterprise a parameter too: built once
    per lock, so a request neither builds it nor works out its cache key (~0.1 ms, issue 14)."""
    return _permit_read(lock, Permit.enterprise_id == sa.bindparam("enterprise_id"))


# What a list shows of a permit (schemas.PermitSummary): a page reads these columns, not whole permits with their
# area joined and their facts and measures decoded.
SUMMARY_COLUMNS = (
    Permit.id, Permit.number, Permit.enterprise_id, Permit.area_id, Permit.type, Permit.grade, Permit.state,
    Permit.version, Permit.title, Permit.valid_from, Permit.valid_until, Permit.created_at,
)  # fmt: skip


def list_permits(session: Session, *, principal: Principal, filters: Mapping[str, Any]) -> sa.Select:
    """The caller's permits matching `filters`, their summary columns as a statement to paginate."""
    stmt = sa.select(*SUMMARY_COLUMNS).where(enterprise_scope(session, principal, Permit.enterprise_id))
    for name in ("type", "state", "area_id", "enterprise_id", "number"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Permit, name) == filters[name])
    return stmt


# --- the core's view of a permit ------------------------------------------------------------------


def _area(area: PlantArea) -> wf.Area:
    return wf.Area(
        id=str(area.id),
        name=area.name,
        running_unit=area.running_unit,
        flammable=area.flammable,
        explosive=area.explosive,
        toxic=area.toxic,
        fire_explosion_area=area.fire_explosion_area,
        max_headcount=area.max_headcount,
        major_hazard=area.major_hazard,
        dike_code=area.dike_code,
        media=tuple(area.media or ()),
    )


def _linked(permit: Permit | sa.Row[Any], dike_code: str | None = None) -> wf.LinkedPermit:
    return wf.LinkedPermit(
        id=str(permit.id),
        number=permit.number,
        type=permit.type,
        state=permit.state,
        area_id=str(permit.area_id),
        facts=permit.facts,
        valid_from=permit.valid_from,
        valid_until=permit.valid_until,
        dike_code=dike_code,
    )


def permit_data(permit: Permit, extra: Mapping[str, Any] | None = None) -> wf.PermitData:
    """The plain data the workflow core reads (its signatures and gas tests read when the core first reads them)."""
    kids = children.of(permit)
    fields: dict[str, Any] = dict(
        id=str(permit.id),
        type=permit.type,
        state=permit.state,
        grade=permit.grade,
        facts=dict(permit.facts or {}),
        area=_area(permit.area),
        valid_from=permit.valid_from,
        valid_until=permit.valid_until,
        applicant_id=str(permit.applicant_id),
        number=permit.number,
        risk_analysis=permit.risk_analysis,
        high_risk_answer=permit.high_risk_kind,
        measures=core_measures(permit.measures or ()),
        measure_list=permit.measure_list_version,
        countersign_departments=tuple(permit.countersign_departments or ()),
        crew=tuple(
            wf.CrewMember(
                person_id=str(c.person_id),
                role=c.role,
                name=c.name,
                certificates=tuple(
                    wf.Certificate(cert.kind, cert.number, cert.expires_on, cert.issued_by)
                    for cert in c.certificates
                ),
            )
            for c in crew_of(permit)
        ),
        signatures=Deferred(kids.core_signatures),
        gas_tests=Deferred(kids.core_gas_tests),
        linked=tuple(_linked(link.linked) for link in permit.links),
        suspended_at=permit.suspended_at,
        activated_at=permit.activated_at,
        contractor=permit.contractor,
        working_periods=working_periods(permit.working_periods),
    )
    fields.update({k: v for k, v in (extra or {}).items() if k in _PERMIT_DATA_FIELDS})
    return _PermitData(**fields)


def working_periods(stored: Sequence[Mapping[str, str]] | None) -> tuple[wf.WorkingPeriod, ...]:
    """The stored working periods as the core reads them (HW-03)."""
    return tuple(
        wf.WorkingPeriod(time.fromisoformat(p["start"]), time.fromisoformat(p["end"])) for p in stored or ()
    )


def lazy_nearby(session: Session, permit: Permit, *, lock: bool) -> LazySequence[wf.LinkedPermit]:
    """The permits around this one, queried on first use.

    Only the conflict guards of `approve` and `activate` read them (G-04, HW-10, BP-02, CS-06): every other
    action, the scheduler's expiry among them, and allowed_actions outside those states never pay for the query.
    With `lock`, for an action about to change the permit, the reader first queues behind the other changes
    of the enterprise that read their neighbours; plain reads (allowed_actions of a GET) never wait.
    """

    def load() -> tuple[wf.LinkedPermit, ...]:
        if lock:
            # Two approvals judged at once would each miss the other (BP-02, HW-10, CS-06 on PostgreSQL's
            # read committed): they queue here, so each sees what the one before it committed.
            advisory_xact_lock(session, f"nearby:{permit.enterprise_id}")
        return _nearby(session, permit)

    return LazySequence(load)


def _nearby(session: Session, permit: Permit) -> tuple[wf.LinkedPermit, ...]:
    """Live permits of the same enterprise whose window overlaps: the core judges conflicts (G-04, HW-10, ...).

    Not narrowed to the area: HW-10 measures distance on the plant grid across areas, and BP-02 and CS-06 match
    a pipeline or a space wherever it is. Only the columns the core reads are fetched, not whole permits.
    """
    rows = session.execute(
        sa.select(*_LINKED_COLUMNS, PlantArea.dike_code)
        .join(PlantArea, PlantArea.id == Permit.area_id)
        .where(
            Permit.enterprise_id == permit.enterprise_id,
            Permit.id != permit.id,
            Permit.state.in_([str(s) for s in LIVE]),
            Permit.valid_from < permit.valid_until,
            permit.valid_from < Permit.valid_until,
        )
    )
    return tuple(_linked(row, row.dike_code) for row in rows)


def _calendar(session: Session, permit: Permit) -> Any:
    """The permit's region's calendar: the process's copy at the context generation read with the permit; without
    one (a new draft), read once per session (an action and its answer share it)."""
    from permit_service.calendar import calendar_at, get_calendar  # the calendar area registers overrides

    enterprise = session.get(Enterprise, permit.enterprise_id)
    region_id = enterprise.region_id if enterprise else None
    generation = generation_of(permit)
    if generation is not None:
        return calendar_at(session, region_id, generation)
    calendars: dict[uuid.UUID | None, Any] = session.info.setdefault("calendars", {})
    if region_id not in calendars:
        calendars[region_id] = get_calendar(session, region_id)
    return calendars[region_id]


def build_context(
    session: Session,
    permit: Permit,
    principal: Principal,
    extra: Mapping[str, Any] | None = None,
    *,
    for_change: bool = False,
) -> wf.Context:
    """The world at the moment of an action, as the core sees it (`for_change`: the action will be applied)."""
    enterprise = session.get(Enterprise, permit.enterprise_id)
    fields: dict[str, Any] = dict(
        now=clock.now(),
        actor=principal.actor(),  # a person's positioning card came with the request's user lookup
        calendar=_calendar(session, permit),
        policy=current_app.config["PERMIT_CONFIG"].policy,
        nearby=lazy_nearby(session, permit, lock=for_change),
        enterprise_risk_grade=enterprise.risk_grade if enterprise else None,
    )
    fields.update({k: v for k, v in (extra or {}).items() if k in _CONTEXT_FIELDS})
    return _Context(**fields)


def core_view(
    session: Session,
    permit: Permit,
    principal: Principal,
    *,
    for_change: bool = False,
) -> tuple[wf.PermitData, wf.Context]:
    """The permit and its context for the core, including what other areas provide (`for_change`: see
    build_context)."""
    extra = provided_fields(session, permit)
    context = build_context(session, permit, principal, extra, for_change=for_change)
    return permit_data(permit, extra), context


def calendar_notice(session: Session, permit: Permit) -> ProvisionalNotice | None:
    """FZ-04/HW-03: the notice naming the days of the permit's validity whose holiday schedule is provisional."""
    return _calendar(session, permit).window_notice(permit.valid_from, permit.valid_until)


def allowed_actions(session: Session, permit: Permit, principal: Principal) -> list[str]:
    """What the caller may do next with this permit."""
    return next_actions(session, permit, principal)[0]


def next_actions(session: Session, permit: Permit, principal: Principal) -> tuple[list[str], list[Blocked]]:
    """What the caller may do next, and what their role could do but rules block (nothing is loaded for a state
    no step leaves)."""
    workflow = get_workflow(permit.type)
    if not any(permit.state in step.sources for step in workflow.steps):
        return [], []
    data, ctx = core_view(session, permit, principal)
    return workflow.next_actions(data, ctx)


# --- filing and editing ---------------------------------------------------------------------------


def next_number(session: Session, *, enterprise_id: uuid.UUID, prefix: str, year: int) -> str:
    """The next human-readable number, e.g. DH-2026-000123; unique under concurrency: the one upsert that takes it
    locks the counter row until commit."""
    last = session.execute(
        _take_number(is_postgres(session)),
        {"number_enterprise_id": enterprise_id, "number_prefix": prefix, "number_year": year},
    ).scalar_one()
    return f"{prefix}-{year}-{last:06d}"


@functools.cache
def _take_number(postgres: bool) -> sa.Insert:
    insert = pg_insert if postgres else sqlite_insert
    counter = PermitNumberCounter.__table__
    return (
        insert(counter)
        .values(
            enterprise_id=sa.bindparam("number_enterprise_id"),
            prefix=sa.bindparam("number_prefix"),
            year=sa.bindparam("number_year"),
            last=1,
        )
        .on_conflict_do_update(
            index_elements=[counter.c.enterprise_id, counter.c.prefix, counter.c.year],
            set_={"last": counter.c.last + 1},
        )
        .returning(counter.c.last)
    )


def _own_area(
    session: Session, principal: Principal, area_id: uuid.UUID, crew_ids: Sequence[uuid.UUID] = ()
) -> tuple[PlantArea, int, dict[uuid.UUID, Held] | None]:
    """The area and the context generation: the enterprise comes along, as the draft's context reads its region
    and grade (session.get finds it), and the generation makes the process's freezes and calendar current for it.
    With `crew_ids`, the people of the area's enterprise among them, read in the same statement (crew.people_json;
    None without)."""
    with_people = bool(crew_ids)
    enterprise_id = own_enterprise(principal)
    if enterprise_id is not None:
        stmt, params = _own_area_read(with_people), {"area_id": area_id, "enterprise_id": enterprise_id}
    else:
        stmt = _area_read(enterprise_scope(session, principal, PlantArea.enterprise_id), with_people)
        params = {"area_id": area_id}
    row = session.execute(stmt, {**params, **({"crew_ids": list(crew_ids)} if with_people else {})}).first()
    if row is None:
        raise ValidationProblem({"area_id": ["区域不存在或不属于本企业 / no such area in your enterprise"]})
    return row[0], row[2], people_of(row[3]) if with_people else None


def _area_read(scope: sa.ColumnElement[bool], with_people: bool) -> sa.Select:
    """The area whose id is the parameter `area_id`, within `scope`, with its enterprise and the generation, and
    `with_people`, the people of its enterprise whose ids are the parameter `crew_ids`."""
    people = (
        [people_json(sa.bindparam("crew_ids", expanding=True), PlantArea.enterprise_id)]
        if with_people
        else []
    )
    return (
        sa.select(PlantArea, Enterprise, GENERATION, *people)
        .join(Enterprise, Enterprise.id == PlantArea.enterprise_id)
        .where(PlantArea.id == sa.bindparam("area_id"), scope)
    )


@functools.cache
def _own_area_read(with_people: bool) -> sa.Select:
    """_area_read for a caller of an enterprise, the enterprise a parameter too: built once (see _own_permit_read)."""
    return _area_read(PlantArea.enterprise_id == sa.bindparam("enterprise_id"), with_people)


def _crew(
    session: Session,
    enterprise_id: uuid.UUID,
    crew: Sequence[Mapping[str, Any]],
    people: dict[uuid.UUID, Held] | None = None,
) -> list[PermitCrewMember]:
    """The new members of `crew`, each person of the enterprise, among `people` where they were read already (with
    the area: _own_area)."""
    if not crew:
        return []  # a draft's crew may come later: nothing to read
    # Each person's name and certificates (G-13) as plain rows, kept on the new members for the core and the answer
    # (permits.crew.held): the new rows need no reading back.
    known = people
    if known is None:
        ids = list({c["person_id"] for c in crew})
        known = crew_people(
            session.execute(people_read(), {"ids": ids, "enterprise_id": enterprise_id}).all()
        )
    errors = {
        f"crew.{i}.person_id": ["人员不存在或不属于本企业 / no such person in your enterprise"]
        for i, c in enumerate(crew)
        if c["person_id"] not in known
    }
    seen: set[tuple[uuid.UUID, str]] = set()
    for i, c in enumerate(crew):
        if (c["person_id"], c["role"]) in seen:
            errors[f"crew.{i}"] = ["重复的人员与角色 / duplicate person and role"]
        seen.add((c["person_id"], c["role"]))
    if errors:
        raise ValidationProblem(errors)
    members = []
    for i, c in enumerate(crew):
        member = PermitCrewMember(person_id=c["person_id"], role=c["role"], position=i)
        held(member, known[c["person_id"]])
        members.append(member)
    return members


def _replace_crew(permit: Permit, members: list[PermitCrewMember]) -> None:
    """Give a draft its new crew, keeping the row of each (person, role) that stays.

    permit_crew is unique per person and role, and the unit of work inserts new rows before it deletes old
    ones: a member who stays must be updated in place, not deleted and inserted again.
    """
    staying = {(m.person_id, m.role): m for m in permit.crew}
    crew = []
    for member in members:
        row = staying.pop((member.person_id, member.role), None)
        if row is not None:
            row.position = member.position
        crew.append(row or member)
    permit.crew = crew


def _linked_permits(session: Session, permit: Permit, linked_ids: Sequence[uuid.UUID]) -> list[Permit]:
    """The permits of the same enterprise this one is to be linked with (G-03); 422 naming any missing."""
    linked = list(
        session.scalars(
            sa.select(Permit).where(Permit.id.in_(linked_ids), Permit.enterprise_id == permit.enterprise_id)
        )
    )
    missing = set(linked_ids) - {p.id for p in linked}
    if missing or permit.id in linked_ids:
        raise ValidationProblem({"linked_permit_ids": ["关联作业票不存在 / no such permit to link"]})
    return linked


def _new_links(session: Session, draft: Permit, linked_ids: Sequence[uuid.UUID]) -> list[PermitLink]:
    """A new draft's links, with the permits they name for its answer; file_draft adds the other direction."""
    return [
        PermitLink(permit_id=draft.id, linked_id=other.id, linked=other)
        for other in _linked_permits(session, draft, linked_ids)
    ]


def _links(session: Session, permit: Permit, linked_ids: Sequence[uuid.UUID]) -> None:
    """Link this permit with others of the same enterprise, both ways (G-03)."""
    linked = _linked_permits(session, permit, linked_ids)
    session.execute(
        sa.delete(PermitLink).where(
            sa.or_(PermitLink.permit_id == permit.id, PermitLink.linked_id == permit.id)
        )
    )
    for other in linked:
        session.add(PermitLink(permit_id=permit.id, linked_id=other.id))
        session.add(PermitLink(permit_id=other.id, linked_id=permit.id))


def _check_window(session: Session, permit: Permit, principal: Principal) -> None:
    """At filing and editing: the working periods are the type's to state and fit the validity (HW-03), and the
    window fits the grade the facts and the working time call for, not only the declared one (G-12)."""
    workflow = get_workflow(permit.type)
    rule = workflow.working_hours_rule
    if permit.working_periods and rule is None:
        raise ValidationProblem(
            {"working_periods": [f"{workflow.zh}不登记作业时段 / {workflow.en} states no working periods"]}
        )
    data, ctx = core_view(session, permit, principal)
    violation = (
        working_hours.misstated(data.valid_from, data.valid_until, data.working_periods, rule)
        if rule
        else None
    )
    violation = violation or workflow.grading.validate_window(
        permit.valid_from,
        permit.valid_until,
        workflow.grading.effective(data, ctx),
        permit.facts or {},
        ctx.policy,
    )
    if violation is not None:
        raise RuleViolation(violation)


def _stored_periods(periods: Sequence[Mapping[str, str]] | None) -> list[dict[str, str]] | None:
    """Working periods as stored: NULL when none is stated (HW-03)."""
    return [{"start": p["start"], "end": p["end"]} for p in periods or ()] or None


def check_facts(permit_type: str, facts: Mapping[str, Any]) -> None:
    """G-14: every fact fits its type in the catalogue; a 422 names each bad one as `facts.<name>`."""
    gases = gas_table(current_app.config["PERMIT_CONFIG"].policy)
    found = get_workflow(permit_type).fact_problems(facts, gases)
    if found:
        raise ValidationProblem(
            {f"facts.{name}": [f"{zh} / {en}"] for name, (zh, en) in found.items()},
            "事实不符合作业类型目录中的类型（G-14）",
            "facts do not fit their types in the permit-type catalogue (G-14)",
            rule="G-14",
        )


def create_permit(
    session: Session, *, principal: Principal, data: Mapping[str, Any], reissued_from: Permit | None = None
) -> Permit:
    """File a draft in one go: check it (prepare_draft), then write it (file_draft)."""
    draft = prepare_draft(session, principal=principal, data=data, reissued_from=reissued_from)
    return file_draft(session, draft, principal=principal)


def prepare_draft(
    session: Session, *, principal: Principal, data: Mapping[str, Any], reissued_from: Permit | None = None
) -> Permit:
    """A draft checked and ready to file, not yet written: it only reads, so it may run before the write lock.

    It reads the area, the crew's people with their certificates and the linked permits, and judges the window
    (G-12, HW-03) against the calendar and what other areas provide; a rejection changes nothing. Nothing it reads
    is locked while the draft is written (on PostgreSQL, read committed, it never was): the draft is filed as it
    was checked a moment before, and submit judges its window (G-12) and crew (G-13) again. A re-issued permit
    keeps the old one's facts as they are: its submit guard names any that no longer fit.
    """
    if principal.enterprise_id is None:
        raise Conflict("只有企业人员可以申请作业票", "Only enterprise staff file permits", rule="G-01")
    if reissued_from is None:
        check_facts(data["type"], data.get("facts") or {})
    crew = data.get("crew") or []
    area, generation, people = _own_area(
        session, principal, data["area_id"], crew_ids=list({c["person_id"] for c in crew})
    )
    permit = Permit(
        id=uuid.uuid4(),
        version=1,  # what the ORM writes; the draft's answer, judged before it is written, shows it as its ETag
        enterprise_id=area.enterprise_id,
        area_id=area.id,
        area=area,
        type=data["type"],
        grade=data.get("grade"),
        state=str(State.draft),
        title=data["title"],
        location=data.get("location", ""),
        work_content=data.get("work_content", ""),
        valid_from=data["valid_from"],
        valid_until=data["valid_until"],
        working_periods=_stored_periods(data.get("working_periods")),
        facts=dict(data.get("facts") or {}),
        risk_analysis=data.get("risk_analysis", ""),
        high_risk_kind=data.get("high_risk_kind"),
        measures=measure_answers(data["type"], data.get("measures") or []),
        measure_list_version=CURRENT_MEASURE_LIST,
        work_unit=data.get("work_unit", ""),
        contractor=data.get("contractor", False),
        applicant_id=uuid.UUID(principal.id),
        reissued_from_id=reissued_from.id if reissued_from else None,
        created_at=clock.now(),
        updated_at=clock.now(),
        # A new draft has none of these: the answer reads them as they are instead of querying for them.
        signatures=[],
        gas_tests=[],
        links=[],
    )
    note_generation(permit, generation)
    _check_window(session, permit, principal)
    permit.crew = _crew(session, area.enterprise_id, crew, people)
    if data.get("linked_permit_ids"):
        permit.links = _new_links(session, permit, data["linked_permit_ids"])
    return permit


def file_draft(
    session: Session, draft: Permit, *, principal: Principal, ends_transaction: bool = False
) -> Permit:
    """Write a prepared draft in the caller's transaction: its number, its rows and links (both ways), the event.

    Its rows are written by Core statements, not the unit of work (PostgreSQL: the number, the permit, its crew and
    links in one statement of data-modifying CTEs), and the draft then joins the session as loaded (issue 14).
    `ends_transaction`: nothing after the filing in the transaction takes a row lock another writer may hold (an
    Idempotency-Key's answer goes to the request's own claim), so the event takes its feed position with its append
    (PostgreSQL, feed.positions.append_numbered; the rows its append references are locked by the filing's rows).
    """
    links = [
        *draft.links,
        *(PermitLink(permit_id=link.linked_id, linked_id=draft.id) for link in draft.links),
    ]
    permit = _new_row(draft)
    crew = [_new_row(member, permit_id=draft.id) for member in draft.crew]
    linked = [_new_row(link) for link in links]
    number = {
        "number_enterprise_id": draft.enterprise_id,
        "number_prefix": get_workflow(draft.type).prefix,
        "number_year": _local_year(draft.valid_from),
    }
    if is_postgres(session):
        draft.number = session.execute(
            _file_in_one(),
            {
                **number,
                **{f"permit_{name}": value for name, value in permit.items() if name != "number"},
                **_columns("crew_", crew, PermitCrewMember),
                **_columns("link_", linked, PermitLink),
            },
        ).scalar_one()
    else:
        draft.number = next_number(
            session,
            enterprise_id=draft.enterprise_id,
            prefix=number["number_prefix"],
            year=number["number_year"],
        )
        session.execute(Permit.__table__.insert(), {**permit, "number": draft.number})
        for table, rows in ((PermitCrewMember.__table__, crew), (PermitLink.__table__, linked)):
            if rows:
                session.execute(table.insert(), rows)
    for row in (draft, *draft.crew, *links):
        make_transient_to_detached(row)
    session.add(draft)
    session.add_all(links[len(draft.links) :])
    event = _event(draft, principal, "permit.filed", {"number": draft.number, "type": draft.type})
    if ends_transaction and is_postgres(session) and positions.may_number_now(session):
        positions.append_numbered(session, event, draft)
    else:
        audit.append(session, event)
    return draft


def _new_row(obj: Any, **values: Any) -> dict[str, Any]:
    """A new object's row: `values` and the defaults of its mapping (Python-side: every column of a new permit's rows
    has one or none) set on it first, so that it holds, loaded, all that its row holds."""
    for name, value in values.items():
        setattr(obj, name, value)
    row = {}
    for column in obj.__table__.c:
        if column.key not in obj.__dict__:
            default = column.default
            arg = None if default is None else default.arg
            setattr(obj, column.key, arg(None) if callable(arg) else arg)
        row[column.key] = getattr(obj, column.key)
    return row


def _columns(prefix: str, rows: Sequence[Mapping[str, Any]], model: type) -> dict[str, list[Any]]:
    """Rows as one array per column, the parameters of an `unnest` (_file_in_one)."""
    return {f"{prefix}{column.key}": [row[column.key] for row in rows] for column in model.__table__.c}


@functools.cache
def _file_in_one() -> sa.Select:
    """PostgreSQL: a new permit's number taken, its row (numbered in SQL as next_number numbers it), its crew's and
    its links' rows (each column an array), in one statement that answers the number. Built once."""
    taken = _take_number(True).cte("taken")
    last = sa.cast(taken.c.last, sa.Text)
    number = (
        sa.bindparam("number_prefix", type_=sa.Text)
        + "-"
        + sa.cast(sa.bindparam("number_year", type_=sa.Integer), sa.Text)
        + "-"
        + sa.func.lpad(last, sa.func.greatest(6, sa.func.length(last)), "0")
    )
    permits = Permit.__table__
    given = [c for c in permits.c if c.key != "number"]
    filed = (
        permits.insert()
        .from_select(
            [*(c.key for c in given), "number"],
            sa.select(*(sa.bindparam(f"permit_{c.key}", type_=c.type) for c in given), number).select_from(
                taken
            ),
        )
        .returning(permits.c.number)
        .cte("filed")
    )
    rows = [
        _unnest(prefix, model.__table__)
        for prefix, model in (("crew_", PermitCrewMember), ("link_", PermitLink))
    ]
    return sa.select(filed.c.number).add_cte(*rows)


def _unnest(prefix: str, table: sa.Table) -> sa.CTE:
    given = (
        sa.func.unnest(*(sa.bindparam(f"{prefix}{c.key}", type_=ARRAY(c.type)) for c in table.c))
        .table_valued(*(sa.column(c.key, c.type) for c in table.c))
        .render_derived(f"{prefix}given")
    )
    return table.insert().from_select([c.key for c in table.c], sa.select(*given.c)).cte(f"{prefix}rows")


def _local_year(at: datetime) -> int:
    return at.astimezone(display_tz()).year


def update_draft(
    session: Session,
    *,
    principal: Principal,
    permit_id: uuid.UUID,
    changes: Mapping[str, Any],
    expected_version: int,
) -> Permit:
    """Change a draft; once signed a permit is never edited (G-07: void and re-issue)."""
    permit = get_permit(session, principal=principal, permit_id=permit_id, for_update=True)
    if permit.version != expected_version:
        raise PreconditionFailed(current_etag=f'"{permit.version}"')
    if permit.state != State.draft:
        raise RuleViolation(
            Violation(
                "G-07",
                "已签署的作业票不得涂改：请作废后重新开票",
                "A signed permit is never edited: void it and re-issue",
            ),
            allowed_actions=allowed_actions(session, permit, principal),
        )
    if str(permit.applicant_id) != principal.id:
        raise Conflict("只有申请人可以修改草稿", "Only the applicant edits a draft", rule="G-07")
    if "facts" in changes:
        check_facts(permit.type, changes["facts"])
    for name in EDITABLE:
        if name in changes:
            setattr(permit, name, changes[name])
    if permit.valid_until <= permit.valid_from:
        raise ValidationProblem({"valid_until": ["须晚于开始时间 / must be after valid_from"]})
    if "working_periods" in changes:
        permit.working_periods = _stored_periods(changes["working_periods"])
    if "measures" in changes:
        # G-02: a draft answers the type's current list, whatever list it was filed under (nothing is signed yet).
        permit.measures = measure_answers(permit.type, changes["measures"])
        permit.measure_list_version = CURRENT_MEASURE_LIST
    if "crew" in changes:
        _replace_crew(permit, _crew(session, permit.enterprise_id, changes["crew"]))
    if "linked_permit_ids" in changes:
        _links(session, permit, changes["linked_permit_ids"])
    if "high_risk_kind" in changes:
        # HR-01: the job carrying the draft judges its new declaration by the rule attach and report use
        # (imported here: the jobs area builds on this module).
        from permit_service.jobs.service import check_carrying_job

        check_carrying_job(session, permit)
    _check_window(session, permit, principal)
    permit.updated_at = clock.now()
    record_event(session, permit, principal, "permit.edited", {"fields": sorted(changes)})
    session.flush()
    return permit


# --- acting ---------------------------------------------------------------------------------------


def perform(
    session: Session,
    *,
    permit_id: uuid.UUID,
    action: str,
    principal: Principal,
    payload: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
    locked: Permit | None = None,
    lists_children: bool = False,
) -> Permit:
    """Fire `action` on the permit through its workflow, holding its lock, apply the outcome and record the event.

    `locked`: the permit as read holding its lock in this transaction, if it has been. `lists_children`: the answer
    will list the permit's signatures and gas tests (PostgreSQL reads them with the writes, _write_in_one).
    """
    permit = locked or get_permit(session, principal=principal, permit_id=permit_id, for_update=True)
    if expected_version is not None and permit.version != expected_version:
        raise PreconditionFailed(current_etag=f'"{permit.version}"')
    workflow = get_workflow(permit.type)
    judged = (permit.type, permit.state, action)
    if is_postgres(session):
        read_holding_lock(session, permit, _GUARDS_READ.get(judged, ()))
    data, ctx = core_view(session, permit, principal, for_change=True)
    if action in ON_SITE_ACTIONS:
        ctx = replace(
            ctx,
            on_site=onsite.claim_for(session, area=permit.area, principal=principal, evidence=payload or {}),
        )
    try:
        with reads() as read:
            try:
                outcome = workflow.fire(data, action, ctx, dict(payload or {}))
            finally:
                _GUARDS_READ[judged] = frozenset(read)
    except RuleViolation as exc:
        exc.allowed_actions = workflow.allowed_actions(data, ctx)
        raise
    if ctx.on_site is not None and outcome.signature is not None:
        outcome = replace(outcome, signature=_with_on_site(outcome.signature, ctx))
    _write(session, permit, action, outcome, ctx.now, principal, payload or {}, lists_children=lists_children)
    return permit


# The core's fields that the guards of an action on a permit of a type in a state read when last judged in this process:
# what perform reads of them holding the lock, in one statement (context.read_holding_lock; issue 14).
_GUARDS_READ: dict[tuple[str, str, str], frozenset[str]] = {}


def _write(
    session: Session,
    permit: Permit,
    action: str,
    outcome: Any,
    now: datetime,
    principal: Principal,
    payload: Mapping[str, Any],
    *,
    lists_children: bool = False,
) -> None:
    """Apply the core's outcome of `action`, record its event and carry out its effects.

    SQLite: the unit of work writes the permit and the row the outcome adds, after the event's statements.
    PostgreSQL: all of them in one statement (_write_in_one, issue 14). The event's feed position is given at commit
    (feed.positions), not in that statement: its counter's lock would come before the key-share locks PostgreSQL's
    foreign-key checks take at the statement's end (on the enterprise, the signer), which a writer holding one of
    those rows for update, waiting for the counter as it commits, would make a deadlock.
    """
    previous = permit.state
    added = _apply(permit, outcome, now, payload)
    event = _event(
        permit,
        principal,
        f"permit.{action}",
        {
            "number": permit.number,
            "from": previous,
            "to": permit.state,
            "grade": permit.grade,
            "effects": list(outcome.effects),
            "signature": _signature_summary(outcome.signature),
            "reason": payload.get("reason"),
            **_certificates_summary(outcome.certified),
        },
    )
    if is_postgres(session):
        _write_in_one(session, permit, added, event, lists_children=lists_children)
    else:
        if added is not None:
            children.of(permit).add(added)
        audit.append(session, event)
    session.flush()
    _follow_effects(session, permit, outcome.effects, principal)


def _write_in_one(
    session: Session, permit: Permit, added: Signature | GasTest | None, event: Event, *, lists_children: bool
) -> None:
    """PostgreSQL: what _apply changed of the permit and its crew, the row it added and the event (its chain head
    with it) in one statement of data-modifying CTEs; the objects are then as loaded, and the unit of work has
    nothing of theirs left to write. With `lists_children`, the statement also reads the signatures and gas tests
    the permit had (children.as_json: the row it adds is not among them), unless they were read already.

    The permit's UPDATE checks and moves its version as the ORM's version_id_col does: a row another writer moved
    matches nothing, and the statement's answer says so (StaleDataError, answered 412; the transaction, the event's
    rows with it, is rolled back). The permit and its crew are then marked written (db.mark_written), so the flushes
    that follow skip them; a permit the action finished is noted for its document here, as a flush would note it.
    """
    state = sa.inspect(permit)
    changed = tuple(key for key in _COLUMNS if key not in state.unmodified)
    crew = [member for member in permit.__dict__.get("crew", ()) if sa.inspect(member).modified]
    crew_changed = tuple(
        key for key in _CREW_COLUMNS if any(key not in sa.inspect(member).unmodified for member in crew)
    )
    row = {} if added is None else _new_row(added, permit_id=permit.id)
    parameters = {
        **audit.append_parameters(event),
        "acted_id": permit.id,
        "acted_version": permit.version,
        **{f"permit_{key}": state.dict[key] for key in changed},
        **{f"crew_{key}": [getattr(member, key) for member in crew] for key in ("id", *crew_changed)},
        **{f"added_{key}": value for key, value in row.items()},
    }
    kids = children.of(permit)
    with_children = lists_children and not kids.read
    statement = _act_in_one(changed, crew_changed, None if added is None else added.__table__, with_children)
    row = session.execute(statement, parameters).one()
    *placed, version = row[:5]
    if version is None:
        raise StaleDataError(f"permit {permit.id}: version {permit.version} was changed by another writer")
    # Read holding the permit's lock, so as current as a read after it (see read_with_permit): the answer's next
    # actions need no statement of their own for them after the commit.
    keep_read_with(
        permit, {**(read_with(permit) or {}), **{name: row._mapping[name] for name in guarded_names()}}
    )
    set_committed_value(permit, "version", version)
    mark_written(session, permit, *crew)
    documents.note_finished(session, permit)
    if with_children:
        kids.read_as_json(row.children)
    if added is not None:
        kids.add(added, written=True)
    audit.appended(session, event, placed)


_CREW_COLUMNS = tuple(column.key for column in PermitCrewMember.__table__.columns if column.key != "id")


@functools.cache
def _act_in_one(
    changed: tuple[str, ...], crew_changed: tuple[str, ...], added: sa.Table | None, with_children: bool
) -> sa.Select:
    """PostgreSQL: an action's writes (_write_in_one) for the permit's `changed` columns, the crew's `crew_changed`
    ones (each given as an array, with the rows' ids) and the `added` table's new row, answering the event's place,
    the permit's new version, the guarded values read with a permit (the grade, the Plan-27 job) and, `with_children`,
    its signatures and gas tests as they were before the statement. Built once per shape."""
    permits = Permit.__table__
    appended = audit.appending()
    acted = (
        permits.update()
        .where(
            permits.c.id == sa.bindparam("acted_id", type_=permits.c.id.type),
            permits.c.version == sa.bindparam("acted_version", type_=permits.c.version.type),
        )
        .values(
            {
                **{key: sa.bindparam(f"permit_{key}", type_=permits.c[key].type) for key in changed},
                "version": permits.c.version + 1,
            }
        )
        .returning(permits.c.version)
        .cte("acted")
    )
    others = []
    if crew_changed:
        crew = PermitCrewMember.__table__
        keys = ("id", *crew_changed)
        given = (
            sa.func.unnest(*(sa.bindparam(f"crew_{key}", type_=ARRAY(crew.c[key].type)) for key in keys))
            .table_valued(*(sa.column(key, crew.c[key].type) for key in keys))
            .render_derived("crew_given")
        )
        others.append(
            crew.update()
            .where(crew.c.id == given.c.id)
            .values({key: given.c[key] for key in crew_changed})
            .cte("crew_rows")
        )
    if added is not None:
        others.append(
            added.insert()
            .values({c.key: sa.bindparam(f"added_{c.key}", type_=c.type) for c in added.c})
            .cte("added")
        )
    guarded = guarded_values(sa.bindparam("acted_id")).subquery("guarded")
    listed = [children.as_json("acted_id").scalar_subquery().label("children")] if with_children else []
    return (
        sa.select(
            appended.c.id,
            appended.c.seq,
            appended.c.prev_hash,
            appended.c.hash,
            acted.c.version,
            *guarded.c,
            *listed,
        )
        .select_from(appended.outerjoin(acted, sa.true()).join(guarded, sa.true()))
        .add_cte(*others)
    )


# --- acting judged before the write transaction (issue 14) --------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """An action's outcome judged on the permit as read without its lock, and what the core read to judge it."""

    permit: Permit
    outcome: Any
    now: datetime
    read: frozenset[str]  # the names the core read of the permit's data and context
    read_with: dict[str, Any]  # what was read with the permit (the context generation, the grade, the job)
    provided: dict[str, Any]  # the fields other areas provide that the core read, as it read them


# What a judgement may read that neither the permit's version nor a read holding its lock vouches for: the
# neighbours, whose conflict guards queue behind one another (G-04, HW-10, BP-02, CS-06: lazy_nearby), the dike's
# jobs (HW-10) and the signer's presence on site (G-06). Only a judgement holding the lock answers those.
_UNVOUCHED = frozenset({"nearby", "dike_jobs", "on_site"})
# What the core reads of a permit that only an action on the permit adds to: covered by its version.
_CHILDREN = frozenset({"signatures", "gas_tests"})
# The permit's columns every accepted action changes: a version moved by such actions alone may leave a judgement
# standing (a gas test does not change what another gas test is judged by).
_BUMPED = frozenset({"version", "updated_at"})


def judge(
    session: Session,
    *,
    permit_id: uuid.UUID,
    action: str,
    principal: Principal,
    payload: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
) -> Judgement | None:
    """The outcome of `action` judged without the permit's lock, for carry_out to write holding it (issue 14).

    None where only a judgement holding the lock may answer: a refusal (404, 412 or a rule's 409, answered by
    perform as before), an approval (its on-site evidence, G-06), or an action whose guards read the neighbours.
    """
    if action in ON_SITE_ACTIONS:
        return None
    try:
        permit = get_permit(session, principal=principal, permit_id=permit_id)
    except NotFound:
        return None
    if expected_version is not None and permit.version != expected_version:
        return None
    with reads() as read:
        extra = provided_fields(session, permit)
        data, ctx = permit_data(permit, extra), build_context(session, permit, principal, extra)
        try:
            outcome = get_workflow(permit.type).fire(data, action, ctx, dict(payload or {}))
        except (RuleViolation, Problem):
            return None
    if read & _UNVOUCHED:
        return None
    if outcome.state in TERMINAL:
        children.of(permit).signatures  # noqa: B018 - the finished permit's document lists them: read them now
    return Judgement(
        permit=permit,
        outcome=outcome,
        now=ctx.now,
        read=frozenset(read),
        read_with=dict(read_with(permit) or {}),
        provided={name: _resolved(extra[name]) for name in read if name in extra},
    )


def act(
    session: Session,
    *,
    permit_id: uuid.UUID,
    action: str,
    principal: Principal,
    payload: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
    lists_children: bool = False,
) -> Permit:
    """PostgreSQL: fire `action` holding the permit's lock if no other transaction holds it (one read of the
    permit, judged once: perform); if one does, judge while it works and hold the lock only to check that the
    judgement stands and to write it (judge, then carry_out), so that actions racing for one permit queue for
    the writes alone (issue 14). `lists_children`: see perform."""
    asked = {
        "permit_id": permit_id,
        "action": action,
        "principal": principal,
        "payload": payload,
        "expected_version": expected_version,
    }
    locked = _read_permit(session, principal, permit_id, lock="if_free")
    if locked is not None:
        return perform(session, **asked, locked=locked, lists_children=lists_children)
    return carry_out(session, judgement=judge(session, **asked), **asked, lists_children=lists_children)


def carry_out(
    session: Session,
    *,
    judgement: Judgement | None,
    permit_id: uuid.UUID,
    action: str,
    principal: Principal,
    payload: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
    lists_children: bool = False,
) -> Permit:
    """Write the judged outcome holding the permit's lock if everything it was judged by still holds; otherwise
    judge again holding the lock (perform), which answers as if the first judgement had never been made.
    `lists_children`: see perform."""
    # What the context providers answered to the judgement, without the lock, is asked again holding it (the
    # judgement may have been made in this transaction: service.act).
    session.info.get(MEMO, {}).clear()
    if judgement is None or not _still_holds(session, judgement, expected_version):
        session.expire_all()
        session.info.get(MEMO, {}).clear()
        return perform(
            session,
            permit_id=permit_id,
            action=action,
            principal=principal,
            payload=payload,
            expected_version=expected_version,
            lists_children=lists_children,
        )
    permit = judgement.permit
    _write(
        session,
        permit,
        action,
        judgement.outcome,
        judgement.now,
        principal,
        payload or {},
        lists_children=lists_children,
    )
    return permit


def _still_holds(session: Session, judgement: Judgement, expected_version: int | None) -> bool:
    """Lock the permit and read again what the judgement read that may have changed since: the same outcome
    follows from it now (the judgement stands, and the permit object is brought up to the row) or it does not."""
    permit = judgement.permit
    locking, guarded = _lock_statements(is_postgres(session))
    row = session.execute(locking, {"id": permit.id}).one_or_none()
    if row is None:
        return False
    fresh = dict(row._mapping)
    if guarded is not None and judgement.read & guarded_names():
        # Their writers change them holding the permit's lock: read after it (RG-02, HR-01; see read_with_permit).
        fresh.update(session.execute(guarded, {"id": permit.id}).one()._mapping)
    if any(fresh[name] != value for name, value in judgement.read_with.items() if name in fresh):
        return False  # the context generation (freezes, calendars), the grade or the Plan-27 job moved
    if fresh["version"] != permit.version:
        if expected_version is not None or permit.state == State.draft or judgement.read & _CHILDREN:
            return False  # a draft's crew and links change with its version; so do the children read
        if any(fresh[key] != getattr(permit, key) for key in _COLUMNS if key not in _BUMPED):
            return False
        for key in _BUMPED:
            set_committed_value(permit, key, fresh[key])
        children.forget(permit)  # another action added to them
    # What was not read again (PostgreSQL: the guarded values no guard read) the answer reads after the commit.
    keep_read_with(permit, {name: fresh[name] for name in judgement.read_with if name in fresh})
    if "linked" in judgement.read and _linked_now(session, permit) != _by_id(
        _linked(link.linked) for link in permit.links
    ):
        return False  # G-03, TE-01: a linked permit moved, or another permit was filed linked to this one
    # e.g. presence (CS-05, HC-04), whose writers change it holding the permit's lock
    return provided_again(session, permit, judgement.provided.keys()) == judgement.provided


_COLUMNS = tuple(column.key for column in Permit.__table__.columns)


@functools.cache
def _lock_statements(postgres: bool) -> tuple[sa.Select, sa.Select | None]:
    """The permit's row with what is read with it, locked (PostgreSQL: the guarded values after the lock)."""
    table = Permit.__table__
    permit_id = sa.bindparam("id")
    row = sa.select(*table.c, *with_permit_columns(locking=postgres)).where(table.c.id == permit_id)
    if not postgres:
        return row, None  # BEGIN IMMEDIATE has already made this transaction the only writer
    return row.with_for_update(of=table), guarded_values(permit_id)


def _linked_now(session: Session, permit: Permit) -> list[wf.LinkedPermit]:
    rows = session.execute(
        sa.select(*_LINKED_COLUMNS)
        .join(PermitLink, PermitLink.linked_id == Permit.id)
        .where(PermitLink.permit_id == permit.id)
    )
    return _by_id(_linked(row) for row in rows)


def _by_id(linked: Iterable[wf.LinkedPermit]) -> list[wf.LinkedPermit]:
    return sorted(linked, key=lambda lp: lp.id)


def _resolved(value: Any) -> Any:
    return value.get() if type(value) is Deferred else value


def _with_on_site(signature: wf.Signature, ctx: wf.Context) -> wf.Signature:
    """The signature with the kind of on-site evidence the core accepted and what proved it (G-06)."""
    assert ctx.on_site is not None
    kind = on_site.judge(ctx.on_site, ctx.now, ctx.policy, signer=("审批人", "approver"))
    assert isinstance(kind, str)  # the approval's guard has already accepted the same claim
    return replace(signature, evidence={**signature.evidence, **onsite.evidence_record(kind, ctx.on_site)})


def _signature_summary(signature: wf.Signature | None) -> dict[str, Any] | None:
    if signature is None:
        return None
    summary = {
        "kind": signature.kind,
        "role": signature.role,
        "person_id": signature.person_id,
        "evidence": signature.evidence,  # AU-01: how the signer proved presence, for the timeline
    }
    if "weather" in signature.evidence:
        summary["weather"] = signature.evidence["weather"]  # AU-01: the weather the signer saw on site
    return summary


def _apply(
    permit: Permit, outcome: Any, now: datetime, payload: Mapping[str, Any]
) -> Signature | GasTest | None:
    """Write the core's decision: state, grade, timestamps, certificates on the permit and its crew; answer the
    signature or gas test it adds, for the caller to write (_write). Nothing else decides state."""
    if outcome.grade is not None:
        permit.grade = outcome.grade
    if outcome.state != permit.state:
        if outcome.state == State.active:
            permit.activated_at = now
            permit.suspended_at = None
        elif outcome.state == State.suspended:
            permit.suspended_at = now
        permit.state = str(outcome.state)
        permit.status_reason = payload.get("reason") or permit.status_reason
    _record_certificates(permit, outcome.certified)
    if outcome.departments:
        permit.countersign_departments = list(outcome.departments)  # EX-01, RC-01: fixed at submission
    # Every accepted action bumps the version (the ETag), even one that only adds a signature or a gas test:
    # flagging the column forces the unit of work's UPDATE (and so the version_id_col bump) when `now` equals the old
    # value (PostgreSQL's _write_in_one moves the version whatever changed).
    permit.updated_at = now
    flag_modified(permit, "updated_at")
    if outcome.gas_test is not None:
        return _gas_test(outcome, payload)
    if outcome.signature is None:
        return None
    signature = outcome.signature
    return Signature(
        kind=signature.kind,
        role=signature.role,
        person_id=None if signature.person_id == wf.Actor.SYSTEM_ID else uuid.UUID(signature.person_id),
        at=signature.at,
        evidence=dict(signature.evidence or {}),
        on_site=(signature.evidence or {}).get("on_site"),
    )


def _certificates_summary(certified: Sequence[Certified]) -> dict[str, Any]:
    """G-13, AU-01: the certificates submit accepted, in its event as on the crew rows, so the chain keeps them."""
    if not certified:
        return {}
    return {
        "certificates": [
            {
                "person_id": found.person_id,
                "role": found.role,
                "kind": found.certificate.kind,
                "number": found.certificate.number,
                "expires_on": found.certificate.expires_on.isoformat()
                if found.certificate.expires_on
                else None,
            }
            for found in certified
        ]
    }


def _record_certificates(permit: Permit, certified: Sequence[Certified]) -> None:
    """G-13: record on each crew member the certificate of their record that submit accepted (the crew's rows are
    loaded for it: other actions, which record none, leave them unread)."""
    if not certified:
        return
    rows = {(str(c.person_id), c.role): c for c in permit.crew}
    for found in certified:
        row = rows[(found.person_id, found.role)]
        cert = found.certificate
        row.certificate_kind, row.certificate_number = cert.kind, cert.number
        row.certificate_expires_on = cert.expires_on


def _gas_test(outcome: Any, payload: Mapping[str, Any]) -> GasTest:
    """The analysis as stored: readings converted to the stored unit beside what was measured, and the verdict."""
    test: wf.GasTest = outcome.gas_test
    measured = payload.get("readings") or []
    readings = [
        {
            "gas": r.gas,
            "value": r.value,
            "unit": r.unit,
            "measured": dict(m) if isinstance(m, Mapping) else None,
        }
        for r, m in zip(test.readings, [*measured, *([None] * len(test.readings))], strict=False)
    ]
    return GasTest(
        id=uuid.uuid4(),
        analyst_id=uuid.UUID(test.analyst_id),
        sampled_at=test.sampled_at,
        point=test.point,
        readings=readings,
        passed=test.passed,
        findings=list((outcome.signature.evidence or {}).get("findings", [])) if outcome.signature else [],
        recorded_at=clock.now(),
    )


def suspend_as_system(session: Session, permit_id: uuid.UUID, *, reason: str, reason_code: str) -> Permit:
    """Stop work through the workflow as the system (G-08), with the reason and its code (the suspension reasons of
    workflows.vocabulary); raises RuleViolation where the permit cannot be suspended."""
    return perform(
        session,
        permit_id=permit_id,
        action="suspend",
        principal=SYSTEM,
        payload={"reason": reason, "reason_code": reason_code},
    )


def _follow_effects(session: Session, permit: Permit, effects: Sequence[str], principal: Principal) -> None:
    """Carry out what the core asked for beyond recording the event (HW-08/CS-04 stop, TE-01)."""
    if "suspend_permit" in effects and permit.state == State.active:
        suspend_as_system(
            session,
            permit.id,
            reason="气体分析不合格，立即停止作业 / failed gas test: work stopped (HW-08, CS-04)",
            reason_code="failed_gas_test",
        )
    if "end_linked_temporary_power" in effects:
        for link in permit.links:
            child = link.linked
            action = (
                "cancel"
                if child.state in _CANCELLABLE
                else "complete"
                if child.state == State.active
                else None
            )
            if child.type == "temporary_power" and action:
                session.refresh(child)
                perform(
                    session,
                    permit_id=child.id,
                    action=action,
                    principal=SYSTEM,
                    payload={
                        "reason": f"所服务的作业票 {permit.number} 已结束 / parent permit {permit.number} ended (TE-01)"
                    },
                )


_CANCELLABLE = {
    str(s) for s in (State.draft, State.submitted, State.countersigned, State.approved, State.briefed)
}


def reissue(
    session: Session, *, principal: Principal, permit_id: uuid.UUID, reason: str
) -> tuple[Permit, Permit]:
    """Void a signed permit and file a new draft with the same content (G-07)."""
    old = perform(
        session, permit_id=permit_id, action="void", principal=principal, payload={"reason": reason}
    )
    data = {
        "type": old.type,
        "area_id": old.area_id,
        "title": old.title,
        "location": old.location,
        "work_content": old.work_content,
        "valid_from": old.valid_from,
        "valid_until": old.valid_until,
        "working_periods": old.working_periods,
        "grade": old.grade,
        "facts": old.facts,
        "risk_analysis": old.risk_analysis,
        "high_risk_kind": old.high_risk_kind,  # HR-01: a re-issued permit is still the same Plan-27 work
        "work_unit": old.work_unit,
        "contractor": old.contractor,
        "measures": as_input(old.type, old.measure_list_version, old.measures),  # G-02: confirmed afresh
        "crew": [{"person_id": c.person_id, "role": c.role} for c in crew_of(old)],  # G-13: checked afresh
        "linked_permit_ids": [link.linked_id for link in old.links],
    }
    new = create_permit(session, principal=principal, data=data, reissued_from=old)
    return old, new


def record_event(
    session: Session, permit: Permit, principal: Principal, kind: str, data: dict[str, Any]
) -> None:
    """Append an event about the permit to its enterprise's chain (AU-01), naming the permit's type."""
    audit.append(session, _event(permit, principal, kind, data))


def _event(permit: Permit, principal: Principal, kind: str, data: dict[str, Any]) -> Event:
    return audit.event(
        kind=kind,
        actor=principal,
        subject_type="permit",
        subject_id=permit.id,
        enterprise_id=permit.enterprise_id,
        data={"permit_type": permit.type, **data},
    )
