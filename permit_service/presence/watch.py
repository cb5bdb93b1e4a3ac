"""HC-04 at the register: the guardian leaving the risk area stops the work at once ("无监护不作业").

A guardian's check-out from an active permit, with no other guardian of the permit still registered inside,
suspends the permit through the workflow as the system and raises an alarm; both are events, so plant portals
hear of them by webhook like any other (DC-04). Positioning drives the same rule from its side
(integrations.service).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.integrations import service as integrations
from permit_service.integrations.models import Alarm
from permit_service.permits.crew import crew_of
from permit_service.permits.models import Permit
from permit_service.presence.models import PresenceEntry
from workflows.states import State


def guardian_checked_out(session: Session, permit: Permit, entry: PresenceEntry) -> Alarm | None:
    """If `entry` was the permit's last guardian inside, stop the active work and raise the alarm (HC-04)."""
    guardians = {c.person_id for c in crew_of(permit) if c.role == "guardian"}
    if permit.state != State.active or entry.person_id not in guardians:
        return None
    still_inside = session.scalar(
        sa.select(sa.func.count()).where(
            PresenceEntry.permit_id == permit.id,
            PresenceEntry.person_id.in_(guardians),
            PresenceEntry.checked_out_at.is_(None),
        )
    )
    if still_inside:
        return None
    zh = f"监护人{entry.name}已登记离开作业区域（无监护不作业）"
    en = f"the guardian {entry.name} checked out of the risk area (no guardian, no work)"
    integrations.suspend(session, permit, reason=f"HC-04: {zh} / {en}", code="guardian_absent")
    return integrations.raise_alarm(
        session,
        enterprise_id=permit.enterprise_id,
        kind="guardian_absent",
        rule="HC-04",
        zh=f"作业票{permit.number}：{zh}",
        en=f"Permit {permit.number}: {en}",
        permit=permit,
        area_id=permit.area_id,
        raised_at=clock.now(),
        data={"entry_id": entry.id, "person_id": entry.person_id},
    )
