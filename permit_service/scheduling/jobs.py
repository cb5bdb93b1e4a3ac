"""Job bodies: plain functions `run_<job>(session_factory, now)` that act on each due item in its own transaction.

Once, not N times, with any number of scheduler processes:
- an item is taken with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite serialises writers with
  `BEGIN IMMEDIATE`), its condition is checked again inside its transaction, and the act goes through the
  same service functions as the HTTP path (permit state only through the workflow);
- a job whose work is not per item takes a transaction-scoped advisory lock and is skipped if another holds it;
- what must happen once per item and key (a freeze's suspension, a day's re-test alarm) is claimed in the
  `job_marks` ledger in the same transaction.
Every automatic act is an event by the SYSTEM actor. Time comes in as `now`; jobs scan by time, so a run
after downtime catches up and a run killed half-way leaves the rest to the next one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from permit_service.api.conventions import purge_expired_idempotency_records
from permit_service.audit import checkpoints
from permit_service.audit import service as audit
from permit_service.auth import service as auth_service
from permit_service.auth.principal import SYSTEM, region_subtree
from permit_service.calendar import SHANGHAI
from permit_service.db import advisory_xact_lock, is_postgres
from permit_service.directory.models import Enterprise
from permit_service.freezes import service as freezes
from permit_service.freezes.models import Freeze
from permit_service.integrations import service as integrations
from permit_service.integrations import webhooks
from permit_service.permits import service as permits
from permit_service.permits.models import GasTest, Permit
from permit_service.scheduling.models import JobMark
from workflows import WORKFLOWS, get_workflow, working_hours
from workflows.rules import Violation
from workflows.states import SIGNED_OPEN, State

log = logging.getLogger(__name__)
SessionFactory = Callable[[], Session]
BATCH = 200
_EXPIRABLE = [str(s) for s in SIGNED_OPEN]


@dataclass
class RunReport:
    """What one run of a job did: acted on, skipped (taken by another runner or no longer due), failed."""

    job: str
    done: int = 0
    skipped: int = 0
    failed: int = 0
    failed_ids: list[str] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (logs, CLI)."""
        return asdict(self)


# --- plumbing -------------------------------------------------------------------------------------


def each_item(
    session_factory: SessionFactory,
    report: RunReport,
    candidates: Callable[[Session, int], Sequence[Any]],
    act: Callable[[Session, Any], bool],
    *,
    batch: int = BATCH,
) -> RunReport:
    """Run `act` on every candidate, each in its own transaction, until no candidate is left to take.

    `act` locks and re-checks its item; it returns False when the item is no longer due or another runner
    holds it. An item whose act raises is logged, counted as failed and left for the next run.
    """
    passed: set[Any] = set()
    while True:
        with session_factory() as session:
            ids = [i for i in candidates(session, batch + len(passed)) if i not in passed][:batch]
        if not ids:
            return report
        progress = False
        for item in ids:
            try:
                with session_factory() as session, session.begin():
                    acted = act(session, item)
            except Exception:
                log.exception("%s: item %s failed; left for the next run", report.job, item)
                report.failed += 1
                report.failed_ids.append(str(item))
                passed.add(item)
                continue
            if acted:
                report.done += 1
                progress = True
            else:
                report.skipped += 1
                passed.add(item)
        if not progress:
            return report


def take(session: Session, stmt: sa.Select) -> Any:
    """The first row of `stmt`, locked for this transaction, or None if absent or locked by another runner."""
    return session.scalar(stmt.with_for_update(skip_locked=True).limit(1))


def cluster_lock(session: Session, name: str) -> bool:
    """Take the transaction-scoped advisory lock of a one-per-cluster job; False when another runner holds it."""
    return advisory_xact_lock(session, f"job:{name}", wait=False)


def claim(
    session: Session, *, job: str, subject_id: uuid.UUID, key: str, now: datetime, outcome: str = "done"
) -> bool:
    """Record that `job` acted on `subject_id` under `key`; False when that was already recorded."""
    insert = pg_insert if is_postgres(session) else sqlite_insert
    inserted = session.scalar(
        insert(JobMark)
        .values(job=job, subject_id=subject_id, key=key, at=now, outcome=outcome)
        .on_conflict_do_nothing()
        .returning(JobMark.job)
    )
    return inserted is not None


