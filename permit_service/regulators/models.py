"""ORM models of the regulator's side: the history of enterprise risk grades and notifications to regulators."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from permit_service.db import Base, UUIDPk, utcnow
from permit_service.directory.models import Enterprise
from permit_service.permits.models import Permit


class EnterpriseRiskGrade(UUIDPk, Base):
    """One grading of an enterprise by a regulator, with its reason (RG-01). Rows are only ever inserted."""

    __tablename__ = "enterprise_risk_grades"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"))
    grade: Mapped[str] = mapped_column(sa.String(10))
    previous_grade: Mapped[str] = mapped_column(sa.String(10))
    reason: Mapped[str] = mapped_column(sa.Text)
    set_by_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("grade IN ('red', 'orange', 'yellow', 'blue')", name="grade"),
        sa.Index("ix_enterprise_risk_grades_enterprise_created", "enterprise_id", "created_at", "id"),
    )


class RegulatorNotification(UUIDPk, Base):
    """What the regulator must be told: a permit (RG-02 orange: special grade, level 1 or high-risk job), or a
    change of the enterprise's principal leader made by the enterprise itself (HR-02)."""

    __tablename__ = "regulator_notifications"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"))
    # Null for a notice about the enterprise itself (HR-02: its principal leader changed).
    permit_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("permits.id"), unique=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("high_risk_jobs.id"))
    rule: Mapped[str] = mapped_column(sa.String(16))
    reasons: Mapped[list[str]] = mapped_column(sa.JSON)
    enterprise_grade: Mapped[str] = mapped_column(sa.String(10))
    data: Mapped[dict[str, Any] | None] = mapped_column(
        sa.JSON
    )  # what changed, for a notice without a permit
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    enterprise: Mapped[Enterprise] = relationship(lazy="joined")
    permit: Mapped[Permit | None] = relationship(lazy="joined")

    __table_args__ = (
        sa.Index("ix_regulator_notifications_enterprise_created", "enterprise_id", "created_at", "id"),
    )
