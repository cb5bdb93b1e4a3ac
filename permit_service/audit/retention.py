"""Retention (AU-03): permits are kept at least a year and never hard-deleted; those past it can be archived."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service.auth.principal import Principal, enterprise_scope
from permit_service.permits.models import Permit
from workflows.states import TERMINAL

MIN_RETENTION_DAYS = 365  # AU-03: at least one year


def due_for_archiving(session: Session, principal: Principal, *, now: datetime, days: int) -> sa.Select:
    """Finished permits of the caller's enterprises untouched for `days` (at least a year), to paginate.

    Listing is all the service does: archiving copies them elsewhere, and nothing here deletes a row.
    """
    return sa.select(Permit).where(
        enterprise_scope(session, principal, Permit.enterprise_id),
        Permit.state.in_([state.value for state in TERMINAL]),
        Permit.updated_at < now - timedelta(days=max(days, MIN_RETENTION_DAYS)),
    )
