"""ORM models of freezes (FZ-01..04) and of the regulators' adjustments to the holiday calendar."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from permit_service.db import Base, UUIDPk, utcnow

FREEZE_MODES = ("strict", "upgrade")
FREEZE_STATES = ("proposed", "declared", "cancelled")


class Freeze(UUIDPk, Base):
    """A freeze of special operations in a region over [starts_at, ends_at); `version` is its ETag."""

    __tablename__ = "freezes"

    region_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    types: Mapped[list[str]] = mapped_column(sa.JSON)
    mode: Mapped[str] = mapped_column(sa.String(8))
    state: Mapped[str] = mapped_column(sa.String(10), index=True)
    source: Mapped[str] = mapped_column(sa.String(16), default="manual")
    # Identifies a proposal from the holiday calendar so that proposing twice adds nothing.
    source_key: Mapped[str | None] = mapped_column(sa.String(64))
    # A proposal from a computed holiday schedule no regulator has confirmed yet (FZ-04).
    provisional: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    declared_by: Mapped[str | None] = mapped_column(sa.String(64))
    declared_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(sa.String(64))
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    # Set once the scheduler has suspended what was running at the start (FZ-03): it acts once.
    applied_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic lock backs the ETag
    __table_args__ = (
        sa.UniqueConstraint("region_id", "source_key"),
        sa.CheckConstraint("ends_at > starts_at", name="window"),
        sa.CheckConstraint("mode IN ('strict', 'upgrade')", name="mode"),
        sa.CheckConstraint("state IN ('proposed', 'declared', 'cancelled')", name="state"),
        sa.CheckConstraint("source IN ('manual', 'holiday_calendar')", name="source"),
    )


class CalendarOverride(UUIDPk, Base):
    """A regulator's correction of the holiday calendar for one day in its region (FZ-04, HW-03)."""

    __tablename__ = "calendar_overrides"

    region_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    day: Mapped[date] = mapped_column(sa.Date)
    rest_day: Mapped[bool]
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (sa.UniqueConstraint("region_id", "day"),)


class CalendarYear(UUIDPk, Base):
    """A year's holidays and make-up working days as the State Council announced them, confirmed for a city by
    its regulator: used over every package (FZ-04, HW-03)."""

    __tablename__ = "calendar_years"

    region_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    year: Mapped[int]
    # [{"first": "2027-02-05", "last": "2027-02-11", "name_zh": "春节", "name_en": "Spring Festival"}, ...]
    periods: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON)
    workdays: Mapped[list[str]] = mapped_column(sa.JSON)  # ISO dates of the make-up working days (调休上班)
    notice: Mapped[str] = mapped_column(sa.String(200), default="")
    confirmed_by: Mapped[str] = mapped_column(sa.String(64))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic lock backs the ETag
    __table_args__ = (
        sa.UniqueConstraint("region_id", "year"),
        sa.CheckConstraint("year BETWEEN 2000 AND 2100", name="year"),
    )
