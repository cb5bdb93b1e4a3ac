"""ORM models of high-risk jobs and consent reports, and the permits each one carries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from permit_service.db import Base, UUIDPk, utcnow
from permit_service.directory.models import Enterprise, PlantArea
from permit_service.permits.models import Permit


class HighRiskJob(UUIDPk, Base):
    """A Plan-27 job or a consent report: reported, consented or refused, confirmed on site, worked, closed."""

    __tablename__ = "high_risk_jobs"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"))
    area_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("plant_areas.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32), index=True)
    state: Mapped[str] = mapped_column(sa.String(24), index=True)
    version: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    risk_analysis: Mapped[str] = mapped_column(sa.Text, default="")
    planned_headcount: Mapped[int]
    crew: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # Why the regulator's consent is needed (HR-01, FZ-02, RG-02), fixed when the job is reported.
    grounds: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_by_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("people.id"))
    reported_at: Mapped[datetime | None] = mapped_column(index=True)
    reported_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("people.id"))
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("people.id"))
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("people.id"))
    confirmation_evidence: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    started_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    enterprise: Mapped[Enterprise] = relationship(lazy="joined")
    area: Mapped[PlantArea] = relationship(lazy="joined")
    permit_links: Mapped[list[HighRiskJobPermit]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="HighRiskJobPermit.attached_at"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic lock backs the ETag
    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ('leak_plugging', 'tank_cleaning', 'water_draining', 'unplanned_maintenance',"
            " 'consent_report')",
            name="kind",
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'reported', 'consented', 'refused', 'principal_confirmed', 'in_progress',"
            " 'closed', 'cancelled')",
            name="state",
        ),
        sa.CheckConstraint("ends_at > starts_at", name="window"),
        sa.CheckConstraint("planned_headcount >= 1", name="planned_headcount"),
        sa.Index("ix_high_risk_jobs_enterprise_created", "enterprise_id", "created_at", "id"),
    )


class HighRiskJobPermit(Base):
    """A permit carried by a job; a permit belongs to at most one job, for good."""

    __tablename__ = "high_risk_job_permits"

    permit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("permits.id"), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("high_risk_jobs.id"), index=True)
    attached_at: Mapped[datetime] = mapped_column(default=utcnow)
    attached_by_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("people.id"))

    job: Mapped[HighRiskJob] = relationship(back_populates="permit_links")
    permit: Mapped[Permit] = relationship(lazy="joined")
