"""Plant integration endpoints: feeds, detectors, pushed batches, alarms, and webhook subscriptions (DC-01..05)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Response, jsonify, request
from flask.views import MethodView
from marshmallow import Schema, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from permit_service.api.blueprint import Blueprint
from permit_service.api.conventions import PageArgs, idempotent, paginate
from permit_service.auth import Principal, current_principal, require_roles
from permit_service.db import get_session, transaction
from permit_service.errors import ValidationProblem
from permit_service.integrations import schemas as s
from permit_service.integrations import service, webhooks
from permit_service.integrations.models import (
    Alarm,
    Detector,
    Feed,
    IngestBatch,
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


@dataclass(frozen=True)
class Push:
    """One kind of push: the list field of its body, its schema, and the service's check and apply steps."""

    kind: str
    field: str
    schema: type[Schema]
    check: Callable[..., tuple[Any, dict[str, list[str]]]]
    apply: Callable[[Session, Principal, IngestBatch, list[dict[str, Any]], Any], dict[str, Any]]


PUSHES: Mapping[str, Push] = {
    p.kind: p
    for p in (
        Push("gas_readings", "readings", s.ReadingBatchIn, service.check_readings,
             lambda se, _p, batch, _items, readings: service.apply_readings(se, batch=batch, readings=readings)),
        Push("positions", "snapshots", s.SnapshotBatchIn, service.check_positions,
             lambda se, _p, batch, items, areas: service.apply_positions(se, batch=batch, snapshots=items, areas=areas)),
        Push("card_sightings", "sightings", s.SightingBatchIn, service.check_sightings,
             lambda se, _p, batch, items, areas: service.apply_sightings(se, batch=batch, sightings=items, areas=areas)),
        Push("alarms", "alarms", s.PlantAlarmBatchIn, service.check_plant_alarms,
             lambda se, p, batch, items, areas: service.apply_plant_alarms(
                 se, principal=p, batch=batch, alarms=items, areas=areas)),
    )
}  # fmt: skip


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages as `readings.3.value: [...]`, the way every other 422 lists fields."""
    if isinstance(messages, Mapping):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix or "_schema": [str(m) for m in (messages if isinstance(messages, list) else [messages])]}


def _load(schema: type[Schema], body: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Load what can be loaded and keep every error, so that the service can add its own for the same items."""
    if not isinstance(body, dict):
        return {}, {"_schema": ["须为 JSON 对象 / must be a JSON object"]}
    try:
        return schema().load(body), {}
    except ValidationError as exc:
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        return valid, _flatten(exc.messages)


def _replay(batch: IngestBatch) -> Response:
    response = jsonify(batch.response)
    response.status_code = batch.status_code
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _push(kind: str) -> Any:
    """Check the whole batch, store nothing if anything is wrong, else apply it once under its key."""
    push = PUSHES[kind]
    principal = current_principal()
    key = request.headers.get("Idempotency-Key", "")
    if not 1 <= len(key) <= 200:
        raise ValidationProblem(
            {"Idempotency-Key": ["每批数据须带 1-200 字符的键 / every push needs a key of 1-200 characters"]}
        )
    body = request.get_json()
    limit = service.settings().ingest_batch_max
    raw_items = body.get(push.field) if isinstance(body, dict) else None
    if isinstance(raw_items, list) and len(raw_items) > limit:
        raise ValidationProblem({push.field: [f"每批最多 {limit} 条 / at most {limit} items per batch"]})
    request_hash = service.fingerprint(request.method, request.path, body)
    try:
        with transaction() as session:
            done = service.find_batch(session, principal=principal, key=key, request_hash=request_hash)
            if done is not None:
                return _replay(done)
            data, errors = _load(push.schema, body)
            items = data.get(push.field) or []
            resolved, problems = push.check(session, principal=principal, items=items)
            errors.update(problems)
            if errors:
                raise ValidationProblem(
                    dict(sorted(errors.items())),
                    "批次被拒绝，未保存任何数据：请修正所列各项",
                    "The batch is refused and nothing was stored: fix every item listed",
                )
            batch = service.open_batch(
                session,
                principal=principal,
                kind=kind,
                key=key,
                request_hash=request_hash,
                item_count=len(items),
            )
            return push.apply(session, principal, batch, items, resolved)
    except IntegrityError:
        # A concurrent push with the same key committed first: answer as it did.
        with transaction() as session:
            done = service.find_batch(session, principal=principal, key=key, request_hash=request_hash)
            if done is None:
                raise
            return _replay(done)


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
    """Webhook subscriptions of the caller's enterprise."""

    @require_roles(*MANAGERS)
    @webhooks_blp.arguments(PageArgs, location="query")
    @webhooks_blp.response(200, s.SubscriptionPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List subscriptions."""
        session = get_session()
        stmt = webhooks.list_subscriptions(session, principal=current_principal())
        items, cursor = paginate(session, stmt, WebhookSubscription.created_at, WebhookSubscription.id, args)
        return {"items": items, "next_cursor": cursor}

    @idempotent
    @require_roles(*MANAGERS)
    @webhooks_blp.arguments(s.SubscriptionIn)
    @webhooks_blp.response(201, s.SubscriptionOut)
    def post(self, body: dict[str, Any]) -> WebhookSubscription:
        """Subscribe a receiver to event kinds; deliveries are signed with its secret (see README, Webhooks)."""
        principal = current_principal()
        with transaction() as session:
            return webhooks.create_subscription(session, principal=principal, data=body)


@webhooks_blp.route("/subscriptions/<uuid:subscription_id>")
class SubscriptionById(MethodView):
    """One subscription."""

    @require_roles(*MANAGERS)
    @webhooks_blp.response(200, s.SubscriptionOut)
    def get(self, subscription_id: uuid.UUID) -> WebhookSubscription:
        """Read a subscription (never its secret)."""
        return webhooks.get_subscription(
            get_session(), principal=current_principal(), subscription_id=subscription_id
        )

    @require_roles(*MANAGERS)
    @webhooks_blp.response(204)
    def delete(self, subscription_id: uuid.UUID) -> None:
        """Stop a subscription; it and its deliveries stay on record."""
        principal = current_principal()
        with transaction() as session:
            webhooks.deactivate_subscription(session, principal=principal, subscription_id=subscription_id)


@webhooks_blp.route("/subscriptions/<uuid:subscription_id>/deliveries")
class SubscriptionDeliveries(MethodView):
    """What was sent to a subscription."""

    @require_roles(*MANAGERS)
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

    @require_roles(*MANAGERS)
    @webhooks_blp.response(201, s.DeliveryOut)
    def post(self, delivery_id: uuid.UUID) -> WebhookDelivery:
        """Queue the same event again for the same subscription (a new delivery, same body)."""
        principal = current_principal()
        with transaction() as session:
            return webhooks.replay(session, principal=principal, delivery_id=delivery_id)