def _unmarked(job: str, key: Any) -> sa.ColumnElement[bool]:
    return ~sa.exists().where(JobMark.job == job, JobMark.subject_id == Permit.id, JobMark.key == str(key))


def _policy() -> dict[str, Any]:
    return current_app.config["PERMIT_CONFIG"].policy


# --- G-12: expiry ---------------------------------------------------------------------------------


def run_expire_permits(session_factory: SessionFactory, now: datetime) -> RunReport:
    """G-12: every signed, unfinished permit at or past its valid_until expires, through the workflow."""

    def due(*conditions: Any) -> sa.Select:
        return sa.select(Permit.id).where(
            Permit.state.in_(_EXPIRABLE), Permit.valid_until <= now, *conditions
        )

    def candidates(session: Session, limit: int) -> Sequence[uuid.UUID]:
        return session.scalars(due().order_by(Permit.valid_until, Permit.id).limit(limit)).all()

    def act(session: Session, permit_id: uuid.UUID) -> bool:
        if take(session, due(Permit.id == permit_id)) is None:
            return False
        permits.perform(session, permit_id=permit_id, action="expire", principal=SYSTEM)
        return True

    return each_item(session_factory, RunReport("expire_permits"), candidates, act)


# --- FZ-03: a freeze's start ----------------------------------------------------------------------

FREEZE_START = "freeze_start"


def _starting_freezes(session: Session, now: datetime) -> list[Freeze]:
    return list(
        session.scalars(
            sa.select(Freeze)
            .where(
                Freeze.state == "declared",
                Freeze.applied_at.is_(None),
                Freeze.starts_at <= now,
                now < Freeze.ends_at,
            )
            .order_by(Freeze.starts_at, Freeze.id)
        )
    )


def _running_under(session: Session, freeze: Freeze) -> sa.Select:
    """Active permits of the frozen types in the freeze's region and below, not yet handled for it."""
    enterprises = sa.select(Enterprise.id).where(
        Enterprise.region_id.in_(region_subtree(session, freeze.region_id))
    )
    return sa.select(Permit.id).where(
        Permit.state == str(State.active),
        Permit.type.in_(list(freeze.types)),
        Permit.enterprise_id.in_(enterprises),
        freeze.starts_at < Permit.valid_until,
        Permit.valid_from < freeze.ends_at,
        _unmarked(FREEZE_START, freeze.id),
    )


def _upgrade_lacking(session: Session, freeze: Freeze, permit_id: uuid.UUID) -> list[Violation]:
    """FZ-02: what of this upgrade freeze's management the running permit lacks, as the workflow judges it."""
    permit = permits.get_permit(session, principal=SYSTEM, permit_id=permit_id)
    data, ctx = permits.core_view(session, permit, SYSTEM)
    return get_workflow(permit.type).upgrade_lacking(data, replace(ctx, freezes=(freezes.as_core(freeze),)))


def _suspend_for(session: Session, freeze: Freeze, permit_id: uuid.UUID, now: datetime) -> bool:
    if session.scalar(sa.select(Freeze.state).where(Freeze.id == freeze.id)) != "declared":
        return False  # cancelled meanwhile
    if take(session, _running_under(session, freeze).where(Permit.id == permit_id)) is None:
        return False
    lacking: list[Violation] = []
    if freeze.mode == "upgrade":
        # FZ-04 put the freeze in view of every approval whose window overlaps it: work that went the upgraded
        # way (consent, the principal, a grade up) runs on; what was approved before the freeze stops.
        lacking = _upgrade_lacking(session, freeze, permit_id)
        if not lacking:
            claim(
                session,
                job=FREEZE_START,
                subject_id=permit_id,
                key=str(freeze.id),
                now=now,
                outcome="upgraded",
            )
            return False
    if not claim(
        session, job=FREEZE_START, subject_id=permit_id, key=str(freeze.id), now=now, outcome="suspended"
    ):
        return False
    why_zh = "".join(f"；{v.rule_id}：{v.zh}" for v in lacking)
    why_en = "".join(f"; {v.rule_id}: {v.en}" for v in lacking)
    reason = f"冻结期开始：{freeze.reason}{why_zh} / freeze started: {freeze.reason}{why_en} (FZ-03)"
    permit = permits.suspend_as_system(session, permit_id, reason=reason, reason_code="freeze")
    # The enterprise's notice: which freeze stopped its permit, and that nothing resumes by itself.
    audit.record(
        session,
        kind="freeze.permit_suspended",
        actor=SYSTEM,
        subject_type="permit",
        subject_id=permit.id,
        enterprise_id=permit.enterprise_id,
        data={
            "freeze_id": str(freeze.id),
            "number": permit.number,
            "lacking": [v.as_dict() for v in lacking],
            **freezes.summary(freeze),
        },
    )
    return True


