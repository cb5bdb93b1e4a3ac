"""ORM models of the enterprise checklists (SD-02) and of the confirmations a permit carries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from permit_service.db import Base, UUIDPk, utcnow


class EnterpriseChecklist(UUIDPk, Base):
    """One of an enterprise's checklists, `site` (十个要素) or `outsourcing` (外包作业八个必查): ordered items
    {code, text_zh, text_en}. The plan does not publish the items (rules.md §11): the enterprise_admin keeps them.
    An enterprise without a row for a kind has nothing of that kind to confirm. `version` is its ETag."""

    __tablename__ = "enterprise_checklists"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    items: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic lock backs the ETag
    __table_args__ = (
        sa.UniqueConstraint("enterprise_id", "kind"),
        sa.CheckConstraint("kind IN ('site', 'outsourcing')", name="kind"),
    )


class ChecklistConfirmation(Base):
    """An item of an enterprise checklist confirmed for one permit by a named person of the enterprise (SD-02)."""

    __tablename__ = "permit_checklist_confirmations"

    permit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("permits.id"), primary_key=True)
    checklist: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    confirmed_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("people.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
