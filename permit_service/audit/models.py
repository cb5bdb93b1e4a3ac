"""ORM model of events: append-only and hash-chained per enterprise or region (AU-01, AU-02)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from permit_service.db import Base, utcnow

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Event(Base):
    """Who did what, when and where. Rows are only ever inserted."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(sa.String(64), index=True)
    actor_id: Mapped[str] = mapped_column(sa.String(64))
    actor_roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    region_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    subject_type: Mapped[str] = mapped_column(sa.String(32))
    subject_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    chain: Mapped[str] = mapped_column(sa.String(64))
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    __table_args__ = (sa.Index("ix_events_chain_id", "chain", "id"),)


class ChainHead(Base):
    """The latest hash of each chain; locking its row serialises appends to that chain."""

    __tablename__ = "event_chain_heads"

    chain: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_hash: Mapped[str] = mapped_column(sa.String(64))
    length: Mapped[int] = mapped_column(default=0)