def _finish_start(
    session_factory: SessionFactory, freeze_id: uuid.UUID, failed: set[str], now: datetime
) -> bool:
    """Mark the freeze applied once nothing it should suspend is left (unlocked read: work in flight counts)."""
    with session_factory() as session, session.begin():
        freeze = take(
            session,
            sa.select(Freeze).where(
                Freeze.id == freeze_id, Freeze.state == "declared", Freeze.applied_at.is_(None)
            ),
        )
        if freeze is None:
            return False
        left = {str(i) for i in session.scalars(_running_under(session, freeze))}
        if left - failed:
            return False
        outcomes = dict(
            session.execute(
                sa.select(JobMark.outcome, sa.func.count())
                .where(JobMark.job == FREEZE_START, JobMark.key == str(freeze.id))
                .group_by(JobMark.outcome)
            ).all()
        )
        freeze.applied_at = now
        session.flush()
        audit.record(
            session,
            kind="freeze.applied",
            actor=SYSTEM,
            subject_type="freeze",
            subject_id=freeze.id,
            region_id=freeze.region_id,
            data={
                **freezes.summary(freeze),
                "suspended": outcomes.get("suspended", 0),
                "running_upgraded": outcomes.get("upgraded", 0),
                "not_suspended": sorted(left),
            },
        )
        return True


def run_freeze_starts(session_factory: SessionFactory, now: datetime) -> RunReport:
    """FZ-03: at a freeze's start, suspend the active permits of its types in its region and notify, once.

    A strict freeze suspends them all; an upgrade freeze those without its upgraded management (FZ-02).
    """
    report = RunReport("freeze_starts")
    with session_factory() as session:
        starting = _starting_freezes(session, now)
        session.expunge_all()
    for freeze in starting:
        before = len(report.failed_ids)

        def candidates(session: Session, limit: int, freeze: Freeze = freeze) -> Sequence[uuid.UUID]:
            return session.scalars(_running_under(session, freeze).order_by(Permit.id).limit(limit)).all()

        def act(session: Session, permit_id: uuid.UUID, freeze: Freeze = freeze) -> bool:
            return _suspend_for(session, freeze, permit_id, now)

        each_item(session_factory, report, candidates, act)
        if _finish_start(session_factory, freeze.id, set(report.failed_ids[before:]), now):
            log.info("freeze %s applied", freeze.id)
    return report


# --- CS-03 and HW-04: watches over active work ----------------------------------------------------


def _watch(session: Session, permit_id: uuid.UUID, rule: str) -> Any:
    """The workflow's verdict on an active permit for one watched rule (None when it holds)."""
    permit = permits.get_permit(session, principal=SYSTEM, permit_id=permit_id)
    data, ctx = permits.core_view(session, permit, SYSTEM)
    return next((v for v in get_workflow(permit.type).watch(data, ctx) if v.rule_id == rule), None)


def run_confined_space_monitoring(session_factory: SessionFactory, now: datetime) -> RunReport:
    """CS-03: suspend confined-space work with people inside and no gas record for the monitoring interval."""
    interval = timedelta(minutes=_policy().get("cs_monitoring_interval_minutes", 120))

    def overdue(*conditions: Any) -> sa.Select:
        recent = sa.exists().where(GasTest.permit_id == Permit.id, GasTest.sampled_at > now - interval)
        return sa.select(Permit.id).where(
            Permit.type == "confined_space", Permit.state == str(State.active), ~recent, *conditions
        )

    def candidates(session: Session, limit: int) -> Sequence[uuid.UUID]:
        return session.scalars(overdue().order_by(Permit.id).limit(limit)).all()

    def act(session: Session, permit_id: uuid.UUID) -> bool:
        if take(session, overdue(Permit.id == permit_id)) is None:
            return False
        if (violation := _watch(session, permit_id, "CS-03")) is None:
            return False
        permits.suspend_as_system(
            session,
            permit_id,
            reason=f"{violation.zh} / {violation.en} (CS-03)",
            reason_code="gas_monitoring_gap",
        )
        return True

    return each_item(session_factory, RunReport("confined_space_monitoring"), candidates, act)


