"""Countersigning use cases (EX-01, RC-01): keep an enterprise's departments per type and tell the core at submission.

They flush, never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service.auth.principal import Principal
from permit_service.countersigning.models import EnterpriseCountersigning
from permit_service.db import advisory_xact_lock
from permit_service.directory.configured import replace_list
from permit_service.directory.models import Enterprise
from permit_service.permits.context import register_provider
from permit_service.permits.models import Permit
from workflows import get_workflow
from workflows.signatures import department_name
from workflows.states import State


def get_countersigning(
    session: Session, *, enterprise: Enterprise, permit_type: str, for_update: bool = False
) -> EnterpriseCountersigning:
    """The enterprise's departments for `permit_type`; never configured, the type's default unsaved at version 0.

    `for_update` serialises the writers of this list, also while it does not exist yet (no row to lock then).
    """
    if for_update:
        advisory_xact_lock(session, f"countersigning:{enterprise.id}:{permit_type}")
    found = session.scalar(
        sa.select(EnterpriseCountersigning).where(
            EnterpriseCountersigning.enterprise_id == enterprise.id,
            EnterpriseCountersigning.permit_type == permit_type,
        )
    )
    default = list(get_workflow(permit_type).signatures.default_departments)
    return found or EnterpriseCountersigning(
        enterprise_id=enterprise.id, permit_type=permit_type, departments=default, version=0, updated_at=None
    )


def view(countersigning: EnterpriseCountersigning) -> dict[str, Any]:
    """What the API answers beside the row: whether it is configured and the departments a submission gathers."""
    configured = tuple(countersigning.departments) if countersigning.version else None
    required = get_workflow(countersigning.permit_type).signatures.required_departments(configured)
    names = {code: department_name(code) for code in required}
    return {
        "configured": configured is not None,
        "required": [{"code": code, "zh": zh, "en": en} for code, (zh, en) in names.items()],
    }


def replace_departments(
    session: Session,
    *,
    principal: Principal,
    enterprise: Enterprise,
    countersigning: EnterpriseCountersigning,
    departments: Sequence[str],
) -> EnterpriseCountersigning:
    """Make the list `departments` (If-Match already checked); the change is an audit event, a no-op records nothing.
    Permits submitted before keep the departments fixed at their submission."""
    replace_list(
        session,
        principal=principal,
        enterprise=enterprise,
        row=countersigning,
        field="departments",
        wanted=list(departments),
        kind="countersigning.updated",
        subject_type="countersigning",
        data={"permit_type": countersigning.permit_type},
    )
    return countersigning


@register_provider(by_state=True)
def countersigning_context(session: Session, permit: Permit) -> dict[str, Any]:
    """Context provider (EX-01, RC-01): the enterprise's configured departments, where submission reads them.

    Only a draft of a countersigning type asks: every other load queries nothing.
    """
    if permit.state != State.draft or not get_workflow(permit.type).signatures.countersign_rule:
        return {}
    configured = session.scalar(
        sa.select(EnterpriseCountersigning.departments).where(
            EnterpriseCountersigning.enterprise_id == permit.enterprise_id,
            EnterpriseCountersigning.permit_type == permit.type,
        )
    )
    return {} if configured is None else {"departments_configured": tuple(configured)}
