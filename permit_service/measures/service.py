"""Measure use cases (G-02): read a permit's lines and what approval still waits for, and confirm a line.

They flush, never commit.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from permit_service import clock
from permit_service.auth.principal import Principal
from permit_service.directory.service import NOT_ACTIVE_STAFF, active_staff
from permit_service.errors import Forbidden, NotFound, ValidationProblem
from permit_service.measures.lines import lines
from permit_service.permits import service as permits
from permit_service.permits.models import Permit
from workflows import measures
from workflows.rules import RuleViolation, Violation
from workflows.states import State

# After submission the answers are part of the signed permit; from approval on the confirmations are too (G-07).
_CONFIRMABLE = frozenset({State.submitted, State.countersigned})


def measures_view(permit: Permit) -> dict[str, Any]:
    """The permit's list version, every line with its answer, counts and confirmer, and the lines still open."""
    data = permits.permit_data(permit)
    return {
        "measure_list_version": permit.measure_list_version,
        "lines": lines(permit.type, permit.measure_list_version, permit.measures),
        "open": measures.open_lines(data),
    }


def _refuse(session: Session, permit: Permit, principal: Principal, zh: str, en: str) -> RuleViolation:
    return RuleViolation(
        Violation("G-02", zh, en), allowed_actions=permits.allowed_actions(session, permit, principal)
    )


def confirm(
    session: Session, *, principal: Principal, permit: Permit, code: str, confirmed_by: uuid.UUID
) -> Permit:
    """Record who confirmed one involved line of a submitted permit (loaded for update, If-Match checked), as an
    event. The confirmer is an active person of the permit's enterprise; the applicant records it, or the
    confirmer does so in person. A line confirmed again names its new confirmer, until approval."""
    if measures.list_of(permit.type, permit.measure_list_version) is None:
        raise _refuse(
            session,
            permit,
            principal,
            "该作业票按旧版措施办理，确认人已在填报时登记",
            "this permit was filed under the earlier practice: its confirmers were recorded when it was filed",
        )
    index = next((i for i, m in enumerate(permit.measures) if m["code"] == code), None)
    if index is None:
        raise NotFound("该作业票没有这条安全措施", f"The permit has no measure line {code}")
    if permit.state not in _CONFIRMABLE:
        raise _refuse(
            session,
            permit,
            principal,
            "安全措施在提交后、审批前逐项确认，审批后不能更改",
            "measures are confirmed after submission and before approval, and cannot change afterwards",
        )
    line = permit.measures[index]
    if not line["involved"]:
        raise _refuse(
            session,
            permit,
            principal,
            f"{code} 不涉及，无需确认",
            f"{code} is answered not involved: it needs no confirmer",
        )
    if principal.id not in (str(permit.applicant_id), str(confirmed_by)):
        raise Forbidden(
            "只有申请人或确认人本人可以登记确认",
            "Only the applicant or the confirmer in person records a confirmation",
        )
    if confirmed_by not in active_staff(session, permit.enterprise_id, [confirmed_by]):
        raise ValidationProblem({"confirmed_by": [NOT_ACTIVE_STAFF]})
    now = clock.now()
    previous = line.get("confirmed_by")
    stored = [dict(m) for m in permit.measures]
    stored[index] = {**line, "confirmed_by": str(confirmed_by), "confirmed_at": now.isoformat()}
    permit.measures = stored
    permit.updated_at = now
    flag_modified(permit, "measures")
    session.flush()
    permits.record_event(
        session,
        permit,
        principal,
        "permit.measure_confirmed",
        {
            "number": permit.number,
            "code": code,
            "confirmed_by": str(confirmed_by),
            "previous_confirmed_by": previous,
            "open": measures.open_lines(permits.permit_data(permit)),
        },
    )
    return permit
