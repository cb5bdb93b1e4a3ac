"""Schemas of plant integration: feeds, detectors, pushed batches, alarms, webhook subscriptions and deliveries."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from marshmallow import ValidationError, fields, validate

from permit_service.api.conventions import PageArgs, PageSchema
from permit_service.api.fields import AwareDateTime, FiniteFloat, StrictSchema
from permit_service.directory.models import RISK_GRADES
from permit_service.integrations.models import FEED_KINDS, GAS_UNITS, PLANT_ALARM_KINDS

_code = validate.Length(min=1, max=64)
_EVENT_KIND = re.compile(r"^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$")

# --- feeds and detectors ------------------------------------------------------------------------------


class FeedIn(StrictSchema):
    """Register a feed: its code, kind, expected interval and the areas it covers."""

    code = fields.String(required=True, validate=_code)
    name = fields.String(load_default="", validate=validate.Length(max=200))
    kind = fields.String(required=True, validate=validate.OneOf(FEED_KINDS))
    interval_minutes = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=24 * 60),
        metadata={
            "description": "silence after which an alarm is raised (DC-03); default POLICY_FEED_SILENCE_MINUTES"
        },
    )
    area_codes = fields.List(
        fields.String(validate=_code), required=True, validate=validate.Length(min=1, max=500)
    )


class FeedOut(StrictSchema):
    """A feed and when it last delivered data."""

    id = fields.UUID()
    enterprise_id = fields.UUID()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    interval_minutes = fields.Integer(allow_none=True)
    area_codes = fields.List(fields.String())
    last_data_at = AwareDateTime(allow_none=True)
    silence_alarmed_at = AwareDateTime(allow_none=True)
    created_at = AwareDateTime()


class FeedPage(PageSchema):
    """A page of feeds."""

    items = fields.List(fields.Nested(FeedOut))


class DetectorIn(StrictSchema):
    """Register a fixed gas detector."""

    code = fields.String(required=True, validate=_code)
    area_code = fields.String(required=True, validate=_code)
    gas = fields.String(
        required=True, validate=validate.Length(min=1, max=32), metadata={"description": "e.g. CH4, H2S, O2"}
    )
    unit = fields.String(required=True, validate=validate.OneOf(GAS_UNITS))
    feed = fields.String(load_default=None, validate=_code, metadata={"description": "code of its gas feed"})


class DetectorOut(StrictSchema):
    """A registered detector."""

    id = fields.UUID()
    enterprise_id = fields.UUID()
    code = fields.String()
    area_id = fields.UUID()
    gas = fields.String()
    unit = fields.String()
    feed_id = fields.UUID(allow_none=True)
    active = fields.Boolean()
    created_at = AwareDateTime()


class DetectorQueryArgs(PageArgs):
    """Filters of the detector list."""

    area_id = fields.UUID(load_default=None)


class DetectorPage(PageSchema):
    """A page of detectors."""

    items = fields.List(fields.Nested(DetectorOut))


# --- pushed batches (each needs an Idempotency-Key header) ------------------------------------------------


class ReadingIn(StrictSchema):
    """One reading of a registered detector, in the detector's unit."""

    detector = fields.String(required=True, validate=_code)
    value = FiniteFloat(required=True, validate=validate.Range(min=0))
    measured_at = AwareDateTime(required=True)


class ReadingBatchIn(StrictSchema):
    """A batch of gas readings (at most INGEST_BATCH_MAX)."""

    readings = fields.Nested(ReadingIn, many=True, required=True, validate=validate.Length(min=1))


class SnapshotIn(StrictSchema):
    """Every card the positioning system sees in one area at one moment (an empty list: nobody)."""

    area_code = fields.String(required=True, validate=_code)
    observed_at = AwareDateTime(required=True)
    card_ids = fields.List(fields.String(validate=_code), required=True, validate=validate.Length(max=10_000))


class SnapshotBatchIn(StrictSchema):
    """A batch of positioning snapshots."""

    snapshots = fields.Nested(SnapshotIn, many=True, required=True, validate=validate.Length(min=1))


class SightingIn(StrictSchema):
    """One card seen in one area."""

    card_id = fields.String(required=True, validate=_code)
    area_code = fields.String(required=True, validate=_code)
    seen_at = AwareDateTime(required=True)


class SightingBatchIn(StrictSchema):
    """A batch of card sightings."""

    sightings = fields.Nested(SightingIn, many=True, required=True, validate=validate.Length(min=1))


class PlantAlarmIn(StrictSchema):
    """An alarm raised by the plant: gas stops gas-tested work in the area; fire, leak, evacuation stop all."""

    area_code = fields.String(required=True, validate=_code)
    kind = fields.String(required=True, validate=validate.OneOf(PLANT_ALARM_KINDS))
    message = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    raised_at = AwareDateTime(required=True)
    detector = fields.String(load_default=None, validate=_code)
    plant_alarm_id = fields.String(load_default=None, validate=validate.Length(max=100))


class PlantAlarmBatchIn(StrictSchema):
    """A batch of plant alarms."""

    alarms = fields.Nested(PlantAlarmIn, many=True, required=True, validate=validate.Length(min=1))


class SuspendedOut(StrictSchema):
    """A permit a batch suspended, and the rule."""

    permit_id = fields.UUID()
    number = fields.String()
    rule = fields.String()


class RefusedReadingOut(StrictSchema):
    """A reading the service did not judge, and why (DC-01); it is not stored."""

    index = fields.Integer(metadata={"description": "its position in the pushed list"})
    field = fields.String(metadata={"description": "the field at fault: detector, measured_at or value"})
    detector = fields.String(allow_none=True)
    reason = fields.String(
        metadata={
            "description": "unknown_detector, before_registration, too_old, in_the_future, out_of_range"
        }
    )
    message_zh = fields.String()
    message_en = fields.String()


