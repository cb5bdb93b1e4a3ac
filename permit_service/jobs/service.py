"""High-risk job use cases: file, report, consent or refuse, confirm on site, work, close (HR-01..03).

The consent path serves three cases with one resource: the Plan-27 kinds (HR-01), upgraded work under an
`upgrade` freeze (FZ-02) and every permit of a red-grade enterprise (RG-02), the last two as the kind
`consent_report`. This module also tells the permit workflow, for every permit, whether it belongs to a
Plan-27 job and whether a regulator's consent covers it (a context provider).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, aliased, selectinload

from permit_service import clock
from permit_service.audit import service as audit
from permit_service.auth.principal import SYSTEM, Principal, enterprise_scope
from permit_service.directory.models import Enterprise, Person, PlantArea
from permit_service.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationProblem
from permit_service.jobs.models import HighRiskJob, HighRiskJobPermit
from permit_service.onsite import service as onsite
from permit_service.permits import service as permits
from permit_service.permits.context import (
    LazySequence,
    provided_fields,
    read_with,
    read_with_permit,
    register_provider,
)
from permit_service.permits.models import Permit, PermitCrewMember
from workflows import model as wf
from workflows.high_risk_job import (
    CONFIRMATION_HOLDS,
    CONSENT_HOLDS,
    PLAN27_KINDS,
    JobState,
    allowed_actions,
    role_violation,
    target_state,
)
from workflows.rules import Violation, on_site
from workflows.rules.conflicts import DIKE_JOB_KINDS
from workflows.states import TERMINAL as PERMIT_TERMINAL
from workflows.states import State as PermitState

# A permit joins a Plan-27 job before anyone has approved it: the regulator consents to what it has seen
# (HR-01). A consent report may also take a permit approved but not yet at work, or stopped, e.g. of an
# enterprise graded red after the approval: the workflow holds its activation or resumption until the
# consent (RG-02).
ATTACHABLE_PERMIT_STATES = frozenset({PermitState.draft, PermitState.submitted, PermitState.countersigned})
ATTACHABLE_TO_CONSENT_REPORT = ATTACHABLE_PERMIT_STATES | {
    PermitState.approved,
    PermitState.briefed,
    PermitState.suspended,
}
EDITABLE = (
    "kind", "area_id", "title", "description", "risk_analysis", "planned_headcount", "crew", "starts_at",
    "ends_at",
)  # fmt: skip


# --- the permit workflow's view (context provider) -----------------------------------------------


def _of_the_permits_job(column: Any) -> sa.ScalarSelect[Any]:
    return (
        sa.select(column)
        .join(HighRiskJobPermit, HighRiskJobPermit.job_id == HighRiskJob.id)
        .where(HighRiskJobPermit.permit_id == Permit.id)
        .scalar_subquery()
    )


# What job_context reads, in the permit's own statement (permits.context.read_with_permit). Guarded: a grading
# (RG-02) and a job's decisions change them holding the permits' row locks.
read_with_permit(
    "enterprise_risk_grade",
    sa.select(Enterprise.risk_grade).where(Enterprise.id == Permit.enterprise_id).scalar_subquery(),
    guarded=True,
)
read_with_permit("job_kind", _of_the_permits_job(HighRiskJob.kind), guarded=True)
read_with_permit("job_state", _of_the_permits_job(HighRiskJob.state), guarded=True)
read_with_permit("job_confirmed_at", _of_the_permits_job(HighRiskJob.confirmed_at), guarded=True)


def _job_read(_session: Session, permit: Permit) -> tuple[sa.Select, dict[str, Any]]:
    return _job_and_grade(), {"permit_id": permit.id, "enterprise_id": permit.enterprise_id}


def _job_read_if_missing(session: Session, permit: Permit) -> tuple[sa.Select, dict[str, Any]] | None:
    read = read_with(permit)
    return _job_read(session, permit) if read is None or "job_state" not in read else None


def _job_answer_of_row(permit: Permit, row: Sequence[Any]) -> dict[str, Any]:
    return _job_answer(permit, dict(zip(_JOB_AND_GRADE, row, strict=True)))


@register_provider(
    deferred=("job_kind", "consented", "enterprise_risk_grade", "principal_confirmed_at"),
    locked=(_job_read_if_missing, _job_answer_of_row),
)
def job_context(session: Session, permit: Permit) -> dict[str, Any]:
    """For one permit: its Plan-27 kind (or None), whether a consent covers it, its enterprise's grade."""
    read = read_with(permit)
    if read is None or "job_state" not in read:
        read = session.execute(*_job_read(session, permit)).one()._asdict()
    return _job_answer(permit, read)


