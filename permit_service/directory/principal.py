"""HR-02: who holds the principal leader's role is on the enterprise's record with its regulator.

The regulator sets or changes it; the enterprise's administrator may too, and then the regulator is told at once
(the event goes to webhook subscribers like any other, and a notification lands in the regulator's queue). The
`principal` role follows the record: nobody hands it out through the people endpoints.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.audit import service as audit
from permit_service.auth.principal import Principal
from permit_service.directory.models import Enterprise, Person
from permit_service.errors import Conflict, ValidationProblem
from permit_service.regulators.models import RegulatorNotification

PRINCIPAL_ROLE = "principal"


def refuse_principal_role(before: list[str], after: list[str]) -> None:
    """HR-02: a change of people's roles may not give or take the principal's role (it follows the record)."""
    if (PRINCIPAL_ROLE in before) == (PRINCIPAL_ROLE in after):
        return
    raise Conflict(
        "主要负责人由企业在监管部门的备案记录确定，请通过 PUT /enterprises/{id}/principal 变更，不能作为角色分配",
        "The principal leader is on the enterprise's record with the regulator: change it with "
        "PUT /enterprises/{id}/principal, not by handing out the role",
        rule="HR-02",
        errors={"roles": ["principal 角色随主要负责人备案变更 / the principal role follows the record"]},
    )


def set_principal(
    session: Session, *, principal: Principal, enterprise: Enterprise, person_id: uuid.UUID, reason: str
) -> Enterprise:
    """Record who the enterprise's principal leader is; an enterprise admin's change notifies the regulator."""
    person = session.scalar(
        sa.select(Person)
        .where(Person.id == person_id, Person.enterprise_id == enterprise.id, Person.active.is_(True))
        .with_for_update()
    )
    if person is None:
        raise ValidationProblem(
            {"person_id": ["人员不存在或不属于本企业 / no such active person in the enterprise"]}
        )
    if enterprise.principal_id == person.id:
        raise Conflict(
            "此人已是备案的主要负责人", "This person is already the principal on record", rule="HR-02"
        )
    previous = (
        session.get(Person, enterprise.principal_id, with_for_update=True)
        if enterprise.principal_id
        else None
    )
    if previous is not None:
        previous.roles = [r for r in previous.roles if r != PRINCIPAL_ROLE]
    if PRINCIPAL_ROLE not in person.roles:
        person.roles = [*person.roles, PRINCIPAL_ROLE]
    now = clock.now()
    enterprise.principal_id, enterprise.principal_since = person.id, now
    by_enterprise = principal.enterprise_id is not None
    data = {
        "from": {"person_id": str(previous.id), "name": previous.name} if previous else None,
        "to": {"person_id": str(person.id), "name": person.name},
        "reason": reason,
        "set_by": "enterprise" if by_enterprise else "regulator",
    }
    if by_enterprise:
        session.add(
            RegulatorNotification(
                id=uuid.uuid4(),
                enterprise_id=enterprise.id,
                permit_id=None,
                rule="HR-02",
                reasons=["principal_changed"],
                enterprise_grade=enterprise.risk_grade,
                data=data,
                created_at=now,
            )
        )
    session.flush()
    audit.record(
        session,
        kind="enterprise.principal_changed",
        actor=principal,
        subject_type="enterprise",
        subject_id=enterprise.id,
        enterprise_id=enterprise.id,
        region_id=enterprise.region_id,
        data={**data, "regulator_notified": by_enterprise},
    )
    return enterprise
