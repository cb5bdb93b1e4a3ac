"""Freeze use cases (FZ-01..04): declare, change, cancel, propose from the holiday calendar, check a window,
correct the calendar; and the context provider that tells the workflow which freezes a permit falls in.

Windows are half-open: a freeze covers [starts_at, ends_at) and overlaps a permit's [valid_from, valid_until)
when `freeze.starts_at < permit.valid_until and permit.valid_from < freeze.ends_at` (FZ-04).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service.audit import service as audit
from permit_service.auth.principal import Principal, enterprise_scope, region_subtree
from permit_service.calendar import HolidayPeriod, get_calendar, region_lineage
from permit_service.db import PerGeneration
from permit_service.directory.models import Enterprise, PlantArea, Region
from permit_service.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationProblem
from permit_service.freezes.models import CalendarOverride, Freeze
from permit_service.permits.context import generation_of, register_provider
from permit_service.permits.models import Permit
from workflows import WORKFLOWS
from workflows import model as wf

_EDITABLE = ("region_id", "starts_at", "ends_at", "reason", "types", "mode")


# --- who sees and who manages ---------------------------------------------------------------------


def _visible_regions(session: Session, principal: Principal) -> set[uuid.UUID] | None:
    """Regions whose freezes the caller sees (None: all). A freeze covers its region and everything below."""
    if principal.kind == "system":
        return None
    if principal.is_regulator and principal.region_id is not None:
        # A district regulator also sees the city's freezes: they cover its district.
        return region_subtree(session, principal.region_id) | set(
            region_lineage(session, principal.region_id)
        )
    if principal.enterprise_id is not None:
        return set(region_lineage(session, home_region(session, principal)))
    return set()


def home_region(session: Session, principal: Principal) -> uuid.UUID | None:
    """The region whose calendar the caller lives by: a regulator's own, an enterprise's (None: the system)."""
    if principal.region_id is not None:
        return principal.region_id
    if principal.enterprise_id is not None:
        return session.scalar(sa.select(Enterprise.region_id).where(Enterprise.id == principal.enterprise_id))
    return None


def _visible(session: Session, principal: Principal, region_col: Any) -> sa.ColumnElement[bool]:
    regions = _visible_regions(session, principal)
    return sa.true() if regions is None else region_col.in_(regions)


def _freeze_scope(session: Session, principal: Principal) -> sa.ColumnElement[bool]:
    clause = _visible(session, principal, Freeze.region_id)
    if principal.kind != "system" and not principal.is_regulator:
        # Proposals are the regulators' drafts; enterprises and plant portals see declared freezes.
        clause = sa.and_(clause, Freeze.state != "proposed")
    return clause


def _require_manager(session: Session, principal: Principal, region_id: uuid.UUID) -> None:
    """FZ-01: a district regulator manages its district (and zones below), the city regulator the whole city."""
    if session.get(Region, region_id) is None:
        raise ValidationProblem({"region_id": ["地区不存在 / no such region"]})
    if principal.region_id is None or region_id not in region_subtree(session, principal.region_id):
        raise Forbidden(
            "只能为本辖区及其下级地区宣布或修改冻结",
            "You declare and change freezes only for your region and the regions below it",
            rule="FZ-01",
        )


def _record(
    session: Session, freeze: Freeze, principal: Principal, kind: str, data: Mapping[str, Any]
) -> None:
    audit.record(
        session,
        kind=kind,
        actor=principal,
        subject_type="freeze",
        subject_id=freeze.id,
        region_id=freeze.region_id,
        data={**summary(freeze), **data},
    )


def summary(freeze: Freeze) -> dict[str, Any]:
    """What events say about a freeze."""
    return {
        "region_id": str(freeze.region_id),
        "starts_at": freeze.starts_at,
        "ends_at": freeze.ends_at,
        "mode": freeze.mode,
        "types": list(freeze.types),
        "reason": freeze.reason,
        "state": freeze.state,
    }


# --- reading --------------------------------------------------------------------------------------


def _contains_type(permit_type: str) -> sa.ColumnElement[bool]:
    # `types` is a JSON list of identifiers; matching the quoted name works the same on PostgreSQL and SQLite.
    escaped = permit_type.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return sa.cast(Freeze.types, sa.String).like(f'%"{escaped}"%', escape="\\")


def list_freezes(session: Session, *, principal: Principal, filters: Mapping[str, Any]) -> sa.Select:
    """The freezes the caller sees matching `filters`, as a statement to paginate."""
    stmt = sa.select(Freeze).where(_freeze_scope(session, principal))
    if filters.get("region_id") is not None:
        stmt = stmt.where(Freeze.region_id == filters["region_id"])
    if filters.get("active_at") is not None:
        stmt = stmt.where(Freeze.starts_at <= filters["active_at"], filters["active_at"] < Freeze.ends_at)
    if filters.get("type") is not None:
        stmt = stmt.where(_contains_type(filters["type"]))
    if filters.get("state") is not None:
        stmt = stmt.where(Freeze.state == filters["state"])
    return stmt


def get_freeze(
    session: Session, *, principal: Principal, freeze_id: uuid.UUID, for_update: bool = False
) -> Freeze:
    """A freeze the caller sees (404 otherwise, also for another district's freeze)."""
    stmt = sa.select(Freeze).where(Freeze.id == freeze_id, _freeze_scope(session, principal))
    if for_update:
        stmt = stmt.with_for_update()
    freeze = session.scalar(stmt)
    if freeze is None:
        raise NotFound("冻结不存在", "No such freeze")
    return freeze


def covering_freezes(
    session: Session,
    *,
    region_id: uuid.UUID | None,
    valid_from: datetime,
    valid_until: datetime,
    permit_type: str | None = None,
    states: Iterable[str] = ("declared",),
) -> list[Freeze]:
    """Freezes of the region or an ancestor whose window overlaps [valid_from, valid_until) (FZ-04)."""
    stmt = (
        sa.select(Freeze)
        .where(
            Freeze.region_id.in_(region_lineage(session, region_id)),
            Freeze.state.in_(list(states)),
            Freeze.starts_at < valid_until,
            valid_from < Freeze.ends_at,
        )
        .order_by(Freeze.starts_at, Freeze.id)
    )
    return [f for f in session.scalars(stmt) if permit_type is None or permit_type in f.types]


def as_core(freeze: Freeze) -> wf.Freeze:
    """The freeze as the workflow core reads it."""
    return wf.Freeze(
        id=str(freeze.id),
        mode=freeze.mode,
        types=frozenset(freeze.types),
        starts_at=freeze.starts_at,
        ends_at=freeze.ends_at,
        reason=freeze.reason,
    )


@register_provider
def freeze_context(session: Session, permit: Permit) -> dict[str, Any]:
    """Context provider: the declared freezes overlapping the permit's window in its enterprise's region (FZ-02/04)."""
    # session.get: build_context reads the same enterprise, and finds it in the identity map.
    enterprise = session.get(Enterprise, permit.enterprise_id)
    region_id = enterprise.region_id if enterprise else None
    generation = generation_of(permit)
    if generation is None:
        found = covering_freezes(
            session,
            region_id=region_id,
            valid_from=permit.valid_from,
            valid_until=permit.valid_until,
            permit_type=permit.type,
        )
        return {"freezes": tuple(as_core(f) for f in found)}
    return {
        "freezes": tuple(
            f
            for f in declared_at(session, region_id, generation)
            if f.starts_at < permit.valid_until and permit.valid_from < f.ends_at and permit.type in f.types
        )
    }


# The declared freezes of a region and its ancestors per database, as read at one context generation (0027):
# every change to freezes moves it, so a copy read at the generation a permit was read with is current for it.
_declared: PerGeneration[tuple[wf.Freeze, ...]] = PerGeneration()


def declared_at(session: Session, region_id: uuid.UUID | None, generation: int) -> tuple[wf.Freeze, ...]:
    """The declared freezes of the region and its ancestors at the context `generation`, in covering_freezes'
    order: the process's copy read at it, or read now and kept."""

    def read() -> tuple[wf.Freeze, ...]:
        stmt = (
            sa.select(Freeze)
            .where(Freeze.region_id.in_(region_lineage(session, region_id)), Freeze.state == "declared")
            .order_by(Freeze.starts_at, Freeze.id)
        )
        return tuple(as_core(f) for f in session.scalars(stmt))

    return _declared.get(session, generation, region_id, read)


# --- what a frozen window means -------------------------------------------------------------------

_STRICT = (
    "FZ-02",
    "冻结期间一律暂停：此时段内该类作业不予审批、不得作业",
    "strict freeze: nothing of this type is approved or active in this window",
)
_CONSENT = ("HR-01", "须向属地监管部门报备并取得同意", "report to the local regulator and obtain its consent")
_PRINCIPAL = ("HR-02", "须由企业主要负责人现场审批", "approved on site by the enterprise's principal leader")
_HOT_WORK_UP = (
    "HW-03",
    "动火作业升级一级管理（二级→一级→特级）",
    "hot work one grade higher (level 2 → level 1 → special)",
)


def requirements(mode: str | None, permit_type: str) -> list[dict[str, str]]:
    """FZ-02: what a strict or upgrade freeze requires of a permit of this type."""
    if mode == "strict":
        found = [_STRICT]
    elif mode == "upgrade":
        found = [_CONSENT, _PRINCIPAL, *([_HOT_WORK_UP] if permit_type == "hot_work" else [])]
    else:
        found = []
    return [{"rule": rule, "message_zh": zh, "message_en": en} for rule, zh, en in found]


def check_window(
    session: Session,
    *,
    principal: Principal,
    area_id: uuid.UUID,
    permit_type: str,
    valid_from: datetime,
    valid_until: datetime,
) -> dict[str, Any]:
    """Whether a permit window in an area is frozen for a type, by which freezes and with what consequence."""
    area = session.scalar(
        sa.select(PlantArea).where(
            PlantArea.id == area_id, enterprise_scope(session, principal, PlantArea.enterprise_id)
        )
    )
    if area is None:
        raise NotFound("区域不存在", "No such area")
    region_id = session.scalar(sa.select(Enterprise.region_id).where(Enterprise.id == area.enterprise_id))
    found = covering_freezes(
        session, region_id=region_id, valid_from=valid_from, valid_until=valid_until, permit_type=permit_type
    )
    modes = {f.mode for f in found}
    mode = "strict" if "strict" in modes else "upgrade" if modes else None
    zh, en = {
        None: ("该时段未被冻结", "this window is not frozen"),
        "strict": (
            "该时段处于冻结期，此类作业一律暂停",
            "this window is frozen: this operation type is suspended (strict)",
        ),
        "upgrade": (
            "该时段处于冻结期，确需作业的须严格升级管理",
            "this window is frozen: work that must run is upgraded",
        ),
    }[mode]
    return {
        "frozen": bool(found),
        "mode": mode,
        "freezes": found,
        "requirements": requirements(mode, permit_type),
        "message_zh": zh,
        "message_en": en,
        # Holiday freezes are proposed and HW-03 judged from this calendar: say when it is only computed.
        "calendar_notice": get_calendar(session, region_id).window_notice(valid_from, valid_until),
    }


# --- declaring, changing, cancelling --------------------------------------------------------------


def _future_end(ends_at: datetime, now: datetime) -> None:
    if ends_at <= now:
        raise ValidationProblem({"ends_at": ["须晚于当前时间 / must be in the future"]})


def declare_freeze(
    session: Session, *, principal: Principal, data: Mapping[str, Any], now: datetime
) -> Freeze:
    """FZ-01: a regulator declares a freeze for its region (in force at once, or from `starts_at`)."""
    _require_manager(session, principal, data["region_id"])
    _future_end(data["ends_at"], now)
    freeze = Freeze(
        id=uuid.uuid4(),
        region_id=data["region_id"],
        starts_at=data["starts_at"],
        ends_at=data["ends_at"],
        reason=data["reason"],
        types=sorted(set(data["types"])),
        mode=data["mode"],
        state="declared",
        source="manual",
        created_by=principal.id,
        created_at=now,
        updated_at=now,
        declared_by=principal.id,
        declared_at=now,
    )
    session.add(freeze)
    session.flush()
    _record(session, freeze, principal, "freeze.declared", {})
    return freeze


def _locked(
    session: Session, principal: Principal, freeze_id: uuid.UUID, expected_version: int | None
) -> Freeze:
    freeze = get_freeze(session, principal=principal, freeze_id=freeze_id, for_update=True)
    _require_manager(session, principal, freeze.region_id)
    if expected_version is not None and freeze.version != expected_version:
        raise PreconditionFailed(current_etag=f'"{freeze.version}"')
    return freeze


def _still_open(freeze: Freeze, now: datetime) -> None:
    if freeze.state == "cancelled":
        raise Conflict("冻结已取消", "The freeze is cancelled", rule="FZ-01")
    if freeze.ends_at <= now:
        raise Conflict("冻结已结束", "The freeze is over", rule="FZ-01")


def update_freeze(
    session: Session,
    *,
    principal: Principal,
    freeze_id: uuid.UUID,
    changes: Mapping[str, Any],
    expected_version: int,
    now: datetime,
) -> Freeze:
    """Change a freeze before it starts; once started it has acted (FZ-03) and can only be cancelled."""
    freeze = _locked(session, principal, freeze_id, expected_version)
    _still_open(freeze, now)
    if freeze.starts_at <= now:
        raise Conflict(
            "冻结已开始生效，不能修改；如需调整请取消后重新宣布",
            "The freeze has started and cannot be changed; cancel it and declare a new one",
            rule="FZ-03",
        )
    if "region_id" in changes:
        _require_manager(session, principal, changes["region_id"])
    before = summary(freeze)
    for name in _EDITABLE:
        if name in changes:
            value = sorted(set(changes[name])) if name == "types" else changes[name]
            setattr(freeze, name, value)
    if freeze.ends_at <= freeze.starts_at:
        raise ValidationProblem({"ends_at": ["须晚于 starts_at / must be after starts_at"]})
    _future_end(freeze.ends_at, now)
    freeze.updated_at = now
    session.flush()
    _record(session, freeze, principal, "freeze.changed", {"fields": sorted(changes), "before": before})
    return freeze


def declare_proposed(
    session: Session,
    *,
    principal: Principal,
    freeze_id: uuid.UUID,
    expected_version: int | None,
    now: datetime,
) -> Freeze:
    """Declare a proposed freeze (from the holiday calendar) as it stands; edit it first if needed."""
    freeze = _locked(session, principal, freeze_id, expected_version)
    _still_open(freeze, now)
    if freeze.state != "proposed":
        raise Conflict("只有建议状态的冻结可以宣布", "Only a proposed freeze can be declared", rule="FZ-01")
    freeze.state = "declared"
    freeze.declared_by, freeze.declared_at, freeze.updated_at = principal.id, now, now
    session.flush()
    _record(session, freeze, principal, "freeze.declared", {"from": "proposed"})
    return freeze


def cancel_freeze(
    session: Session,
    *,
    principal: Principal,
    freeze_id: uuid.UUID,
    reason: str,
    expected_version: int | None,
    now: datetime,
) -> Freeze:
    """Cancel a proposed or declared freeze; what its start suspended does not resume by itself (FZ-03)."""
    freeze = _locked(session, principal, freeze_id, expected_version)
    _still_open(freeze, now)
    previous = freeze.state
    freeze.state = "cancelled"
    freeze.cancelled_by, freeze.cancelled_at, freeze.cancel_reason = principal.id, now, reason
    freeze.updated_at = now
    session.flush()
    _record(session, freeze, principal, "freeze.cancelled", {"from": previous, "cancel_reason": reason})
    return freeze


# --- proposals from the holiday calendar (FZ-04) --------------------------------------------------


def _holiday_reason(period: HolidayPeriod) -> str:
    if period.provisional:
        return f"{period.name_zh}假期（推算，待确认）/ {period.name_en} holiday (provisional)"
    return f"{period.name_zh}假期 / {period.name_en} holiday"


def _follow(
    session: Session, freeze: Freeze, period: HolidayPeriod, principal: Principal, now: datetime
) -> bool:
    """Move an untouched provisional proposal to the period as the calendar now has it; False if nothing moved."""
    starts_at, ends_at = period.window()
    reason = _holiday_reason(period)
    if (freeze.starts_at, freeze.ends_at, freeze.reason, freeze.provisional) == (
        starts_at,
        ends_at,
        reason,
        period.provisional,
    ):
        return False
    before = summary(freeze)
    freeze.starts_at, freeze.ends_at, freeze.reason = starts_at, ends_at, reason
    freeze.provisional, freeze.source_key, freeze.updated_at = period.provisional, period.key, now
    session.flush()
    _record(session, freeze, principal, "freeze.changed", {"fields": ["window"], "before": before})
    return True


def propose_holiday_freezes(
    session: Session, *, principal: Principal, first: date, last: date, now: datetime, mode: str = "upgrade"
) -> list[Freeze]:
    """Propose a city-wide freeze of every special operation for each holiday of [first, last] not yet over,
    from the city's calendar (confirmed, official or provisional, FZ-04).

    Idempotent: a period overlapping a holiday freeze already proposed for the city (whatever became of it) is
    not proposed again; a provisional proposal no one has acted on follows its period when the year changes.
    """
    created = []
    for city in session.scalars(sa.select(Region).where(Region.level == "city").order_by(Region.code)):
        periods = [
            p for p in get_calendar(session, city.id).holidays_between(first, last) if p.window()[1] > now
        ]
        for period in periods:
            starts_at, ends_at = period.window()
            known = session.scalars(
                sa.select(Freeze)
                .where(
                    Freeze.region_id == city.id,
                    Freeze.source == "holiday_calendar",
                    sa.or_(
                        Freeze.source_key == period.key,
                        sa.and_(Freeze.starts_at < ends_at, starts_at < Freeze.ends_at),
                    ),
                )
                .with_for_update()
            ).all()
            if known:
                followed = [f for f in known if f.state == "proposed" and f.provisional]
                if len(known) == 1 and followed and _follow(session, followed[0], period, principal, now):
                    created.append(followed[0])
                continue
            freeze = Freeze(
                id=uuid.uuid4(),
                region_id=city.id,
                starts_at=starts_at,
                ends_at=ends_at,
                reason=_holiday_reason(period),
                types=sorted(WORKFLOWS),
                mode=mode,
                state="proposed",
                source="holiday_calendar",
                source_key=period.key,
                provisional=period.provisional,
                created_by=principal.id,
                created_at=now,
                updated_at=now,
            )
            session.add(freeze)
            session.flush()
            _record(
                session,
                freeze,
                principal,
                "freeze.proposed",
                {"holiday": period.name_en, "provisional": period.provisional},
            )
            created.append(freeze)
    return created


# --- calendar corrections (FZ-04, HW-03) ----------------------------------------------------------


def list_overrides(
    session: Session, *, principal: Principal, region_id: uuid.UUID | None, year: int | None
) -> list[CalendarOverride]:
    """The calendar corrections the caller sees (its region, the regions above and, for regulators, below)."""
    stmt = sa.select(CalendarOverride).where(_visible(session, principal, CalendarOverride.region_id))
    if region_id is not None:
        stmt = stmt.where(CalendarOverride.region_id == region_id)
    if year is not None:
        stmt = stmt.where(
            CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31)
        )
    return list(session.scalars(stmt.order_by(CalendarOverride.day, CalendarOverride.region_id)))