HW04_ALARM = "hw04_retest_due"


def run_hot_work_retests(session_factory: SessionFactory, now: datetime) -> RunReport:
    """HW-04: raise an alarm, once per permit and day, on active hot work without today's gas re-analysis.

    The rule asks for a daily test, not a suspension; the alarm goes to the enterprise (and its webhooks).
    """
    today = now.astimezone(SHANGHAI).date()
    day_start = datetime.combine(today, time(), SHANGHAI)

    def due(*conditions: Any) -> sa.Select:
        tested = sa.exists().where(
            GasTest.permit_id == Permit.id, GasTest.passed, GasTest.sampled_at >= day_start
        )
        return sa.select(Permit.id).where(
            Permit.type == "hot_work",
            Permit.state == str(State.active),
            ~tested,
            _unmarked(HW04_ALARM, today.isoformat()),
            *conditions,
        )

    def candidates(session: Session, limit: int) -> Sequence[uuid.UUID]:
        return session.scalars(due().order_by(Permit.id).limit(limit)).all()

    def act(session: Session, permit_id: uuid.UUID) -> bool:
        if take(session, due(Permit.id == permit_id)) is None:
            return False
        if (violation := _watch(session, permit_id, "HW-04")) is None:
            return False
        permit = permits.get_permit(session, principal=SYSTEM, permit_id=permit_id)
        if not claim(session, job=HW04_ALARM, subject_id=permit_id, key=today.isoformat(), now=now):
            return False
        # An alarm like the plant's and the silent feeds' (GET /alarms, the webhooks), not only an event.
        integrations.raise_alarm(
            session,
            enterprise_id=permit.enterprise_id,
            kind="gas_retest_due",
            rule=violation.rule_id,
            zh=f"作业票{permit.number}：{violation.zh}",
            en=f"Permit {permit.number}: {violation.en}",
            permit=permit,
            area_id=permit.area_id,
            raised_at=now,
            data={"day": today.isoformat()},
        )
        return True

    return each_item(session_factory, RunReport("hot_work_retests"), candidates, act)


# --- HW-03: the end of a working period -----------------------------------------------------------

_STATING_PERIODS = [t for t, wf in WORKFLOWS.items() if wf.working_hours_rule]


def run_working_period_ends(session_factory: SessionFactory, now: datetime) -> RunReport:
    """HW-03: an active permit whose working period has ended is suspended by the system (resuming re-tests the
    gas after the interruption, HW-06). Only permits stating periods are read, and only the columns judged."""

    def running(*conditions: Any) -> sa.Select:
        return sa.select(
            Permit.id, Permit.type, Permit.valid_from, Permit.valid_until, Permit.working_periods
        ).where(
            Permit.type.in_(_STATING_PERIODS),
            Permit.state == str(State.active),
            Permit.working_periods.is_not(None),
            now < Permit.valid_until,  # at valid_until the permit expires instead (G-12)
            *conditions,
        )

    def stopped(row: sa.Row[Any]) -> Violation | None:
        rule = get_workflow(row.type).working_hours_rule
        periods = permits.working_periods(row.working_periods)
        return working_hours.outside_working_time(row.valid_from, row.valid_until, periods, now, rule)

    def candidates(session: Session, limit: int) -> Sequence[uuid.UUID]:
        rows = session.execute(running().order_by(Permit.id))
        return [row.id for row in rows if stopped(row)][:limit]

    def act(session: Session, permit_id: uuid.UUID) -> bool:
        row = session.execute(running(Permit.id == permit_id).with_for_update(skip_locked=True)).first()
        if row is None or (violation := stopped(row)) is None:
            return False
        permits.suspend_as_system(
            session,
            permit_id,
            reason=f"作业时段结束：{violation.zh} / working period ended: {violation.en} ({violation.rule_id})",
            reason_code="working_period_ended",
        )
        return True

    return each_item(session_factory, RunReport("working_period_ends"), candidates, act)