class BatchOut(StrictSchema):
    """What an accepted batch did. A repeat with the same Idempotency-Key gets this same answer."""

    batch_id = fields.UUID()
    kind = fields.String()
    accepted = fields.Integer(
        metadata={"description": "items judged (gas readings: against every active permit)"}
    )
    refused = fields.List(
        fields.Nested(RefusedReadingOut),
        metadata={"description": "gas readings refused one by one with the reason; never stored (DC-01)"},
    )
    suspended = fields.List(fields.Nested(SuspendedOut))
    alarm_ids = fields.List(fields.UUID())


# --- alarms ---------------------------------------------------------------------------------------------


class AlarmOut(StrictSchema):
    """An alarm raised by the service on the feed, or pushed by the plant."""

    id = fields.UUID()
    enterprise_id = fields.UUID()
    area_id = fields.UUID(allow_none=True)
    permit_id = fields.UUID(allow_none=True)
    feed_id = fields.UUID(allow_none=True)
    kind = fields.String()
    rule = fields.String(allow_none=True)
    source = fields.String()
    message_zh = fields.String()
    message_en = fields.String()
    data = fields.Dict()
    raised_at = AwareDateTime()
    created_at = AwareDateTime()


class AlarmQueryArgs(PageArgs):
    """Filters of the alarm list."""

    permit_id = fields.UUID(load_default=None)
    area_id = fields.UUID(load_default=None)
    enterprise_id = fields.UUID(load_default=None)
    kind = fields.String(load_default=None, validate=validate.Length(max=32))
    source = fields.String(load_default=None, validate=validate.OneOf(["service", "plant"]))


class AlarmPage(PageSchema):
    """A page of alarms."""

    items = fields.List(fields.Nested(AlarmOut))


# --- webhooks -------------------------------------------------------------------------------------------


def _http_url(value: str) -> None:
    try:
        parts = urlsplit(value)
        port = parts.port  # urlsplit parses the port lazily: ":99999" or ":abc" raise only here
    except ValueError:  # also an unclosed IPv6 bracket, "http://[::1/"
        raise ValidationError(
            "须为 http(s) 地址，端口为 1-65535 / must be an http(s) URL, port 1-65535"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("须为 http(s) 地址 / must be an http(s) URL")
    if port == 0:
        raise ValidationError("端口须为 1-65535 / the port must be from 1 to 65535")


class SubscriptionIn(StrictSchema):
    """Subscribe a receiver: its URL, the secret that signs deliveries, and the event kinds wanted."""

    url = fields.String(required=True, validate=[validate.Length(max=2000), _http_url])
    secret = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=16, max=200),
        metadata={"description": "HMAC-SHA256 key; never shown again"},
    )
    event_kinds = fields.List(
        fields.String(
            validate=validate.Regexp(
                _EVENT_KIND, error="如 permit.* 或 alarm.raised / e.g. permit.* or alarm.raised"
            )
        ),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "kinds such as permit.suspend, prefixes such as permit.*, or *"},
    )
    description = fields.String(load_default="", validate=validate.Length(max=200))
    enterprises = fields.List(
        fields.String(
            validate=validate.Regexp(r"^[0-9A-Z]{18}$", error="须为18位统一社会信用代码 / 18-character code")
        ),
        load_default=None,
        validate=validate.Length(min=1, max=500),
        metadata={
            "description": "a regulator's platform only: just these enterprises (统一社会信用代码) of its region"
        },
    )
    risk_grades = fields.List(
        fields.String(validate=validate.OneOf(RISK_GRADES)),
        load_default=None,
        validate=validate.Length(min=1, max=4),
        metadata={"description": "a regulator's platform only: just the enterprises graded so (RG-01)"},
    )


class SubscriptionOut(StrictSchema):
    """A subscription (the secret is never shown): a plant portal's (enterprise_id) or a regulator's platform's."""

    id = fields.UUID()
    enterprise_id = fields.UUID(allow_none=True)
    region_id = fields.UUID(allow_none=True, metadata={"description": "a regulator's platform: its region"})
    url = fields.String()
    event_kinds = fields.List(fields.String())
    enterprises = fields.List(fields.String(), attribute="enterprise_codes", allow_none=True)
    risk_grades = fields.List(fields.String(), allow_none=True)
    feed_cursor = fields.String(
        allow_none=True,
        metadata={
            "description": "a regulator's platform: pushes start after this feed position; "
            "GET /regulator/events?after=<your last cursor> catches up to it"
        },
    )
    description = fields.String()
    active = fields.Boolean()
    created_by = fields.String()
    created_at = AwareDateTime()


class SubscriptionPage(PageSchema):
    """A page of subscriptions."""

    items = fields.List(fields.Nested(SubscriptionOut))


class DeliveryOut(StrictSchema):
    """One delivery of one event to one subscription."""

    id = fields.UUID()
    subscription_id = fields.UUID()
    event_id = fields.Integer()
    event_kind = fields.String()
    status = fields.String(metadata={"description": "pending, delivered or failed"})
    attempts = fields.Integer()
    next_attempt_at = AwareDateTime()
    last_attempt_at = AwareDateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    delivered_at = AwareDateTime(allow_none=True)
    replay_of_id = fields.UUID(allow_none=True)
    created_at = AwareDateTime()


class DeliveryQueryArgs(PageArgs):
    """Filters of the delivery list."""

    status = fields.String(load_default=None, validate=validate.OneOf(["pending", "delivered", "failed"]))


class DeliveryPage(PageSchema):
    """A page of deliveries."""

    items = fields.List(fields.Nested(DeliveryOut))
