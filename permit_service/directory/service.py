"""Directory use cases: register and change plant areas and people of an enterprise, each one an audit event."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import flag_modified

from permit_service import clock
from permit_service.audit import service as audit
from permit_service.auth.passwords import hash_secret
from permit_service.auth.principal import Principal, enterprise_scope
from permit_service.directory.models import Certificate, Enterprise, Person, PlantArea
from permit_service.directory.principal import refuse_principal_role
from permit_service.errors import Conflict, NotFound

AREA_FIELDS = (
    "code",
    "name",
    "running_unit",
    "flammable",
    "explosive",
    "toxic",
    "fire_explosion_area",
    "max_headcount",
    "boundary",
    "major_hazard",
    "dike_code",
    "media",
)
PERSON_FIELDS = ("name", "active", "positioning_card_id", "phone", "departments")


def _record(
    session: Session, *, principal: Principal, enterprise: Enterprise, kind: str, subject: Any, data: dict
) -> None:
    audit.record(
        session,
        kind=kind,
        actor=principal,
        subject_type=kind.split(".")[0],
        subject_id=subject.id,
        enterprise_id=enterprise.id,
        region_id=enterprise.region_id,
        data=data,
    )


def _changes(obj: Any, changes: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Apply the fields that differ; returns {field: {"from": old, "to": new}} for the audit event."""
    applied: dict[str, dict[str, Any]] = {}
    for name in names:
        if name in changes and getattr(obj, name) != changes[name]:
            applied[name] = {"from": getattr(obj, name), "to": changes[name]}
            setattr(obj, name, changes[name])
    return applied


# --- plant areas -------------------------------------------------------------------------------


def get_area(
    session: Session, *, principal: Principal, area_id: uuid.UUID, for_update: bool = False
) -> PlantArea:
    """A plant area the caller may see (404 otherwise); `for_update` locks it for a change."""
    stmt = sa.select(PlantArea).where(
        PlantArea.id == area_id, enterprise_scope(session, principal, PlantArea.enterprise_id)
    )
    area = session.scalar(stmt.with_for_update() if for_update else stmt)
    if area is None:
        raise NotFound("区域不存在", "No such plant area")
    return area


def _code_taken(
    session: Session, *, enterprise_id: uuid.UUID, code: str, other_than: uuid.UUID | None
) -> bool:
    stmt = sa.select(PlantArea.id).where(PlantArea.enterprise_id == enterprise_id, PlantArea.code == code)
    if other_than is not None:
        stmt = stmt.where(PlantArea.id != other_than)
    return session.scalar(stmt) is not None


def _refuse_taken_code(
    session: Session, *, enterprise_id: uuid.UUID, code: str, other_than: uuid.UUID | None
) -> None:
    if _code_taken(session, enterprise_id=enterprise_id, code=code, other_than=other_than):
        raise Conflict(
            "本企业已有该编号的区域",
            "The enterprise already has an area with this code",
            errors={"code": ["编号已被使用 / the code is taken"]},
        )


def create_area(
    session: Session, *, principal: Principal, enterprise: Enterprise, data: Mapping[str, Any]
) -> PlantArea:
    """Register a plant area of `enterprise` (the caller's, checked by the view)."""
    _refuse_taken_code(session, enterprise_id=enterprise.id, code=data["code"], other_than=None)
    area = PlantArea(enterprise_id=enterprise.id, **{name: data[name] for name in AREA_FIELDS})
    session.add(area)
    session.flush()
    _record(
        session,
        principal=principal,
        enterprise=enterprise,
        kind="area.created",
        subject=area,
        data={name: data[name] for name in AREA_FIELDS},
    )
    return area


def update_area(
    session: Session, *, principal: Principal, area: PlantArea, changes: Mapping[str, Any]
) -> PlantArea:
    """Change a plant area (already loaded for update and If-Match checked); a no-op records nothing."""
    if "code" in changes:
        _refuse_taken_code(
            session, enterprise_id=area.enterprise_id, code=changes["code"], other_than=area.id
        )
    applied = _changes(area, changes, AREA_FIELDS)
    if applied:
        session.flush()
        enterprise = session.get_one(Enterprise, area.enterprise_id)
        _record(
            session,
            principal=principal,
            enterprise=enterprise,
            kind="area.updated",
            subject=area,
            data={"changes": applied},
        )
    return area


# --- people ------------------------------------------------------------------------------------


def people_of(enterprise: Enterprise, *, active: bool | None = None) -> sa.Select:
    """The people of an enterprise (with certificates), as a statement to paginate."""
    stmt = (
        sa.select(Person)
        .where(Person.enterprise_id == enterprise.id)
        .options(selectinload(Person.certificates))
    )
    return stmt if active is None else stmt.where(Person.active.is_(active))


NOT_ACTIVE_STAFF = "人员不存在或不属于本企业 / no such active person in your enterprise"