# --- FZ-04: holiday proposals ---------------------------------------------------------------------


HOLIDAY_HORIZON = timedelta(days=90)  # FZ-04: the proposals regulators see ahead of time


def run_holiday_proposals(
    session_factory: SessionFactory, now: datetime, years: Sequence[int] = ()
) -> RunReport:
    """FZ-04: propose freezes for the holidays of the next 90 days, or of `years` (once per cluster)."""
    today = now.astimezone(SHANGHAI).date()
    spans = [(date(y, 1, 1), date(y, 12, 31)) for y in years] or [(today, today + HOLIDAY_HORIZON)]
    report = RunReport("holiday_proposals")
    for first, last in spans:
        with session_factory() as session, session.begin():
            if not cluster_lock(session, "holiday_proposals"):
                report.skipped += 1
                continue
            report.done += len(
                freezes.propose_holiday_freezes(session, principal=SYSTEM, first=first, last=last, now=now)
            )
    return report


# --- other areas' timed work ---------------------------------------------------------------------


def run_seal_checkpoints(session_factory: SessionFactory, now: datetime) -> RunReport:
    """AU-02: seal each scope's moved chains into its next checkpoint, each scope in its own transaction."""

    def act(session: Session, scope: str) -> bool:
        return (
            cluster_lock(session, f"seal:{scope}")
            and checkpoints.seal(session, scope=scope, now=now) is not None
        )

    return each_item(session_factory, RunReport("seal_checkpoints"), checkpoints.moved_scopes, act)


def run_silent_feeds(session_factory: SessionFactory, now: datetime) -> RunReport:
    """DC-03: alarm on the permits that rely on a plant feed silent past its interval (once per silence)."""
    report = RunReport("silent_feeds")
    with session_factory() as session, session.begin():
        if not cluster_lock(session, "silent_feeds"):
            report.skipped += 1
            return report
        report.done += len(integrations.check_silent_feeds(session, now))
    return report


def run_outbox(session_factory: SessionFactory, now: datetime) -> RunReport:
    """DC-04: deliver the due webhook outbox rows (the integration area claims, leases and retries each row)."""
    delivery = webhooks.deliver_due(session_factory, now)
    return RunReport("outbox", done=delivery.delivered, skipped=delivery.retrying, failed=delivery.failed)


def _purge(session_factory: SessionFactory, job: str, purge: Callable[[Session], int]) -> RunReport:
    """Housekeeping: one runner of the cluster deletes what has expired, in one transaction."""
    report = RunReport(job)
    with session_factory() as session, session.begin():
        if not cluster_lock(session, job):
            report.skipped += 1
            return report
        report.done += purge(session)
    return report


def run_purge_revocations(session_factory: SessionFactory, now: datetime) -> RunReport:
    """Forget revocations of tokens that have expired anyway (once per cluster)."""
    return _purge(
        session_factory, "purge_revocations", lambda s: auth_service.purge_expired_revocations(s, now)
    )


def run_purge_password_attempts(session_factory: SessionFactory, now: datetime) -> RunReport:
    """Forget password-attempt counts whose window has ended (one row per username ever tried otherwise)."""
    window = timedelta(minutes=current_app.config["PERMIT_CONFIG"].auth_failure_window_minutes)
    return _purge(
        session_factory,
        "purge_password_attempts",
        lambda s: auth_service.purge_ended_password_attempts(s, now, window),
    )


def run_purge_idempotency_records(session_factory: SessionFactory, now: datetime) -> RunReport:
    """Delete stored Idempotency-Key answers past their TTL (a retry after it is a new request anyway)."""
    ttl = timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
    return _purge(
        session_factory,
        "purge_idempotency_records",
        lambda s: purge_expired_idempotency_records(s, now, ttl),
    )


def run_purge_batch_keys(session_factory: SessionFactory, now: datetime) -> RunReport:
    """DC-05: forget the Idempotency-Keys of plant batches past their retention (the batches stay)."""
    return _purge(
        session_factory, "purge_batch_keys", lambda s: integrations.purge_expired_batch_keys(s, now=now)
    )
