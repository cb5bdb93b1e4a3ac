"""ORM models of presence: the register of people and tools in a risk area, and headcount raises (HC-02)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from permit_service.db import Base, UUIDPk, utcnow

ENTRY_KINDS = ("crew", "visitor", "inspector", "tool")
RAISE_STATUSES = ("requested", "consented", "refused")


class PresenceEntry(UUIDPk, Base):
    """One person or tool registered into a permit's risk area; open while `checked_out_at` is null (CS-05)."""

    __tablename__ = "presence_entries"

    permit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("permits.id"), index=True)
    area_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("plant_areas.id"))
    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    person_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("people.id"), index=True)
    card_id: Mapped[str | None] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    organisation: Mapped[str] = mapped_column(sa.String(200), default="")
    tool_quantity: Mapped[int | None] = mapped_column(sa.Integer)
    checked_in_at: Mapped[datetime]
    checked_in_by: Mapped[str] = mapped_column(sa.String(64))
    checked_out_at: Mapped[datetime | None]
    checked_out_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("kind IN ('crew', 'visitor', 'inspector', 'tool')", name="kind"),
        # The headcount of an area is counted on every check-in (HC-06): keep that count an index scan.
        sa.Index("ix_presence_entries_area_open", "area_id", "checked_out_at"),
    )


class HeadcountRaise(UUIDPk, Base):
    """A request to allow more than 3 people, backed by an expert demonstration; the regulator decides (HC-02)."""

    __tablename__ = "headcount_raises"

    permit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("permits.id"), index=True)
    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    requested_number: Mapped[int]
    consented_number: Mapped[int | None]
    expert_report_ref: Mapped[str] = mapped_column(sa.String(200))
    experts: Mapped[list[str]] = mapped_column(sa.JSON)
    demonstrated_on: Mapped[date] = mapped_column(sa.Date)
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="requested", index=True)
    requested_by: Mapped[str] = mapped_column(sa.String(64))
    decided_by: Mapped[str | None] = mapped_column(sa.String(64))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (
        sa.CheckConstraint("status IN ('requested', 'consented', 'refused')", name="status"),
        sa.CheckConstraint("requested_number > 3", name="more_than_three"),
    )