def _job_answer(permit: Permit, read: Mapping[str, Any]) -> dict[str, Any]:
    """job_context's answer from what was read of the permit's job and its enterprise's grade (_JOB_AND_GRADE)."""
    kind, state = read["job_kind"], read["job_state"]
    in_plan27_job = kind in PLAN27_KINDS
    return {
        # HR-01: Plan-27 work is Plan-27 work whether it was carried in a job or only declared on the permit,
        # so a declared permit never attached to a job still waits for a consent and the principal (HR-02).
        # A consent report is not a Plan-27 job: its permits need consent (FZ-02, RG-02) but the core decides
        # the principal's approval from the freeze, not from a job kind.
        "job_kind": kind if in_plan27_job else permit.plan27_kind,
        # Declared Plan-27 work is covered only by the consent to a Plan-27 job, never by a consent report's.
        "consented": state in CONSENT_HOLDS and (in_plan27_job or permit.plan27_kind is None),
        "enterprise_risk_grade": read["enterprise_risk_grade"],
        # HR-02: the principal's latest on-site confirmation of the Plan-27 job, while the job is open after it.
        "principal_confirmed_at": read["job_confirmed_at"]
        if in_plan27_job and state in CONFIRMATION_HOLDS
        else None,
    }


_JOB_AND_GRADE = ("enterprise_risk_grade", "job_kind", "job_state", "job_confirmed_at")


@functools.cache
def _job_and_grade() -> sa.Select:
    """What job_context reads where the permit was read without it (after its lock; a new draft): the enterprise's
    grade (parameter `enterprise_id`) and the job of the permit (`permit_id`), if any. Built once (issue 14)."""
    return (
        sa.select(
            Enterprise.risk_grade.label("enterprise_risk_grade"),
            HighRiskJob.kind.label("job_kind"),
            HighRiskJob.state.label("job_state"),
            HighRiskJob.confirmed_at.label("job_confirmed_at"),
        )
        .select_from(Enterprise)
        .outerjoin(HighRiskJobPermit, HighRiskJobPermit.permit_id == sa.bindparam("permit_id"))
        .outerjoin(HighRiskJob, HighRiskJob.id == HighRiskJobPermit.job_id)
        .where(Enterprise.id == sa.bindparam("enterprise_id"))
    )


# HR-01 / HW-10: a job holds its place in a dike from its report until it is closed, refused or cancelled.
_IN_THE_DIKE = (JobState.reported, JobState.consented, JobState.principal_confirmed, JobState.in_progress)


@register_provider
def dike_jobs(session: Session, permit: Permit) -> dict[str, Any]:
    """For hot work: the water-draining jobs of its enterprise in its area's tank-farm dike, loaded only when the
    conflict guard reads them (HW-10), whether or not they carry a permit."""
    if permit.type != "hot_work":
        return {}

    def load() -> tuple[wf.DikeJob, ...]:
        job_area = aliased(PlantArea)
        rows = session.execute(
            sa.select(
                HighRiskJob.id,
                HighRiskJob.title,
                HighRiskJob.kind,
                HighRiskJob.starts_at,
                HighRiskJob.ends_at,
            )
            .join(job_area, job_area.id == HighRiskJob.area_id)
            .join(PlantArea, PlantArea.id == permit.area_id)
            .where(
                HighRiskJob.enterprise_id == permit.enterprise_id,
                HighRiskJob.kind.in_(DIKE_JOB_KINDS),
                HighRiskJob.state.in_([str(s) for s in _IN_THE_DIKE]),
                PlantArea.dike_code.is_not(None),
                job_area.dike_code == PlantArea.dike_code,
            )
        )
        return tuple(wf.DikeJob(str(r.id), r.title, r.kind, r.starts_at, r.ends_at) for r in rows)

    return {"dike_jobs": LazySequence(load)}