def active_staff(session: Session, enterprise_id: uuid.UUID, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` who are active people of the enterprise: the only people its records may name."""
    return set(
        session.scalars(
            sa.select(Person.id).where(
                Person.id.in_(set(ids)), Person.enterprise_id == enterprise_id, Person.active.is_(True)
            )
        )
    )


def get_person(
    session: Session, *, principal: Principal, person_id: uuid.UUID, for_update: bool = False
) -> Person:
    """A person of an enterprise the caller may see (404 otherwise, and for regulators' own accounts)."""
    stmt = (
        sa.select(Person)
        .where(Person.id == person_id, enterprise_scope(session, principal, Person.enterprise_id))
        .options(selectinload(Person.certificates))
    )
    person = session.scalar(stmt.with_for_update(of=Person) if for_update else stmt)
    if person is None:
        raise NotFound("人员不存在", "No such person")
    return person


def _refuse_taken(
    session: Session,
    *,
    person_id: uuid.UUID | None,
    username: str | None = None,
    card: str | None = None,
    certificates: Sequence[Mapping[str, Any]] = (),
) -> None:
    """409 naming every unique value (username, positioning card, certificate) someone else already holds."""
    taken: dict[str, list[str]] = {}
    others = Person.id != person_id if person_id is not None else sa.true()
    if username is not None and session.scalar(sa.select(Person.id).where(Person.username == username)):
        taken["username"] = ["用户名已被使用 / the username is taken"]
    if card is not None and session.scalar(
        sa.select(Person.id).where(Person.positioning_card_id == card, others)
    ):
        taken["positioning_card_id"] = ["定位卡已分配给他人 / the card is assigned to someone else"]
    for index, cert in enumerate(certificates):
        holder = session.scalar(
            sa.select(Certificate.person_id).where(
                Certificate.kind == cert["kind"], Certificate.number == cert["number"]
            )
        )
        if holder is not None and holder != person_id:
            taken[f"certificates.{index}.number"] = [
                "该证书编号已登记给他人 / this certificate is registered to someone else"
            ]
    if taken:
        raise Conflict("唯一字段已被占用", "A unique value is already in use", errors=taken)


def create_person(
    session: Session, *, principal: Principal, enterprise: Enterprise, data: Mapping[str, Any]
) -> Person:
    """Register a person of `enterprise` with a first password (the caller's enterprise, checked by the view)."""
    refuse_principal_role([], data["roles"])
    _refuse_taken(
        session,
        person_id=None,
        username=data["username"],
        card=data["positioning_card_id"],
        certificates=data["certificates"],
    )
    person = Person(
        enterprise_id=enterprise.id,
        username=data["username"],
        name=data["name"],
        password_hash=hash_secret(data["password"]),
        roles=list(data["roles"]),
        positioning_card_id=data["positioning_card_id"],
        phone=data["phone"],
        departments=list(data["departments"]),
        created_at=clock.now(),
        certificates=[Certificate(**cert) for cert in data["certificates"]],
    )
    session.add(person)
    session.flush()
    _record(
        session,
        principal=principal,
        enterprise=enterprise,
        kind="person.created",
        subject=person,
        data={
            "username": person.username,
            "name": person.name,
            "roles": person.roles,
            "positioning_card_id": person.positioning_card_id,
            "departments": person.departments,
            "certificates": data["certificates"],
        },
    )
    return person


def _replace_certificates(person: Person, wanted: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Make the person's certificates `wanted`, matched on (kind, number) so a kept one keeps its row."""
    before = {(c.kind, c.number): c for c in person.certificates}
    after = {(c["kind"], c["number"]): c for c in wanted}
    old = [
        {"kind": c.kind, "number": c.number, "expires_on": c.expires_on, "issued_by": c.issued_by}
        for c in person.certificates
    ]
    changed = False
    for key, cert in list(before.items()):
        if key not in after:
            person.certificates.remove(cert)
            changed = True
        elif (cert.expires_on, cert.issued_by) != (after[key]["expires_on"], after[key]["issued_by"]):
            cert.expires_on, cert.issued_by = after[key]["expires_on"], after[key]["issued_by"]
            changed = True
    for key, cert in after.items():
        if key not in before:
            person.certificates.append(Certificate(**cert))
            changed = True
    return {"from": old, "to": wanted} if changed else None


def _refuse_self_lockout(person: Person, changes: Mapping[str, Any]) -> None:
    # An administrator who disables themselves or drops their own admin role may leave the enterprise with
    # nobody able to manage its people; another administrator has to do it.
    drops_admin = "roles" in changes and "enterprise_admin" in person.roles
    drops_admin = drops_admin and "enterprise_admin" not in changes["roles"]
    if changes.get("active") is False or drops_admin:
        raise Conflict(
            "不能停用自己或撤销自己的管理员角色，请由另一位管理员操作",
            "You cannot disable yourself or drop your own admin role; another administrator must do it",
        )


def update_person(
    session: Session, *, principal: Principal, person: Person, changes: Mapping[str, Any]
) -> Person:
    """Change roles, activity, card, contact or certificates (already loaded for update, If-Match checked)."""
    if principal.id == str(person.id):
        _refuse_self_lockout(person, changes)
    if "roles" in changes:
        refuse_principal_role(person.roles, changes["roles"])
    _refuse_taken(
        session,
        person_id=person.id,
        card=changes.get("positioning_card_id"),
        certificates=changes.get("certificates") or [],
    )
    applied = _changes(person, {k: v for k, v in changes.items() if k != "roles"}, PERSON_FIELDS)
    if "roles" in changes and sorted(changes["roles"]) != sorted(person.roles):
        applied["roles"] = {"from": person.roles, "to": changes["roles"]}
        person.roles = list(changes["roles"])
    if "certificates" in changes:
        certificates = _replace_certificates(person, changes["certificates"])
        if certificates is not None:
            applied["certificates"] = certificates
            # Certificates are rows of their own: touching the person's row makes its version (the ETag)
            # move with them.
            flag_modified(person, "roles")
    if applied:
        session.flush()
        enterprise = session.get_one(Enterprise, person.enterprise_id)
        _record(
            session,
            principal=principal,
            enterprise=enterprise,
            kind="person.updated",
            subject=person,
            data={"changes": applied},
        )
    return person
