"""ORM models of events, hash-chained per subject, their chain heads and the sealed checkpoints (AU-01, AU-02)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from permit_service.db import Base, UUIDPk, utcnow

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Event(Base):
    """Who did what, when and where. Rows are only ever inserted (a database trigger refuses the rest)."""

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
    # The X-Request-ID of the request that caused it (none for the scheduler, and for 0.1.0's events).
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    chain: Mapped[str] = mapped_column(sa.String(64))
    # Position in the chain, from 1. The server default exists only so that 0.1.0's rows could get the column
    # (SQLite adds a NOT NULL column only with a default); the migration numbers them and no event keeps 0.
    seq: Mapped[int] = mapped_column(server_default=sa.text("0"))
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    __table_args__ = (
        sa.Index("ix_events_chain_id", "chain", "id"),
        sa.Index("ix_events_chain_seq", "chain", "seq", unique=True),
    )


class ChainHead(Base):
    """The latest hash of each chain; its row lock serialises appends to that one chain (one subject)."""

    __tablename__ = "event_chain_heads"

    chain: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_hash: Mapped[str] = mapped_column(sa.String(64))
    length: Mapped[int] = mapped_column(default=0)
    # The tenant of the chain's events (no foreign key: events carry it; heads are bookkeeping).
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)
    region_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    # How far the latest sealed checkpoint covers this chain; the sealer picks the heads that moved past it.
    sealed_length: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))


class Checkpoint(UUIDPk, Base):
    """A sealed checkpoint of one scope (an enterprise, a region, or the system): the chains that moved since
    the scope's previous checkpoint, at their heads, hashed together with the previous checkpoint's hash, so
    that each checkpoint vouches for every head of its scope (AU-02)."""

    __tablename__ = "audit_checkpoints"

    scope: Mapped[str] = mapped_column(sa.String(64))
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    region_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    seq: Mapped[int]
    created_at: Mapped[datetime]  # when it was sealed
    heads_root: Mapped[str] = mapped_column(sa.String(64))
    chains: Mapped[int]
    events: Mapped[int]
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    __table_args__ = (sa.UniqueConstraint("scope", "seq"),)


class CheckpointHead(Base):
    """One chain head a checkpoint seals: the chain had `length` events, the last one hashing to `hash`."""

    __tablename__ = "audit_checkpoint_heads"

    checkpoint_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("audit_checkpoints.id"), primary_key=True)
    chain: Mapped[str] = mapped_column(sa.String(64), primary_key=True, index=True)
    length: Mapped[int]
    hash: Mapped[str] = mapped_column(sa.String(64))