def stop_unconsented_work(session: Session, *, enterprise_id: uuid.UUID, reason: str) -> list[str]:
    """Suspend, as the system, every permit of the enterprise at work that no regulator's consent covers (RG-02).

    Returns their numbers. Every open permit is locked, not only the active ones: on PostgreSQL a permit being
    activated concurrently is then seen once its activation commits, and suspended too.
    """
    stopped = []
    open_permits = session.scalars(
        sa.select(Permit)
        .where(Permit.enterprise_id == enterprise_id, Permit.state.not_in([str(s) for s in PERMIT_TERMINAL]))
        .order_by(Permit.number)
        .with_for_update(of=Permit)
    )
    for permit in list(open_permits):
        if permit.state != PermitState.active or job_context(session, permit)["consented"]:
            continue
        permits.suspend_as_system(session, permit.id, reason=reason, reason_code="red_grade")
        stopped.append(permit.number)
    return stopped


# --- reading -------------------------------------------------------------------------------------


def visible(session: Session, principal: Principal) -> sa.ColumnElement[bool]:
    """Which jobs the caller may see: enterprise staff their own, regulators the reported ones of their region."""
    clause = enterprise_scope(session, principal, HighRiskJob.enterprise_id)
    if principal.enterprise_id is None and principal.kind != "system":
        clause = sa.and_(clause, HighRiskJob.reported_at.is_not(None))
    return clause


def get_job(
    session: Session, *, principal: Principal, job_id: uuid.UUID, for_update: bool = False
) -> HighRiskJob:
    """A job the caller may see (404 otherwise), locked for the transaction when `for_update`."""
    stmt = sa.select(HighRiskJob).where(visible(session, principal), HighRiskJob.id == job_id)
    if for_update:
        stmt = stmt.with_for_update(of=HighRiskJob)
    job = session.scalars(stmt.options(selectinload(HighRiskJob.permit_links))).unique().one_or_none()
    if job is None:
        raise NotFound("作业不存在", "No such job")
    return job


def list_jobs(session: Session, *, principal: Principal, filters: Mapping[str, Any]) -> sa.Select:
    """The caller's jobs matching state, kind and enterprise, as a statement to paginate."""
    stmt = sa.select(HighRiskJob).where(visible(session, principal))
    return _filtered(stmt, filters).options(selectinload(HighRiskJob.permit_links))


def state_counts(session: Session, *, principal: Principal, filters: Mapping[str, Any]) -> dict[str, int]:
    """How many visible jobs are in each state, under every filter except the state itself."""
    stmt = sa.select(HighRiskJob.state, sa.func.count()).where(visible(session, principal))
    rows = session.execute(_filtered(stmt, {**filters, "state": None}).group_by(HighRiskJob.state))
    counts = {str(state): 0 for state in JobState}
    if principal.enterprise_id is None:
        counts.pop(JobState.draft)  # regulators never see drafts
    counts.update({state: n for state, n in rows})
    return counts


