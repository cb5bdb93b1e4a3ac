"""Regulators' platform clients: client credentials scoped to a region, to read its events (DC-04)."""

from __future__ import annotations

import secrets
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.audit import service as audit
from permit_service.auth.models import IntegrationClient
from permit_service.auth.passwords import hash_secret
from permit_service.auth.principal import Principal, region_scope
from permit_service.directory.models import Region
from permit_service.errors import NotFound
from permit_service.integrations import webhooks


def register(
    session: Session, *, principal: Principal, name: str, region_id: uuid.UUID | None
) -> tuple[IntegrationClient, str]:
    """A new platform client of the caller's region or one below it (404 elsewhere); returns it and its secret."""
    target = region_id or principal.region_id
    region = session.scalar(
        sa.select(Region).where(Region.id == target, region_scope(session, principal, Region.id))
    )
    if region is None:
        raise NotFound("地区不存在", "No such region")
    secret = secrets.token_urlsafe(32)
    client = IntegrationClient(
        id=uuid.uuid4(),
        client_id=f"reg-{region.code}-{secrets.token_hex(4)}",
        secret_hash=hash_secret(secret),
        name=name,
        region_id=region.id,
        created_at=clock.now(),
    )
    session.add(client)
    session.flush()
    _record(session, principal, "regulator_client.registered", client)
    return client, secret


def listing(session: Session, *, principal: Principal) -> list[IntegrationClient]:
    """The platform clients of the caller's region and below, oldest first."""
    return list(
        session.scalars(
            sa.select(IntegrationClient)
            .where(
                IntegrationClient.region_id.is_not(None),
                region_scope(session, principal, IntegrationClient.region_id),
            )
            .order_by(IntegrationClient.created_at, IntegrationClient.id)
        )
    )


def deactivate(session: Session, *, principal: Principal, client_id: uuid.UUID) -> None:
    """Stop a platform client: its tokens are refused at once and its subscriptions stop (rows stay on record)."""
    client = session.scalar(
        sa.select(IntegrationClient)
        .where(
            IntegrationClient.id == client_id,
            IntegrationClient.region_id.is_not(None),
            region_scope(session, principal, IntegrationClient.region_id),
        )
        .with_for_update()
    )
    if client is None:
        raise NotFound("客户端不存在", "No such client")
    if client.active:
        client.active = False
        session.flush()
        _record(session, principal, "regulator_client.deactivated", client)
        webhooks.deactivate_platform_subscriptions(session, principal=principal, client_id=client.id)


def _record(session: Session, principal: Principal, kind: str, client: IntegrationClient) -> None:
    audit.record(  # AU-01: who opened or closed which platform's access, when
        session,
        kind=kind,
        actor=principal,
        subject_type="integration_client",
        subject_id=client.id,
        region_id=client.region_id,
        data={"client_id": client.client_id, "name": client.name},
    )
