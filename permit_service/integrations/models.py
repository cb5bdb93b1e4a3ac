"""ORM models of plant integration: feeds, detectors, readings, positioning, alarms, batches and the webhook outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from permit_service.audit.models import BigId
from permit_service.db import Base, UUIDPk, utcnow

FEED_KINDS = ("gas", "positioning")
GAS_UNITS = ("%vol", "%LEL", "ppm", "mg/m3")
PLANT_ALARM_KINDS = ("gas", "fire", "leak", "evacuation", "equipment", "other")


class Feed(UUIDPk, Base):
    """A stream of plant data (gas detection or positioning) that is expected at least every interval (DC-03)."""

    __tablename__ = "feeds"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    kind: Mapped[str] = mapped_column(sa.String(16))
    interval_minutes: Mapped[int | None] = mapped_column(sa.Integer)
    last_data_at: Mapped[datetime | None]
    silence_alarmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("enterprise_id", "code"),
        sa.CheckConstraint("kind IN ('gas', 'positioning')", name="kind"),
    )


class FeedArea(Base):
    """An area a feed covers: permits in it rely on the feed."""

    __tablename__ = "feed_areas"

    feed_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("feeds.id"), primary_key=True)
    area_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("plant_areas.id"), primary_key=True, index=True)


class Detector(UUIDPk, Base):
    """A fixed gas detector in a plant area, reading one gas in one unit."""

    __tablename__ = "detectors"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(64))
    area_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("plant_areas.id"), index=True)
    gas: Mapped[str] = mapped_column(sa.String(16))
    unit: Mapped[str] = mapped_column(sa.String(8))
    feed_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("feeds.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("enterprise_id", "code"),)


class IngestBatch(UUIDPk, Base):
    """An accepted push and its answer, under the caller's Idempotency-Key: a repeat is answered, not applied (DC-05).

    The row stays as the provenance of what the push stored; its key is cleared once the retention ends
    (`INGEST_KEY_RETENTION_DAYS`), after which the same key is a new batch.
    """

    __tablename__ = "ingest_batches"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    client_id: Mapped[str] = mapped_column(sa.String(64))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    item_count: Mapped[int]
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(index=True)  # the purge of expired keys scans by age

    # NULL keys (expired) never collide: both PostgreSQL and SQLite treat NULLs as distinct here.
    __table_args__ = (sa.UniqueConstraint("client_id", "idempotency_key"),)


class GasReadingRecord(Base):
    """One pushed gas reading, as given and normalised (% vol for flammables and O2, mg/m3 for toxics).

    Its batch, enterprise, detector and area are named without foreign keys (0026: a check per row cost a batch of
    500 more database time than everything else it does): the batch's transaction resolved each one, and a trigger
    on each of those tables refuses to delete a row that readings name (AU-03).
    """

    __tablename__ = "gas_readings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(index=True)
    enterprise_id: Mapped[uuid.UUID]
    detector_id: Mapped[uuid.UUID]
    area_id: Mapped[uuid.UUID]
    gas: Mapped[str] = mapped_column(sa.String(16))
    value: Mapped[float] = mapped_column(sa.Float)
    unit: Mapped[str] = mapped_column(sa.String(8))
    value_normalised: Mapped[float] = mapped_column(sa.Float)
    unit_normalised: Mapped[str] = mapped_column(sa.String(8))
    measured_at: Mapped[datetime]

    __table_args__ = (
        sa.Index("ix_gas_readings_detector_measured", "detector_id", "measured_at"),
        sa.Index("ix_gas_readings_area_measured", "area_id", "measured_at"),
    )


class PositionSnapshot(Base):
    """The cards a positioning system saw in an area at one moment."""

    __tablename__ = "position_snapshots"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("ingest_batches.id"), index=True)
    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"))
    area_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("plant_areas.id"))
    observed_at: Mapped[datetime]
    card_ids: Mapped[list[str]] = mapped_column(sa.JSON)
    headcount: Mapped[int]

    __table_args__ = (sa.Index("ix_position_snapshots_area_observed", "area_id", "observed_at"),)


class CardSighting(Base):
    """One positioning card seen in an area.

    Its batch, enterprise and area are named without foreign keys (0028, as gas readings since 0026): the batch's
    transaction resolved each one, and a trigger on each of those tables refuses to delete a row that sightings
    name (AU-03).
    """

    __tablename__ = "card_sightings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(index=True)
    enterprise_id: Mapped[uuid.UUID]
    area_id: Mapped[uuid.UUID]
    card_id: Mapped[str] = mapped_column(sa.String(64))
    seen_at: Mapped[datetime]

    __table_args__ = (sa.Index("ix_card_sightings_card_seen", "enterprise_id", "card_id", "seen_at"),)


class CardLocation(Base):
    """Where each card was last placed by snapshots and sightings (area null: seen leaving)."""

    __tablename__ = "card_locations"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"), primary_key=True)
    card_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    area_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("plant_areas.id"), index=True)
    seen_at: Mapped[datetime]


class Alarm(UUIDPk, Base):
    """An alarm raised by the service on the feed (DC-01..03, HC-04) or pushed by the plant."""

    __tablename__ = "alarms"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    area_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("plant_areas.id"), index=True)
    permit_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("permits.id"), index=True)
    feed_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("feeds.id"))
    kind: Mapped[str] = mapped_column(sa.String(32), index=True)
    rule: Mapped[str | None] = mapped_column(sa.String(16))
    source: Mapped[str] = mapped_column(sa.String(16))  # service | plant
    message_zh: Mapped[str] = mapped_column(sa.Text)
    message_en: Mapped[str] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    raised_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.Index("ix_alarms_enterprise_created", "enterprise_id", "created_at", "id"),)


class WebhookSubscription(UUIDPk, Base):
    """Where to send which events, and the secret that signs them (DC-04): a plant portal's, of its enterprise, or a
    regulator's platform's, of its region, optionally narrowed to some enterprises and risk grades."""

    __tablename__ = "webhook_subscriptions"

    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    region_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    client_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("integration_clients.id")
    )  # the platform
    url: Mapped[str] = mapped_column(sa.String(2000))
    secret: Mapped[str] = mapped_column(sa.String(200))
    event_kinds: Mapped[list[str]] = mapped_column(sa.JSON)
    enterprise_codes: Mapped[list[str] | None] = mapped_column(
        sa.JSON
    )  # a platform's: only these credit codes
    risk_grades: Mapped[list[str] | None] = mapped_column(sa.JSON)  # a platform's: only enterprises graded so
    feed_cursor: Mapped[int | None] = mapped_column(
        BigId
    )  # a platform's: pushes start after this feed position
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("(enterprise_id IS NULL) <> (region_id IS NULL)", name="one_tenant"),
        sa.CheckConstraint("(region_id IS NULL) = (client_id IS NULL)", name="platform_client"),
    )


class WebhookDelivery(UUIDPk, Base):
    """The outbox: one event for one subscription, written in the event's transaction and delivered after commit."""

    __tablename__ = "webhook_deliveries"

    subscription_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("webhook_subscriptions.id"))
    event_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("events.id"))
    event_kind: Mapped[str] = mapped_column(sa.String(64))
    ordering_key: Mapped[str] = mapped_column(sa.String(80))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    delivered_at: Mapped[datetime | None]
    replay_of_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("webhook_deliveries.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        # The delivery queue: due pending rows, and the "earlier pending row of this permit" check.
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_order", "subscription_id", "ordering_key", "status", "event_id"),
        sa.Index("ix_webhook_deliveries_subscription_created", "subscription_id", "created_at", "id"),
    )
