"""Regulator use cases: grade enterprises (RG-01), hear of orange enterprises' permits (RG-02), the overview."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.audit import service as audit
from permit_service.audit.models import Event
from permit_service.auth.principal import Principal, enterprise_scope, region_subtree
from permit_service.db import is_postgres
from permit_service.directory.models import RISK_GRADES, Enterprise, Person, Region
from permit_service.errors import NotFound
from permit_service.integrations.models import Alarm
from permit_service.jobs import service as jobs
from permit_service.jobs.models import HighRiskJob, HighRiskJobPermit
from permit_service.permits.models import Permit, Signature
from permit_service.regulators.models import EnterpriseRiskGrade, RegulatorNotification
from workflows.high_risk_job import PLAN27_KINDS, JobState
from workflows.rules.on_site import EVIDENCE_KINDS

# What the overview calls pending: filed and waiting for approval.
PERMIT_BUCKETS: dict[str, tuple[str, ...]] = {
    "active": ("active",),
    "suspended": ("suspended",),
    "pending": ("submitted", "countersigned"),
}
# Alarms have no closed state: one is open while the permit it stopped stays suspended; every alarm of the
# last day is counted as well, permit or not.
RECENT_ALARMS = timedelta(hours=24)
# Grades the permit workflow names for RG-02 notifications (workflows.rules.upgrade.NOTIFY_GRADES).
GRADE_REASONS = {"special": "special_grade", "level1": "level_1"}


# --- risk grades (RG-01) --------------------------------------------------------------------------


def set_risk_grade(
    session: Session, *, principal: Principal, enterprise_id: uuid.UUID, grade: str, reason: str
) -> EnterpriseRiskGrade:
    """Grade an enterprise of the caller's region, keep the history, and record the event (RG-01)."""
    enterprise = session.scalar(
        sa.select(Enterprise)
        .where(Enterprise.id == enterprise_id, enterprise_scope(session, principal, Enterprise.id))
        .with_for_update()
    )
    if enterprise is None:
        raise NotFound("企业不存在", "No such enterprise")
    entry = EnterpriseRiskGrade(
        enterprise_id=enterprise.id,
        grade=grade,
        previous_grade=enterprise.risk_grade,
        reason=reason,
        set_by_id=uuid.UUID(principal.id),
        created_at=clock.now(),
    )
    enterprise.risk_grade = grade
    session.add(entry)
    session.flush()
    # RG-02 red: the enterprise is ordered to stop. Work no regulator consented to is suspended now, in this
    # transaction, and resumes only once a consent covers it (the workflow's resume guard).
    stopped = (
        jobs.stop_unconsented_work(
            session,
            enterprise_id=enterprise.id,
            reason=f"企业被监管部门评为红色，责令停止作业：{reason} / "
            f"the regulator graded the enterprise red and ordered it to stop (RG-02): {reason}",
        )
        if grade == "red"
        else []
    )
    audit.record(
        session,
        kind="enterprise.risk_grade_changed",
        actor=principal,
        subject_type="enterprise",
        subject_id=enterprise.id,
        enterprise_id=enterprise.id,
        region_id=enterprise.region_id,
        data={
            "grade": grade,
            "previous_grade": entry.previous_grade,
            "reason": reason,
            "suspended_permits": stopped,
        },
    )
    return entry


def grade_history(session: Session, *, enterprise: Enterprise) -> sa.Select:
    """The gradings of an enterprise, as a statement to paginate."""
    return sa.select(EnterpriseRiskGrade).where(EnterpriseRiskGrade.enterprise_id == enterprise.id)


# --- notifications (RG-02 orange) -----------------------------------------------------------------


@audit.on_event
def notify_on_event(session: Session, event: Event) -> None:
    """Turn the workflow's `notify_regulator` effect, and an orange enterprise's job report, into notifications."""
    if event.subject_type == "permit" and "notify_regulator" in (event.data.get("effects") or ()):
        notify(session, permit_id=uuid.UUID(event.subject_id))
    elif event.kind == "job.reported" and event.data.get("job_kind") in PLAN27_KINDS:
        links = session.scalars(
            sa.select(HighRiskJobPermit.permit_id).where(
                HighRiskJobPermit.job_id == uuid.UUID(event.subject_id)
            )
        )
        for permit_id in list(links):
            notify(session, permit_id=permit_id)


