"""Presence use cases: check people and tools in and out of a permit's risk area under its headcount limit.

The headcount of HC-01 counts every person registered inside the *area* (crew of every permit there,
visitors and inspectors, HC-05); the limit is the permit's: 3 on a running unit with flammable,
explosive or toxic material, the number a regulator consented to (HC-02), and never more than the
area's own `max_headcount`. Check-ins lock the permit and then the area row, so two people checking
in at once can never both take the last place (HC-06).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.api.fields import display_tz
from permit_service.audit import service as audit
from permit_service.auth.principal import Principal, enterprise_scope
from permit_service.directory.models import Person, PlantArea
from permit_service.errors import Conflict, NotFound, ValidationProblem
from permit_service.permits import service as permits
from permit_service.permits.context import register_provider
from permit_service.permits.crew import crew_of
from permit_service.permits.models import Permit
from permit_service.presence.models import HeadcountRaise, PresenceEntry
from workflows.states import TERMINAL, State

HC01_LIMIT = 3  # Plan 23: at most three people in the risk area of work on a running hazardous unit
PEOPLE_KINDS = ("crew", "visitor", "inspector")
# Who registers people in and out: the guardian above all (CS-05), the work's leaders, and plant gates.
REGISTRAR_ROLES = ("guardian", "work_leader", "shift_leader", "safety_dept", "integration")
RAISE_REQUESTER_ROLES = ("applicant", "work_leader", "safety_dept", "principal", "enterprise_admin")


@dataclass(frozen=True)
class Limit:
    """The most people the permit's risk area may hold, and the rule that sets it (None: no limit)."""

    number: int | None
    rule: str | None


def hc01_applies(area: PlantArea) -> bool:
    """HC-01: a running unit with flammable, explosive or (highly) toxic material."""
    return area.running_unit and (area.flammable or area.explosive or area.toxic)


def headcount_limit(session: Session, permit: Permit) -> Limit:
    """The permit's limit: 3 (HC-01) or the consented raise (HC-02), capped by the area's max_headcount."""
    area = permit.area
    candidates: list[tuple[int, str]] = []
    if hc01_applies(area):
        raised = session.scalar(
            sa.select(sa.func.max(HeadcountRaise.consented_number)).where(
                HeadcountRaise.permit_id == permit.id, HeadcountRaise.status == "consented"
            )
        )
        candidates.append((raised, "HC-02") if raised else (HC01_LIMIT, "HC-01"))
    if area.max_headcount is not None:
        candidates.append((area.max_headcount, "HC-01"))
    if not candidates:
        return Limit(None, None)
    number, rule = min(candidates, key=lambda c: c[0])
    return Limit(number, rule)


def _open_people() -> sa.ColumnElement[bool]:
    return sa.and_(PresenceEntry.checked_out_at.is_(None), PresenceEntry.kind.in_(PEOPLE_KINDS))


def people_inside_area(session: Session, area_id: uuid.UUID) -> int:
    """People registered inside an area, across every permit there (HC-01, HC-05)."""
    return (
        session.scalar(sa.select(sa.func.count()).where(PresenceEntry.area_id == area_id, _open_people()))
        or 0
    )


def people_inside(session: Session, permit_id: uuid.UUID) -> int:
    """People registered inside for one permit (CS-05: must be 0 before it completes)."""
    return (
        session.scalar(sa.select(sa.func.count()).where(PresenceEntry.permit_id == permit_id, _open_people()))
        or 0
    )


def tools_inside(session: Session, permit_id: uuid.UUID) -> int:
    """Tools registered inside for one permit and not yet out, by quantity (CS-05: must be 0 before it completes)."""
    return (
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(PresenceEntry.tool_quantity), 0)).where(
                PresenceEntry.permit_id == permit_id,
                PresenceEntry.kind == "tool",
                PresenceEntry.checked_out_at.is_(None),
            )
        )
        or 0
    )


def _presence_read(_session: Session, permit: Permit) -> tuple[sa.Select, dict[str, Any]]:
    guardians = _guardians_to_ask(permit)
    params: dict[str, Any] = {"permit_id": permit.id}
    if guardians:
        params["guardians"] = guardians
    return _presence_counts(bool(guardians)), params


