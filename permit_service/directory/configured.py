"""An enterprise's configured lists (its SD-02 checklists, its EX-01/RC-01 countersigning departments): replacing one
is the same use case whatever the list holds."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.audit import service as audit
from permit_service.auth.principal import Principal
from permit_service.directory.models import Enterprise


def replace_list(
    session: Session,
    *,
    principal: Principal,
    enterprise: Enterprise,
    row: Any,
    field: str,
    wanted: list[Any],
    kind: str,
    subject_type: str,
    data: dict[str, Any],
) -> None:
    """Make `row.<field>` the list `wanted` (If-Match already checked). A row never saved (version 0) is added and
    starts at version 1; the change is an audit event with the list before (None: never configured) and after; an
    unchanged list records nothing."""
    current = getattr(row, field)
    if row.version and current == wanted:
        return
    before = list(current) if row.version else None
    setattr(row, field, wanted)
    row.updated_at = clock.now()
    if not row.version:
        row.version = None  # a new row: the version counter starts it at 1
        session.add(row)
    session.flush()
    audit.record(
        session,
        kind=kind,
        actor=principal,
        subject_type=subject_type,
        subject_id=row.id,
        enterprise_id=enterprise.id,
        region_id=enterprise.region_id,
        data={**data, "from": before, "to": wanted},
    )