def set_override(
    session: Session,
    *,
    principal: Principal,
    region_id: uuid.UUID,
    day: date,
    rest_day: bool,
    note: str,
    now: datetime,
) -> tuple[CalendarOverride, bool]:
    """Say whether `day` is a rest day in a region (its own districts follow unless they say otherwise)."""
    _require_manager(session, principal, region_id)
    override = session.scalar(
        sa.select(CalendarOverride)
        .where(CalendarOverride.region_id == region_id, CalendarOverride.day == day)
        .with_for_update()
    )
    created = override is None
    if override is None:
        override = CalendarOverride(id=uuid.uuid4(), region_id=region_id, day=day, created_at=now)
        session.add(override)
    override.rest_day, override.note, override.created_by = rest_day, note, principal.id
    session.flush()
    audit.record(
        session,
        kind="calendar.override_set",
        actor=principal,
        subject_type="calendar_override",
        subject_id=override.id,
        region_id=region_id,
        data={"day": day.isoformat(), "rest_day": rest_day, "note": note},
    )
    return override, created


def remove_override(session: Session, *, principal: Principal, region_id: uuid.UUID, day: date) -> None:
    """Drop a correction: the statutory calendar (or the region above's correction) applies again."""
    override = session.scalar(
        sa.select(CalendarOverride)
        .where(
            CalendarOverride.region_id == region_id,
            CalendarOverride.day == day,
            _visible(session, principal, CalendarOverride.region_id),
        )
        .with_for_update()
    )
    if override is None:
        raise NotFound("该日没有日历调整", "No calendar correction for that day")
    _require_manager(session, principal, region_id)
    audit.record(
        session,
        kind="calendar.override_removed",
        actor=principal,
        subject_type="calendar_override",
        subject_id=override.id,
        region_id=region_id,
        data={"day": day.isoformat(), "rest_day": override.rest_day, "note": override.note},
    )
    session.delete(override)
    session.flush()
