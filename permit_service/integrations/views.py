"""Plant integration endpoints: feeds, detectors, pushed batches, alarms, and webhook subscriptions (DC-01..05)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask import jsonify, request
from flask.views import MethodView
from marshmallow import Schema
from sqlalchemy.orm import Session

from permit_service.api.blueprint import Blueprint
from permit_service.api.conventions import PageArgs, idempotent, paginate
from permit_service.auth import current_principal, require_roles
from permit_service.auth.principal import REGULATOR_PLATFORM_ROLE, platform_writes
from permit_service.db import get_session, transaction
from permit_service.errors import ValidationProblem
from permit_service.integrations import ingest, service, webhooks
from permit_service.integrations import schemas as s
from permit_service.integrations.models import (
    Alarm,
    Detector,
    Feed,
    WebhookDelivery,
    WebhookSubscription,
)

blp = Blueprint(
    "integrations", __name__, url_prefix="", description="工厂系统接入与报警 / Plant integration and alarms"
)
webhooks_blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/webhooks",
    description="Webhook 订阅与投递 / Webhook subscriptions and deliveries",
)
MANAGERS = ("enterprise_admin", "integration")
SUBSCRIBERS = (*MANAGERS, REGULATOR_PLATFORM_ROLE)  # a regulator's platform manages its own (DC-04)


# --- feeds and detectors -------------------------------------------------------------------------


def _feeds_out(session: Session, feeds: Sequence[Feed]) -> list[dict[str, Any]]:
    codes = service.feed_area_codes(session, [f.id for f in feeds])
    return [
        {**{c.name: getattr(f, c.name) for c in Feed.__table__.columns}, "area_codes": codes[f.id]}
        for f in feeds
    ]


@blp.route("/integrations/feeds")
class Feeds(MethodView):
    """Plant data feeds."""

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, s.FeedPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List feeds with the areas they cover and when they last delivered data (DC-03)."""
        session = get_session()
        stmt = service.list_feeds(session, principal=current_principal())
        items, cursor = paginate(session, stmt, Feed.created_at, Feed.id, args)
        return {"items": _feeds_out(session, items), "next_cursor": cursor}

    @idempotent
    @require_roles(*MANAGERS)
    @blp.arguments(s.FeedIn)
    @blp.response(201, s.FeedOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register a gas or positioning feed, its interval and the areas it covers."""
        principal = current_principal()
        with transaction() as session:
            feed = service.register_feed(session, principal=principal, data=body)
            return _feeds_out(session, [feed])[0]


@blp.route("/integrations/detectors")
class Detectors(MethodView):
    """Fixed gas detectors."""

    @blp.arguments(s.DetectorQueryArgs, location="query")
    @blp.response(200, s.DetectorPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List detectors, optionally of one area."""
        session = get_session()
        stmt = service.list_detectors(session, principal=current_principal(), filters=args)
        items, cursor = paginate(session, stmt, Detector.created_at, Detector.id, args)
        return {"items": items, "next_cursor": cursor}

    @idempotent
    @require_roles(*MANAGERS)
    @blp.arguments(s.DetectorIn)
    @blp.response(201, s.DetectorOut)
    def post(self, body: dict[str, Any]) -> Detector:
        """Register a detector: area, gas, unit (% vol, %LEL, ppm or mg/m3) and its feed."""
        principal = current_principal()
        with transaction() as session:
            return service.register_detector(session, principal=principal, data=body)


# --- pushed batches (DC-05) ----------------------------------------------------------------------


def _push(kind: str) -> Any:
    """Take a pushed batch under its Idempotency-Key through the shared ingest path (DC-05)."""
    key = request.headers.get("Idempotency-Key", "")
    if not 1 <= len(key) <= 200:
        raise ValidationProblem(
            {"Idempotency-Key": ["每批数据须带 1-200 字符的键 / every push needs a key of 1-200 characters"]}
        )
    body = request.get_json()
    outcome = ingest.push(
        current_principal(),
        kind=kind,
        key=key,
        body=body,
        request_hash=service.fingerprint(request.method, request.path, body),
    )
    if not outcome.replayed:
        return outcome.body
    response = jsonify(outcome.body)
    response.status_code = outcome.status_code
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _push_doc(schema: type[Schema]) -> dict[str, Any]:
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "parameters": [
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": True,
                "schema": {"type": "string", "maxLength": 200},
                "description": "the batch is applied once per key; a repeat gets the first answer (DC-05)",
            }
        ],
    }


@blp.route("/integrations/gas-readings", methods=["POST"])
@require_roles("integration")
@blp.doc(**_push_doc(s.ReadingBatchIn))
@blp.response(201, s.BatchOut)
def push_gas_readings() -> Any:
    """Push gas readings; a reading over the limits of an active permit in its area suspends it (DC-01, HW-08, CS-04)."""
    return _push("gas_readings")


@blp.route("/integrations/positions", methods=["POST"])
@require_roles("integration")
@blp.doc(**_push_doc(s.SnapshotBatchIn))
@blp.response(201, s.BatchOut)
def push_positions() -> Any:
    """Push positioning snapshots; over the limit, guardian absent or crew off post suspends (HC-04, DC-02)."""
    return _push("positions")


