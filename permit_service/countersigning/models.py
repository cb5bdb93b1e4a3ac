"""ORM model of an enterprise's countersigning departments per permit type (EX-01, RC-01)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from permit_service.db import Base, UUIDPk, utcnow


class EnterpriseCountersigning(UUIDPk, Base):
    """The departments (codes of workflows.vocabulary.DEPARTMENT_NAMES) that countersign an enterprise's permits of
    one type, kept by its enterprise_admin. Without a row the type's default applies. `version` is its ETag."""

    __tablename__ = "enterprise_countersigning"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"))
    permit_type: Mapped[str] = mapped_column(sa.String(32))
    departments: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic lock backs the ETag
    __table_args__ = (
        sa.UniqueConstraint("enterprise_id", "permit_type"),
        sa.CheckConstraint("permit_type IN ('excavation', 'road_closure')", name="permit_type"),
    )