def _filtered(stmt: sa.Select, filters: Mapping[str, Any]) -> sa.Select:
    for name in ("state", "kind", "enterprise_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(HighRiskJob, name) == filters[name])
    return stmt


def job_permits(session: Session, job: HighRiskJob) -> list[dict[str, Any]]:
    """The permits a job carries, each with its crew by name: what the regulator reviews (HR-03)."""
    permit_ids = [link.permit_id for link in job.permit_links]
    crew: dict[uuid.UUID, list[dict[str, Any]]] = {pid: [] for pid in permit_ids}
    rows = session.execute(
        sa.select(PermitCrewMember.permit_id, PermitCrewMember.person_id, PermitCrewMember.role, Person.name)
        .join(Person, Person.id == PermitCrewMember.person_id)
        .where(PermitCrewMember.permit_id.in_(permit_ids))
        .order_by(PermitCrewMember.position)
    )
    for permit_id, person_id, role, name in rows:
        crew[permit_id].append({"person_id": person_id, "name": name, "role": role})
    return [
        {
            "id": link.permit.id,
            "number": link.permit.number,
            "type": link.permit.type,
            "grade": link.permit.grade,
            "state": link.permit.state,
            "title": link.permit.title,
            "area_id": link.permit.area_id,
            "valid_from": link.permit.valid_from,
            "valid_until": link.permit.valid_until,
            "risk_analysis": link.permit.risk_analysis,
            "high_risk_kind": link.permit.high_risk_kind,
            "crew": crew[link.permit_id],
            "attached_at": link.attached_at,
        }
        for link in job.permit_links
    ]


def actions_for(job: HighRiskJob, principal: Principal) -> list[str]:
    """What the caller may do next with this job."""
    return allowed_actions(job.state, principal.roles)


# --- filing and editing ---------------------------------------------------------------------------


def create_job(session: Session, *, principal: Principal, data: Mapping[str, Any]) -> HighRiskJob:
    """File a draft job of the caller's enterprise."""
    _may(principal, "update")
    if principal.enterprise_id is None:
        raise Forbidden("只有企业人员可以申报作业", "Only enterprise staff file jobs")
    now = clock.now()
    job = HighRiskJob(
        id=uuid.uuid4(),
        enterprise_id=principal.enterprise_id,
        state=str(JobState.draft),
        description="",
        risk_analysis="",
        crew=[],
        grounds=[],
        created_by_id=uuid.UUID(principal.id),
        created_at=now,
        updated_at=now,
    )
    _apply_changes(job, data)
    _check_content(session, job)
    session.add(job)
    session.flush()
    _record(session, job, principal, "job.filed", {"kind": job.kind, "title": job.title})
    return job


def update_job(
    session: Session,
    *,
    principal: Principal,
    job_id: uuid.UUID,
    changes: Mapping[str, Any],
    expected_version: int | None,
) -> HighRiskJob:
    """Change a draft job; once reported it is what the regulator saw and stays as it is."""
    job = _locked(session, principal, job_id, "update", expected_version)
    _apply_changes(job, changes)
    _check_content(session, job)
    job.updated_at = clock.now()
    _record(session, job, principal, "job.edited", {"fields": sorted(changes)})
    return job


def attach_permit(
    session: Session,
    *,
    principal: Principal,
    job_id: uuid.UUID,
    permit_id: uuid.UUID,
    expected_version: int | None,
) -> HighRiskJob:
    """Put a not-yet-approved permit of the same enterprise under the job."""
    job = _locked(session, principal, job_id, "attach_permit", expected_version)
    # Locked like any permit action: an approval or another job cannot take it while it joins this one.
    permit = session.scalar(
        sa.select(Permit)
        .where(Permit.id == permit_id, Permit.enterprise_id == job.enterprise_id)
        .with_for_update(of=Permit)
    )
    if permit is None:
        raise ValidationProblem(
            {"permit_id": ["作业票不存在或不属于本企业 / no such permit in your enterprise"]}
        )
    if job.kind in PLAN27_KINDS and permit.state not in ATTACHABLE_PERMIT_STATES:
        raise Conflict(
            f"作业票 {permit.number} 处于“{permit.state}”状态，只有审批前的作业票可以纳入高风险作业报备",
            f"permit {permit.number} is {permit.state}: only permits not yet approved can join a high-risk job",
            rule="HR-01",
        )
    check_declared_kind(job, permit)
    if permit.state not in ATTACHABLE_TO_CONSENT_REPORT:
        raise Conflict(
            f"作业票 {permit.number} 处于“{permit.state}”状态，已开始或已结束的作业票不能纳入报备",
            f"permit {permit.number} is {permit.state}: work already started or ended cannot join a report",
            rule="HR-01",
        )
    owner = session.scalar(
        sa.select(HighRiskJobPermit.job_id).where(HighRiskJobPermit.permit_id == permit.id)
    )
    if owner is not None:
        raise Conflict(
            f"作业票 {permit.number} 已属于另一报备作业",
            f"permit {permit.number} already belongs to a job",
            rule="HR-01",
            job_id=str(owner),
        )
    _check_permit_window(job, [permit])
    now = clock.now()
    job.permit_links.append(
        HighRiskJobPermit(
            permit_id=permit.id, permit=permit, attached_at=now, attached_by_id=uuid.UUID(principal.id)
        )
    )
    job.updated_at = now
    _record(session, job, principal, "job.permit_attached", {"permit_id": permit.id, "number": permit.number})
    return job


def detach_permit(
    session: Session,
    *,
    principal: Principal,
    job_id: uuid.UUID,
    permit_id: uuid.UUID,
    expected_version: int | None,
) -> HighRiskJob:
    """Take a permit out of a draft job."""
    job = _locked(session, principal, job_id, "detach_permit", expected_version)
    link = next((link for link in job.permit_links if link.permit_id == permit_id), None)
    if link is None:
        raise NotFound("该作业票不在此作业中", "This permit is not part of the job")
    job.permit_links.remove(link)
    job.updated_at = clock.now()
    _record(
        session, job, principal, "job.permit_detached", {"permit_id": permit_id, "number": link.permit.number}
    )
    return job


# --- the consent path -----------------------------------------------------------------------------


def report(
    session: Session, *, principal: Principal, job_id: uuid.UUID, expected_version: int | None
) -> HighRiskJob:
    """Report the job to the regulator of the enterprise's region (HR-01); it waits for consent from now on."""
    job = _locked(session, principal, job_id, "report", expected_version)
    _check_complete(job)
    _check_permit_window(job, [link.permit for link in job.permit_links])
    for link in job.permit_links:  # the draft job's kind, or a draft permit's declaration, may have changed
        check_declared_kind(job, link.permit)
    job.grounds = _grounds(session, job)
    _move(session, job, principal, "report", reported_at=clock.now(), reported_by_id=uuid.UUID(principal.id))
    _record(
        session,
        job,
        principal,
        "job.reported",
        {
            "kind": job.kind,
            "grounds": job.grounds,
            "window": [job.starts_at, job.ends_at],
            "planned_headcount": job.planned_headcount,
            "permits": [link.permit.number for link in job.permit_links],
        },
    )
    return job


def consent(
    session: Session,
    *,
    principal: Principal,
    job_id: uuid.UUID,
    reason: str | None,
    expected_version: int | None,
) -> HighRiskJob:
    """The regulator consents (HR-03): the job's permits may now be approved by the principal on site."""
    job = _locked(session, principal, job_id, "consent", expected_version)
    _decide(session, job, principal, "consent", reason)
    _record(session, job, principal, "job.consented", {"reason": reason})
    return job


def refuse(
    session: Session, *, principal: Principal, job_id: uuid.UUID, reason: str, expected_version: int | None
) -> HighRiskJob:
    """The regulator refuses with a reason (HR-03): the job ends and its open permits are cancelled."""
    job = _locked(session, principal, job_id, "refuse", expected_version)
    _decide(session, job, principal, "refuse", reason)
    # The cancellations follow from the refusal: the system acts, not the regulator, who signs no permit.
    cancelled = _cancel_permits(
        session, job, SYSTEM, f"监管部门不同意报备：{reason} / the regulator refused the report: {reason}"
    )
    _record(session, job, principal, "job.refused", {"reason": reason, "cancelled_permits": cancelled})
    return job


def confirm_on_site(
    session: Session,
    *,
    principal: Principal,
    job_id: uuid.UUID,
    evidence: Mapping[str, Any],
    expected_version: int | None,
) -> HighRiskJob:
    """The principal leader confirms safety on site, in person, with evidence of being there (HR-02).

    Again after a freeze or a red grade stopped the job's work: that confirmation is what lets it resume.
    """
    job = get_job(session, principal=principal, job_id=job_id)
    action = "reconfirm_on_site" if job.state in CONFIRMATION_HOLDS else "confirm_on_site"
    job = _locked(session, principal, job_id, action, expected_version)
    now = clock.now()
    proof = _check_on_site(session, job, principal, evidence, now)
    record = {
        "area_id": str(job.area_id),
        "position": evidence.get("position"),
        "card_id": evidence.get("card_id"),
        "declared": bool(evidence.get("declared")),
        **proof,
        "at": now.isoformat(),
        "person_id": principal.id,
    }
    _move(
        session,
        job,
        principal,
        action,
        confirmed_at=now,
        confirmed_by_id=uuid.UUID(principal.id),
        confirmation_evidence=record,
    )
    _record(session, job, principal, "job.principal_confirmed", {"evidence": record})
    return job


def start(
    session: Session, *, principal: Principal, job_id: uuid.UUID, expected_version: int | None
) -> HighRiskJob:
    """Work begins, inside the consented window only (HR-01)."""
    job = _locked(session, principal, job_id, "start", expected_version)
    now = clock.now()
    if not job.starts_at <= now < job.ends_at:
        raise Conflict(
            "当前不在监管部门同意的作业时段内",
            "now is outside the window the regulator consented to",
            rule="HR-01",
        )
    _move(session, job, principal, "start", started_at=now)
    _record(session, job, principal, "job.started", {})
    return job


def close(
    session: Session, *, principal: Principal, job_id: uuid.UUID, expected_version: int | None
) -> HighRiskJob:
    """Close the job once every permit it carries has ended."""
    job = _locked(session, principal, job_id, "close", expected_version)
    open_permits = [
        link.permit.number for link in job.permit_links if link.permit.state not in PERMIT_TERMINAL
    ]
    if open_permits:
        raise Conflict(
            f"以下作业票尚未结束：{', '.join(open_permits)}",
            f"these permits have not ended yet: {', '.join(open_permits)}",
            rule="STATE",
            open_permits=open_permits,
        )
    _move(session, job, principal, "close", closed_at=clock.now())
    _record(session, job, principal, "job.closed", {})
    return job


def cancel(
    session: Session, *, principal: Principal, job_id: uuid.UUID, reason: str, expected_version: int | None
) -> HighRiskJob:
    """The enterprise calls the job off; its open permits are cancelled with it."""
    job = _locked(session, principal, job_id, "cancel", expected_version)
    _move(session, job, principal, "cancel", cancelled_at=clock.now(), cancel_reason=reason)
    # The caller cancels the permits too: the workflow decides whether they may (applicant or approver).
    cancelled = _cancel_permits(
        session, job, principal, f"所属作业已取消：{reason} / the job was cancelled: {reason}"
    )
    _record(session, job, principal, "job.cancelled", {"reason": reason, "cancelled_permits": cancelled})
    return job


# --- helpers --------------------------------------------------------------------------------------


def _may(principal: Principal, action: str) -> None:
    """403 unless the caller holds a role that may take `action`; HR-02 names the principal's own acts."""
    violation = role_violation(action, principal.roles)
    if violation is not None:
        raise Forbidden(violation.zh, violation.en, rule=violation.rule_id)


def _locked(
    session: Session, principal: Principal, job_id: uuid.UUID, action: str, expected_version: int | None
) -> HighRiskJob:
    _may(principal, action)
    job = get_job(session, principal=principal, job_id=job_id, for_update=True)
    if expected_version is not None and job.version != expected_version:
        raise PreconditionFailed(current_etag=f'"{job.version}"')
    target_state(job.state, action, principal.roles)
    return job


def _move(session: Session, job: HighRiskJob, principal: Principal, action: str, **fields: Any) -> None:
    target = target_state(job.state, action, principal.roles)
    if target is not None:  # None: the action keeps the job where it is (a re-confirmation)
        job.state = str(target)
    for name, value in fields.items():
        setattr(job, name, value)
    job.updated_at = clock.now()
    session.flush()


def _decide(
    session: Session, job: HighRiskJob, principal: Principal, action: str, reason: str | None
) -> None:
    _move(
        session,
        job,
        principal,
        action,
        decided_at=clock.now(),
        decided_by_id=uuid.UUID(principal.id),
        decision_reason=reason,
    )


def _cancel_permits(session: Session, job: HighRiskJob, by: Principal, reason: str) -> list[str]:
    """Cancel every permit of the job that has not ended, as `by`; returns their numbers."""
    numbers = []
    for link in job.permit_links:
        if link.permit.state in PERMIT_TERMINAL:
            continue
        permits.perform(
            session, permit_id=link.permit_id, action="cancel", principal=by, payload={"reason": reason}
        )
        numbers.append(link.permit.number)
    return numbers


def _apply_changes(job: HighRiskJob, changes: Mapping[str, Any]) -> None:
    for name in EDITABLE:
        if name in changes:
            setattr(job, name, changes[name])
    if "crew" in changes:
        # Stored as JSON: ids as strings.
        job.crew = [
            {**member, "person_id": str(member["person_id"]) if member.get("person_id") else None}
            for member in changes["crew"]
        ]


def _check_content(session: Session, job: HighRiskJob) -> None:
    """The area is the enterprise's, the window is ordered, named crew members work there."""
    errors: dict[str, list[str]] = {}
    area = session.scalar(
        sa.select(PlantArea.id).where(
            PlantArea.id == job.area_id, PlantArea.enterprise_id == job.enterprise_id
        )
    )
    if area is None:
        errors["area_id"] = ["区域不存在或不属于本企业 / no such area in your enterprise"]
    if job.ends_at <= job.starts_at:
        errors["ends_at"] = ["须晚于开始时间 / must be after starts_at"]
    named = {uuid.UUID(c["person_id"]) for c in job.crew if c.get("person_id")}
    known = set(
        session.scalars(
            sa.select(Person.id).where(Person.id.in_(named), Person.enterprise_id == job.enterprise_id)
        )
    )
    for i, member in enumerate(job.crew):
        if member.get("person_id") and uuid.UUID(member["person_id"]) not in known:
            errors[f"crew.{i}.person_id"] = ["人员不存在或不属于本企业 / no such person in your enterprise"]
    if errors:
        raise ValidationProblem(errors)


def _check_complete(job: HighRiskJob) -> None:
    """What the regulator needs to judge a report (HR-03): description, risk analysis, the permits."""
    errors: dict[str, list[str]] = {}
    if not job.description.strip():
        errors["description"] = ["报备前须填写作业内容 / describe the work before reporting"]
    if not job.risk_analysis.strip():
        errors["risk_analysis"] = ["报备前须填写风险分析 / record the risk analysis before reporting"]
    if job.kind not in PLAN27_KINDS and not job.permit_links:
        errors["permits"] = ["报备作业须至少包含一张作业票 / a consent report covers at least one permit"]
    if job.ends_at <= clock.now():
        errors["ends_at"] = ["作业时段已结束 / the window is already over"]
    if errors:
        raise ValidationProblem(errors, "报备内容不完整", "The report is incomplete")


def _check_permit_window(job: HighRiskJob, carried: Sequence[Permit]) -> None:
    """The consent covers the job's window: every permit must fall inside it."""
    outside = [p.number for p in carried if p.valid_from < job.starts_at or p.valid_until > job.ends_at]
    if outside:
        raise ValidationProblem(
            {
                "permits": [
                    f"作业票有效期超出作业时段 / permit validity outside the job window: {', '.join(outside)}"
                ]
            }
        )


def check_declared_kind(job: HighRiskJob, permit: Permit) -> None:
    """HR-01: a permit declaring Plan-27 work is carried only by a job of that kind: the consent is to the work it
    declares. One rule for attaching, reporting and editing a carried draft's declaration."""
    declared = permit.plan27_kind
    if declared is None or declared == job.kind:
        return
    if job.kind not in PLAN27_KINDS:
        raise Conflict(
            f"作业票 {permit.number} 申报为高风险作业，须由相应类别的高风险作业报备承载，不能由一般报备承载",
            f"permit {permit.number} is declared Plan-27 work: a high-risk job carries it, not a consent report",
            rule="HR-01",
        )
    (declared_zh, declared_en), (job_zh, job_en) = PLAN27_KINDS[declared], PLAN27_KINDS[job.kind]
    raise Conflict(
        f"作业票 {permit.number} 申报为{declared_zh}作业，不能由{job_zh}作业承载：监管部门同意的须是作业票申报的作业",
        f"permit {permit.number} is declared {declared_en} work: a {job_en} job cannot carry it, its consent "
        "would be to other work than the permit declares",
        rule="HR-01",
    )


def check_carrying_job(session: Session, permit: Permit) -> None:
    """HR-01 when a draft's declaration changes: the job carrying the permit, if any, must still fit it."""
    job = session.scalar(
        sa.select(HighRiskJob)
        .join(HighRiskJobPermit, HighRiskJobPermit.job_id == HighRiskJob.id)
        .where(HighRiskJobPermit.permit_id == permit.id)
    )
    if job is not None:
        check_declared_kind(job, permit)


def _grounds(session: Session, job: HighRiskJob) -> list[str]:
    """Why this needs the regulator's consent, for the regulator's eyes: HR-01, FZ-02, RG-02."""
    grounds = []
    if job.kind in PLAN27_KINDS:
        grounds.append("HR-01")
    if any(
        freeze.mode == "upgrade" and link.permit.type in freeze.types
        for link in job.permit_links
        for freeze in provided_fields(session, link.permit).get("freezes", ())
    ):
        grounds.append("FZ-02")
    if job.enterprise.risk_grade == "red":
        grounds.append("RG-02")
    return grounds


def _check_on_site(
    session: Session, job: HighRiskJob, principal: Principal, evidence: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """HR-02: within the job's window, the principal seen in the job's own area by the G-06 evidence; returns what
    the confirmation keeps of that evidence."""
    if now >= job.ends_at:
        raise Conflict("作业时段已结束", "the job's window is over", rule="HR-02")
    if evidence.get("area_id") not in (None, job.area_id):
        raise Conflict("须在本作业区域内现场确认", "confirm in the job's own area", rule="HR-02")
    area = session.get_one(PlantArea, job.area_id)
    claim = onsite.claim_for(session, area=area, principal=principal, evidence=evidence)
    found = on_site.judge(
        claim, now, current_app.config["PERMIT_CONFIG"].policy, signer=("主要负责人", "principal leader")
    )
    if isinstance(found, Violation):
        raise Conflict(found.zh, found.en, rule=found.rule_id)
    return onsite.evidence_record(found, claim)


def _record(
    session: Session, job: HighRiskJob, principal: Principal, kind: str, data: dict[str, Any]
) -> None:
    audit.record(
        session,
        kind=kind,
        actor=principal,
        subject_type="job",
        subject_id=job.id,
        enterprise_id=job.enterprise_id,
        region_id=job.enterprise.region_id,
        data={"job_kind": job.kind, "state": job.state, **data},
    )