@blp.route("/integrations/card-sightings", methods=["POST"])
@require_roles("integration")
@blp.doc(**_push_doc(s.SightingBatchIn))
@blp.response(201, s.BatchOut)
def push_card_sightings() -> Any:
    """Push card sightings; a guardian or checked-in worker seen elsewhere suspends the permit (HC-04, DC-02)."""
    return _push("card_sightings")


@blp.route("/integrations/alarms", methods=["POST"])
@require_roles("integration")
@blp.doc(**_push_doc(s.PlantAlarmBatchIn))
@blp.response(201, s.BatchOut)
def push_alarms() -> Any:
    """Push plant alarms; gas stops gas-tested work in the area (HW-08, CS-04), fire, leak and evacuation stop all (G-08)."""
    return _push("alarms")


# --- alarms --------------------------------------------------------------------------------------


@blp.route("/alarms")
class Alarms(MethodView):
    """Alarms raised by the service or pushed by the plant."""

    @blp.arguments(s.AlarmQueryArgs, location="query")
    @blp.response(200, s.AlarmPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List alarms (newest first): an enterprise its own, a regulator those of its region."""
        session = get_session()
        stmt = service.list_alarms(session, principal=current_principal(), filters=args)
        items, cursor = paginate(session, stmt, Alarm.created_at, Alarm.id, args)
        return {"items": items, "next_cursor": cursor}


@blp.route("/alarms/<uuid:alarm_id>")
class AlarmById(MethodView):
    """One alarm."""

    @blp.response(200, s.AlarmOut)
    def get(self, alarm_id: uuid.UUID) -> Alarm:
        """Read an alarm."""
        return service.get_alarm(get_session(), principal=current_principal(), alarm_id=alarm_id)


# --- webhooks (DC-04) ----------------------------------------------------------------------------


@webhooks_blp.route("/subscriptions")
class Subscriptions(MethodView):
    """Webhook subscriptions of the caller's enterprise, or of the calling regulator's platform."""

    @require_roles(*SUBSCRIBERS)
    @webhooks_blp.arguments(PageArgs, location="query")
    @webhooks_blp.response(200, s.SubscriptionPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List subscriptions."""
        session = get_session()
        stmt = webhooks.list_subscriptions(session, principal=current_principal())
        items, cursor = paginate(session, stmt, WebhookSubscription.created_at, WebhookSubscription.id, args)
        return {"items": items, "next_cursor": cursor}

    @platform_writes
    @idempotent
    @require_roles(*SUBSCRIBERS)
    @webhooks_blp.arguments(s.SubscriptionIn)
    @webhooks_blp.response(201, s.SubscriptionOut)
    def post(self, body: dict[str, Any]) -> WebhookSubscription:
        """Subscribe a receiver to event kinds; deliveries are signed with its secret (see README, Webhooks).

        A regulator's platform subscribes to its region's events, optionally only some enterprises' or risk grades';
        each delivery's body is the feed's event (FeedEvent)."""
        principal = current_principal()
        with transaction() as session:
            return webhooks.create_subscription(session, principal=principal, data=body)


@webhooks_blp.route("/subscriptions/<uuid:subscription_id>")
class SubscriptionById(MethodView):
    """One subscription."""

    @require_roles(*SUBSCRIBERS)
    @webhooks_blp.response(200, s.SubscriptionOut)
    def get(self, subscription_id: uuid.UUID) -> WebhookSubscription:
        """Read a subscription (never its secret)."""
        return webhooks.get_subscription(
            get_session(), principal=current_principal(), subscription_id=subscription_id
        )

    @platform_writes
    @require_roles(*SUBSCRIBERS)
    @webhooks_blp.response(204)
    def delete(self, subscription_id: uuid.UUID) -> None:
        """Stop a subscription; it and its deliveries stay on record."""
        principal = current_principal()
        with transaction() as session:
            webhooks.deactivate_subscription(session, principal=principal, subscription_id=subscription_id)


@webhooks_blp.route("/subscriptions/<uuid:subscription_id>/deliveries")
class SubscriptionDeliveries(MethodView):
    """What was sent to a subscription."""

    @require_roles(*SUBSCRIBERS)
    @webhooks_blp.arguments(s.DeliveryQueryArgs, location="query")
    @webhooks_blp.response(200, s.DeliveryPage)
    def get(self, args: dict[str, Any], subscription_id: uuid.UUID) -> dict[str, Any]:
        """List deliveries (newest first), e.g. `?status=failed`."""
        session = get_session()
        stmt = webhooks.list_deliveries(
            session, principal=current_principal(), subscription_id=subscription_id, status=args["status"]
        )
        items, cursor = paginate(session, stmt, WebhookDelivery.created_at, WebhookDelivery.id, args)
        return {"items": items, "next_cursor": cursor}


@webhooks_blp.route("/deliveries/<uuid:delivery_id>/replay")
class DeliveryReplay(MethodView):
    """Send a delivery again."""

    @platform_writes
    @require_roles(*SUBSCRIBERS)
    @webhooks_blp.response(201, s.DeliveryOut)
    def post(self, delivery_id: uuid.UUID) -> WebhookDelivery:
        """Queue the same event again for the same subscription (a new delivery, same body)."""
        principal = current_principal()
        with transaction() as session:
            return webhooks.replay(session, principal=principal, delivery_id=delivery_id)