def notify(session: Session, *, permit_id: uuid.UUID) -> None:
    """Tell the regulator about a permit of an orange enterprise (RG-02), once per permit."""
    row = session.execute(
        sa.select(Permit.enterprise_id, Permit.grade, Enterprise.risk_grade, HighRiskJob.id, HighRiskJob.kind)
        .join(Enterprise, Enterprise.id == Permit.enterprise_id)
        .outerjoin(HighRiskJobPermit, HighRiskJobPermit.permit_id == Permit.id)
        .outerjoin(HighRiskJob, HighRiskJob.id == HighRiskJobPermit.job_id)
        .where(Permit.id == permit_id)
    ).one()
    if row.risk_grade != "orange":
        return
    reasons = [GRADE_REASONS[row.grade]] if row.grade in GRADE_REASONS else []
    if row.kind in PLAN27_KINDS:
        reasons.append("high_risk_job")
    if not reasons:
        return
    insert = pg_insert if is_postgres(session) else sqlite_insert
    session.execute(
        insert(RegulatorNotification)
        .values(
            id=uuid.uuid4(),
            enterprise_id=row.enterprise_id,
            permit_id=permit_id,
            job_id=row.id,
            rule="RG-02",
            reasons=reasons,
            enterprise_grade=row.risk_grade,
            created_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["permit_id"])
    )


def notifications(session: Session, *, principal: Principal, filters: Mapping[str, Any]) -> sa.Select:
    """Notifications about enterprises of the caller's region, as a statement to paginate."""
    stmt = sa.select(RegulatorNotification).where(
        enterprise_scope(session, principal, RegulatorNotification.enterprise_id)
    )
    if filters.get("enterprise_id") is not None:
        stmt = stmt.where(RegulatorNotification.enterprise_id == filters["enterprise_id"])
    return stmt


# --- overview -------------------------------------------------------------------------------------


def overview(session: Session, *, principal: Principal, region_id: uuid.UUID | None) -> dict[str, Any]:
    """Permits at work, suspended and pending by enterprise, type and grade; reports; grades; alarms."""
    scope = enterprise_scope(session, principal, Enterprise.id)
    if region_id is not None:
        region = session.scalar(
            sa.select(Region.id).where(
                Region.id == region_id, Region.id.in_(_visible_regions(session, principal))
            )
        )
        if region is None:
            raise NotFound("地区不存在", "No such region")
        scope = sa.and_(scope, Enterprise.region_id.in_(region_subtree(session, region_id)))
    enterprises = sa.select(Enterprise.id).where(scope)
    return {
        "region_id": region_id,
        "generated_at": clock.now(),
        "permits": _permit_counts(session, enterprises),
        "reports": _report_counts(session, enterprises),
        "enterprises_by_grade": _grade_counts(session, scope),
        "alarms": _alarm_counts(session, enterprises),
        "on_site_evidence": _on_site_counts(session, enterprises),
        "principals": _principals(session, scope),
    }


def _visible_regions(session: Session, principal: Principal) -> set[uuid.UUID]:
    return region_subtree(session, principal.region_id) if principal.region_id else set()


def _permit_counts(session: Session, enterprises: sa.Select) -> dict[str, Any]:
    bucket_of = {state: bucket for bucket, states in PERMIT_BUCKETS.items() for state in states}
    rows = session.execute(
        sa.select(
            Permit.enterprise_id, Enterprise.name, Permit.type, Permit.grade, Permit.state, sa.func.count()
        )
        .join(Enterprise, Enterprise.id == Permit.enterprise_id)
        .where(Permit.enterprise_id.in_(enterprises), Permit.state.in_(list(bucket_of)))
        .group_by(Permit.enterprise_id, Enterprise.name, Permit.type, Permit.grade, Permit.state)
    )
    empty = dict.fromkeys(PERMIT_BUCKETS, 0)
    totals = dict(empty)
    by_enterprise: dict[uuid.UUID, dict[str, Any]] = {}
    by_type: dict[str, dict[str, int]] = defaultdict(lambda: dict(empty))
    by_grade: dict[str | None, dict[str, int]] = defaultdict(lambda: dict(empty))
    for enterprise_id, name, permit_type, grade, state, n in rows:
        bucket = bucket_of[state]
        totals[bucket] += n
        by_enterprise.setdefault(enterprise_id, {"enterprise_id": enterprise_id, "name": name, **empty})[
            bucket
        ] += n
        by_type[permit_type][bucket] += n
        by_grade[grade][bucket] += n
    return {
        "totals": totals,
        "by_enterprise": sorted(by_enterprise.values(), key=lambda e: e["name"]),
        "by_type": [{"type": t, **counts} for t, counts in sorted(by_type.items())],
        "by_grade": [
            {"grade": g, **counts} for g, counts in sorted(by_grade.items(), key=lambda i: i[0] or "")
        ],
    }


