"""ORM models of authentication: revoked tokens, password attempts and plant integration clients."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from permit_service.db import Base, UUIDPk, utcnow


class RevokedToken(Base):
    """A token revoked by logout; kept until it would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow)


class PasswordAttempts(Base):
    """Password attempts on one account (a username, whether or not anyone has it) since its window opened.

    Counted before the password is checked and cleared by a success, so `attempts` is the number of failures
    (and of checks still running) in the window; login and password change share it.
    """

    __tablename__ = "password_attempts"

    account: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    attempts: Mapped[int]
    window_started_at: Mapped[datetime]


class IntegrationClient(UUIDPk, Base):
    """A plant DCS / gas-detection / positioning portal scoped to one enterprise, or a regulator's platform scoped
    to one region and below (client credentials)."""

    __tablename__ = "integration_clients"

    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(200))
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    region_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("(enterprise_id IS NULL) <> (region_id IS NULL)", name="one_tenant"),
    )