def _presence_answer(permit: Permit, row: Sequence[Any]) -> dict[str, Any]:
    # HC-04: the guardians have checked in and all checked out again
    guardian_left = bool(_guardians_to_ask(permit)) and row[2] > 0 and not row[3]
    return {"people_inside": row[0], "tools_inside": row[1], "guardian_left": guardian_left}


@register_provider(
    deferred=("people_inside", "tools_inside", "guardian_left"), locked=(_presence_read, _presence_answer)
)
def _presence_fields(session: Session, permit: Permit) -> dict[str, Any]:
    # CS-05: the confined-space register of people and tools decides whether the permit may complete.
    # Every load of every permit comes here (1,000 expiries are 1,000 loads): one statement answers the counts
    # and, for a suspended permit, whether its guardians have all checked out again (HC-04).
    return _presence_answer(permit, session.execute(*_presence_read(session, permit)).one())


@functools.cache
def _presence_counts(with_guardians: bool) -> sa.Select:
    """The permit's (parameter `permit_id`) people and tools inside and, `with_guardians` (parameter `guardians`),
    how often its guardians checked in and how many are inside. Built once per shape (issue 14)."""
    open_ = PresenceEntry.checked_out_at.is_(None)
    columns = [
        sa.func.coalesce(
            sa.func.sum(sa.case((sa.and_(open_, PresenceEntry.kind.in_(PEOPLE_KINDS)), 1), else_=0)), 0
        ),
        sa.func.coalesce(
            sa.func.sum(
                sa.case((sa.and_(open_, PresenceEntry.kind == "tool"), PresenceEntry.tool_quantity), else_=0)
            ),
            0,
        ),
    ]
    if with_guardians:
        guardian = PresenceEntry.person_id.in_(sa.bindparam("guardians", expanding=True))
        columns += [
            sa.func.coalesce(sa.func.sum(sa.case((guardian, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((sa.and_(guardian, open_), 1), else_=0)), 0),
        ]
    return sa.select(*columns).where(PresenceEntry.permit_id == sa.bindparam("permit_id"))


def _guardians_to_ask(permit: Permit) -> list[uuid.UUID]:
    """The guardians whose check-out HC-04 asks about: only a suspended permit's (only a resumption reads it)."""
    if permit.state != State.suspended:
        return []
    return [c.person_id for c in crew_of(permit) if c.role == "guardian"]


def _lock_area(session: Session, area_id: uuid.UUID) -> None:
    # Every check-in into the area queues here: the count below and the insert are one critical section (HC-06).
    session.execute(sa.select(PlantArea.id).where(PlantArea.id == area_id).with_for_update())


def _person(
    session: Session, permit: Permit, *, person_id: uuid.UUID | None, card_id: str | None
) -> Person | None:
    """The person named by id or card: staff of the permit's enterprise or a regulator (inspector)."""
    by = Person.id == person_id if person_id is not None else Person.positioning_card_id == card_id
    return session.scalar(
        sa.select(Person).where(
            by,
            Person.active.is_(True),
            sa.or_(Person.enterprise_id == permit.enterprise_id, Person.region_id.is_not(None)),
        )
    )


def _crew_roles(permit: Permit, person_id: uuid.UUID) -> set[str]:
    return {c.role for c in crew_of(permit) if c.person_id == person_id}


def _require_workable(permit: Permit, *, guardian: bool = False) -> None:
    # HC-04: the guardian comes back before a stopped permit may resume, so they check in while it is suspended.
    if permit.state == State.active or (guardian and permit.state == State.suspended):
        return
    if permit.state == State.suspended:
        raise Conflict(
            "作业已暂停，不得进入作业区域", "The work is suspended: nobody enters the risk area", rule="G-08"
        )
    raise Conflict(
        f"作业票处于“{permit.state}”状态，未在作业中，不得进入",
        f"The permit is {permit.state}, not at work: nobody enters (no approval, no work)",
        rule="SD-01",
    )


def _require_registrar(permit: Permit, principal: Principal) -> None:
    # CS-05: in a confined space the permit's guardian keeps the register (or the plant's access gate does).
    if permit.type != "confined_space" or principal.kind == "integration":
        return
    if principal.kind == "person" and "guardian" in _crew_roles(permit, uuid.UUID(principal.id)):
        return
    raise Conflict(
        "受限空间出入登记须由本作业票的监护人进行",
        "In a confined space the permit's guardian registers people and tools in and out",
        rule="CS-05",
    )


def _already_inside(session: Session, *, person_id: uuid.UUID | None, card_id: str | None) -> bool:
    who = PresenceEntry.person_id == person_id if person_id is not None else PresenceEntry.card_id == card_id
    return session.scalar(sa.select(sa.func.count()).where(who, _open_people())) > 0


def _new_entry(permit: Permit, principal: Principal, **fields: Any) -> PresenceEntry:
    now = clock.now()
    return PresenceEntry(
        id=uuid.uuid4(),
        permit_id=permit.id,
        area_id=permit.area_id,
        enterprise_id=permit.enterprise_id,
        checked_in_at=now,
        checked_in_by=principal.id,
        created_at=now,
        **fields,
    )


def _person_entry(
    session: Session, permit: Permit, data: Mapping[str, Any], principal: Principal
) -> PresenceEntry:
    """Resolve who enters: a named person (crew, visitor, inspector) or an external visitor with a card."""
    person = _person(session, permit, person_id=data.get("person_id"), card_id=data.get("card_id"))
    if person is None and data.get("person_id") is not None:
        raise ValidationProblem({"person_id": ["人员不存在 / no such person"]})
    if person is None:
        if not data.get("visitor"):
            raise ValidationProblem(
                {
                    "card_id": [
                        "定位卡未登记，外来访客须填写 visitor / unknown card: give visitor details for an outsider"
                    ]
                }
            )
        visitor = data["visitor"]
        entry = _new_entry(
            permit, principal, kind="visitor", card_id=data["card_id"], name=visitor["name"],
            organisation=visitor.get("organisation", ""),
        )  # fmt: skip
    else:
        if not person.positioning_card_id:
            raise Conflict(
                "进入生产区域的人员须佩戴定位卡：该人员未登记定位卡",
                "Everyone entering carries a positioning card: this person has none on record",
                rule="HC-03",
            )
        roles = _crew_roles(permit, person.id)
        if permit.type == "confined_space" and roles == {"guardian"}:
            raise Conflict(
                "监护人须在受限空间外监护，不得登记进入",
                "The guardian stays outside the confined space",
                rule="CS-05",
            )
        kind = "crew" if roles else ("inspector" if person.region_id is not None else "visitor")
        entry = _new_entry(
            permit, principal, kind=kind, person_id=person.id, card_id=person.positioning_card_id,
            name=person.name, organisation="",
        )  # fmt: skip
    if _already_inside(
        session, person_id=entry.person_id, card_id=entry.card_id if entry.person_id is None else None
    ):
        raise Conflict("该人员已登记在内", "This person is already registered inside", rule="HC-03")
    return entry


def check_in(
    session: Session, *, principal: Principal, permit_id: uuid.UUID, data: Mapping[str, Any]
) -> tuple[PresenceEntry, Permit]:
    """Register a person (by id or card; visitors and inspectors count too, HC-05) or a tool into the risk area."""
    permit = permits.get_permit(session, principal=principal, permit_id=permit_id, for_update=True)
    _require_registrar(permit, principal)
    if data.get("tool"):
        _require_workable(permit)
        tool = data["tool"]
        entry = _new_entry(
            permit,
            principal,
            kind="tool",
            name=tool["name"],
            organisation="",
            tool_quantity=tool.get("quantity", 1),
        )
    else:
        _lock_area(session, permit.area_id)
        entry = _person_entry(session, permit, data, principal)
        returning = entry.person_id is not None and "guardian" in _crew_roles(permit, entry.person_id)
        _require_workable(permit, guardian=returning)
        limit = headcount_limit(session, permit)
        inside = people_inside_area(session, permit.area_id)
        if limit.number is not None and inside + 1 > limit.number:
            rule = "HC-05" if entry.kind in ("visitor", "inspector") else limit.rule
            raise Conflict(
                f"作业区域已有{inside}人，达到上限{limit.number}人，不得再进入",
                f"The risk area already holds {inside} of at most {limit.number} people: nobody else may enter",
                rule=rule,
                limit=limit.number,
                people_inside=inside,
            )
    session.add(entry)
    session.flush()
    _record(session, permit, principal, "presence.checked_in", entry)
    return entry, permit


def check_out(
    session: Session, *, principal: Principal, permit_id: uuid.UUID, data: Mapping[str, Any]
) -> tuple[PresenceEntry, Permit]:
    """Register a person or tool out of the risk area (by entry, person or card)."""
    permit = permits.get_permit(session, principal=principal, permit_id=permit_id, for_update=True)
    _require_registrar(permit, principal)
    stmt = sa.select(PresenceEntry).where(
        PresenceEntry.permit_id == permit.id, PresenceEntry.checked_out_at.is_(None)
    )
    if data.get("entry_id") is not None:
        stmt = stmt.where(PresenceEntry.id == data["entry_id"])
    elif data.get("person_id") is not None:
        stmt = stmt.where(PresenceEntry.person_id == data["person_id"])
    else:
        stmt = stmt.where(PresenceEntry.card_id == data["card_id"], PresenceEntry.kind != "tool")
    entry = session.scalar(stmt)
    if entry is None:
        raise NotFound("该人员或工具未登记在内", "Nobody and nothing by that reference is registered inside")
    entry.checked_out_at = clock.now()
    entry.checked_out_by = principal.id
    session.flush()
    _record(session, permit, principal, "presence.checked_out", entry)
    return entry, permit


def presence(
    session: Session, *, principal: Principal, permit_id: uuid.UUID, include_left: bool = False
) -> dict[str, Any]:
    """The permit's register: who and what is inside, the area's headcount and the limit."""
    permit = permits.get_permit(session, principal=principal, permit_id=permit_id)
    stmt = sa.select(PresenceEntry).where(PresenceEntry.permit_id == permit.id)
    if not include_left:
        stmt = stmt.where(PresenceEntry.checked_out_at.is_(None))
    entries = list(session.scalars(stmt.order_by(PresenceEntry.checked_in_at, PresenceEntry.id)))
    limit = headcount_limit(session, permit)
    return {
        "permit_id": permit.id,
        "area_id": permit.area_id,
        "people_inside": sum(1 for e in entries if e.kind != "tool" and e.checked_out_at is None),
        "tools_inside": sum(
            e.tool_quantity or 0 for e in entries if e.kind == "tool" and e.checked_out_at is None
        ),
        "area_people_inside": people_inside_area(session, permit.area_id),
        "limit": limit.number,
        "limit_rule": limit.rule,
        "entries": entries,
    }


def _record(session: Session, permit: Permit, principal: Principal, kind: str, entry: PresenceEntry) -> None:
    audit.record(
        session,
        kind=kind,
        actor=principal,
        subject_type="permit",
        subject_id=permit.id,
        enterprise_id=permit.enterprise_id,
        data={
            "number": permit.number,
            "entry_id": entry.id,
            "entry_kind": entry.kind,
            "person_id": entry.person_id,
            "card_id": entry.card_id,
            "name": entry.name,
            "quantity": entry.tool_quantity,
            "area_id": permit.area_id,
            "people_inside": people_inside(session, permit.id),
            "area_people_inside": people_inside_area(session, permit.area_id),
        },
    )


# --- HC-02: raising the limit -------------------------------------------------------------------


def request_raise(
    session: Session, *, principal: Principal, permit_id: uuid.UUID, data: Mapping[str, Any]
) -> HeadcountRaise:
    """The enterprise asks its regulator to allow more than 3 people, citing an expert demonstration (HC-02)."""
    permit = permits.get_permit(session, principal=principal, permit_id=permit_id, for_update=True)
    if permit.state in {str(s) for s in TERMINAL}:
        raise Conflict(f"作业票已{permit.state}", f"The permit is {permit.state}", rule="STATE")
    if not hc01_applies(permit.area):
        raise Conflict(
            "该区域不适用3人上限，无需论证提高",
            "The 3-person limit does not apply to this area: there is nothing to raise",
            rule="HC-02",
        )
    if data["demonstrated_on"] > clock.now().astimezone(display_tz()).date():
        raise ValidationProblem({"demonstrated_on": ["论证日期不能晚于今天 / cannot be in the future"]})
    pending = session.scalar(
        sa.select(sa.func.count()).where(
            HeadcountRaise.permit_id == permit.id, HeadcountRaise.status == "requested"
        )
    )
    if pending:
        raise Conflict(
            "已有待审批的人数提高申请", "A raise request for this permit is already pending", rule="HC-02"
        )
    now = clock.now()
    raise_ = HeadcountRaise(
        id=uuid.uuid4(),
        permit_id=permit.id,
        enterprise_id=permit.enterprise_id,
        requested_number=data["number"],
        expert_report_ref=data["expert_report_ref"],
        experts=list(data["experts"]),
        demonstrated_on=data["demonstrated_on"],
        reason=data.get("reason", ""),
        status="requested",
        requested_by=principal.id,
        created_at=now,
    )
    session.add(raise_)
    session.flush()
    _record_raise(session, permit, principal, "headcount.raise_requested", raise_)
    return raise_


def get_raise(
    session: Session, *, principal: Principal, raise_id: uuid.UUID, for_update: bool = False
) -> HeadcountRaise:
    """A raise request the caller may see: its enterprise's staff, or the regulators above it (404 otherwise)."""
    stmt = sa.select(HeadcountRaise).where(
        HeadcountRaise.id == raise_id, enterprise_scope(session, principal, HeadcountRaise.enterprise_id)
    )
    if for_update:
        stmt = stmt.with_for_update()
    found = session.scalar(stmt)
    if found is None:
        raise NotFound("人数提高申请不存在", "No such headcount raise request")
    return found


def list_raises(session: Session, *, principal: Principal, filters: Mapping[str, Any]) -> sa.Select:
    """Raise requests the caller may see, as a statement to paginate."""
    stmt = sa.select(HeadcountRaise).where(enterprise_scope(session, principal, HeadcountRaise.enterprise_id))
    for name in ("status", "permit_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(HeadcountRaise, name) == filters[name])
    return stmt


def decide_raise(
    session: Session,
    *,
    principal: Principal,
    raise_id: uuid.UUID,
    consent: bool,
    number: int | None = None,
    reason: str | None = None,
) -> HeadcountRaise:
    """The regulator of the enterprise's district (or the city) consents to a stated number, or refuses (HC-02)."""
    raise_ = get_raise(session, principal=principal, raise_id=raise_id, for_update=True)
    if raise_.status != "requested":
        raise Conflict(f"该申请已{raise_.status}", f"This request was already {raise_.status}", rule="HC-02")
    if consent:
        granted = number if number is not None else raise_.requested_number
        if not HC01_LIMIT < granted <= raise_.requested_number:
            raise ValidationProblem(
                {
                    "number": [
                        f"须在 4 到 {raise_.requested_number} 之间 / must be 4 to {raise_.requested_number}"
                    ]
                }
            )
        raise_.consented_number = granted
    raise_.status = "consented" if consent else "refused"
    raise_.decided_by = principal.id
    raise_.decided_at = clock.now()
    raise_.decision_reason = reason
    session.flush()
    permit = session.get(Permit, raise_.permit_id)
    assert permit is not None  # the foreign key guarantees it
    kind = "headcount.raise_consented" if consent else "headcount.raise_refused"
    _record_raise(session, permit, principal, kind, raise_)
    return raise_


def _record_raise(
    session: Session, permit: Permit, principal: Principal, kind: str, raise_: HeadcountRaise
) -> None:
    audit.record(
        session,
        kind=kind,
        actor=principal,
        subject_type="permit",
        subject_id=permit.id,
        enterprise_id=permit.enterprise_id,
        data={
            "number": permit.number,
            "raise_id": raise_.id,
            "requested_number": raise_.requested_number,
            "consented_number": raise_.consented_number,
            "expert_report_ref": raise_.expert_report_ref,
            "experts": raise_.experts,
            "demonstrated_on": raise_.demonstrated_on.isoformat(),
            "reason": raise_.decision_reason or raise_.reason,
        },
    )