def _report_counts(session: Session, enterprises: sa.Select) -> dict[str, Any]:
    rows = session.execute(
        sa.select(HighRiskJob.kind, sa.func.count())
        .where(HighRiskJob.enterprise_id.in_(enterprises), HighRiskJob.state == JobState.reported)
        .group_by(HighRiskJob.kind)
    )
    by_kind = dict(rows.all())
    return {"pending": sum(by_kind.values()), "pending_by_kind": by_kind}


def _grade_counts(session: Session, scope: sa.ColumnElement[bool]) -> dict[str, int]:
    counts = dict.fromkeys(RISK_GRADES, 0)
    rows = session.execute(
        sa.select(Enterprise.risk_grade, sa.func.count()).where(scope).group_by(Enterprise.risk_grade)
    )
    counts.update(dict(rows.all()))
    return counts


def _alarm_counts(session: Session, enterprises: sa.Select) -> dict[str, Any]:
    in_region = Alarm.enterprise_id.in_(enterprises)
    open_count = session.scalar(
        sa.select(sa.func.count())
        .select_from(Alarm)
        .join(Permit, Permit.id == Alarm.permit_id)
        .where(in_region, Permit.state == "suspended")
    )
    recent = session.execute(
        sa.select(Alarm.kind, sa.func.count())
        .where(in_region, Alarm.raised_at >= clock.now() - RECENT_ALARMS)
        .group_by(Alarm.kind)
    )
    by_kind = dict(recent.all())
    return {"open": open_count, "last_24h": sum(by_kind.values()), "last_24h_by_kind": by_kind}


def _on_site_counts(session: Session, enterprises: sa.Select) -> dict[str, Any]:
    """Approvals by the kind of on-site evidence, per enterprise: the declared ones were not seen (G-06)."""
    rows = session.execute(
        sa.select(Permit.enterprise_id, Enterprise.name, Signature.on_site, sa.func.count())
        .join(Permit, Permit.id == Signature.permit_id)
        .join(Enterprise, Enterprise.id == Permit.enterprise_id)
        .where(
            Permit.enterprise_id.in_(enterprises),
            Signature.kind == "approval",
            Signature.on_site.is_not(None),
        )
        .group_by(Permit.enterprise_id, Enterprise.name, Signature.on_site)
    )
    totals = dict.fromkeys(EVIDENCE_KINDS, 0)
    by_enterprise: dict[uuid.UUID, dict[str, Any]] = {}
    for enterprise_id, name, kind, n in rows:
        totals[kind] += n
        by_enterprise.setdefault(
            enterprise_id, {"enterprise_id": enterprise_id, "name": name, **dict.fromkeys(EVIDENCE_KINDS, 0)}
        )[kind] += n
    return {"totals": totals, "by_enterprise": sorted(by_enterprise.values(), key=lambda e: e["name"])}


def _principals(session: Session, scope: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
    """Who each enterprise has on record as its principal leader (HR-02), by enterprise name."""
    rows = session.execute(
        sa.select(Enterprise.id, Enterprise.name, Person.id, Person.name, Enterprise.principal_since)
        .outerjoin(Person, Person.id == Enterprise.principal_id)
        .where(scope)
        .order_by(Enterprise.name)
    )
    return [
        {"enterprise_id": eid, "enterprise_name": ename, "person_id": pid, "name": pname, "since": since}
        for eid, ename, pid, pname, since in rows
    ]
