"""Schemas of the regulators' feed: the query, the stable event payload (published as JSON Schema) and clients."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import fields, validate

from permit_service.api.conventions import _within_page_size_max
from permit_service.api.dumping import compiled
from permit_service.api.fields import OPTIONAL_OUTPUT, AwareDateTime, StrictSchema
from permit_service.directory.models import RISK_GRADES

FORMATS = ("json", "jsonl")


class FeedArgs(StrictSchema):
    """Where to resume: after a cursor (a feed position), from a date, or both; and the page size and format."""

    after = fields.String(
        load_default="0",
        validate=validate.Regexp(r"^\d{1,18}$", error="无效的游标 / invalid cursor"),
        metadata={
            "description": "the `next_cursor` (or an item's `cursor`) last processed; 0: from the start"
        },
    )
    since = AwareDateTime(
        load_default=None, metadata={"description": "backfill: only events at or after this instant"}
    )
    limit = fields.Integer(
        load_default=None,
        validate=[validate.Range(min=1), _within_page_size_max],
        metadata={"description": "page size, at most PAGE_SIZE_MAX (default 200)"},
    )
    format = fields.String(
        load_default=None,
        validate=validate.OneOf(FORMATS),
        metadata={"description": "jsonl: JSON Lines, one event a line (also Accept: application/x-ndjson)"},
    )


class FeedEnterprise(StrictSchema):
    """The enterprise an event concerns."""

    credit_code = fields.String(required=True, metadata={"description": "统一社会信用代码"})
    name = fields.String(required=True)
    risk_grade = fields.String(
        required=True,
        validate=validate.OneOf(RISK_GRADES),
        metadata={"description": "as graded at the event"},
    )


class FeedArea(StrictSchema):
    """The plant area of a permit (作业地点)."""

    code = fields.String(required=True)
    name = fields.String(required=True)


class FeedReading(StrictSchema):
    """One gas reading as stored (normalised unit)."""

    gas = fields.String(required=True)
    value = fields.Float(required=True)
    unit = fields.String(required=True)


class FeedGasTest(StrictSchema):
    """The permit's latest gas analysis at the event (气体分析结果)."""

    sampled_at = AwareDateTime(required=True)
    passed = fields.Boolean(required=True)
    readings = fields.List(fields.Nested(FeedReading), required=True)


class FeedPermit(StrictSchema):
    """The permit an event concerns, as it was at the event: state, grade, validity, area, location, work unit and
    the latest gas test before it (guardians: the permit's crew as it stands)."""

    number = fields.String(required=True)
    type = fields.String(required=True, metadata={"description": "作业类型"})
    grade = fields.String(required=True, allow_none=True, metadata={"description": "作业级别"})
    state = fields.String(required=True)
    previous_state = fields.String(required=True, allow_none=True)
    valid_from = AwareDateTime(required=True, metadata={"description": "作业时间 (from)"})
    valid_until = AwareDateTime(required=True, metadata={"description": "作业时间 (until)"})
    area = fields.Nested(FeedArea, required=True, allow_none=True)
    location = fields.String(required=True)
    work_unit = fields.String(required=True)
    guardians = fields.List(fields.String(), required=True, metadata={"description": "监护人 (names)"})
    gas_test = fields.Nested(FeedGasTest, required=True, allow_none=True)


class FeedJob(StrictSchema):
    """The high-risk job a job event concerns, as reported to the regulator (HR-01..03)."""

    kind = fields.String(required=True, metadata={"description": "leak_plugging, tank_cleaning, ..."})
    title = fields.String(required=True)
    state = fields.String(required=True, metadata={"description": "as at the event"})
    permits = fields.List(
        fields.String(), required=True, metadata={"description": "the numbers of its permits"}
    )
    planned_headcount = fields.Integer(required=True)
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    risk_analysis = fields.String(required=True)


class FeedAlarm(StrictSchema):
    """The alarm an alarm event raised (DC-01..03, HC-04, G-08), and the permits it concerns."""

    kind = fields.String(required=True)
    source = fields.String(required=True, metadata={"description": "service (judged here) or plant (pushed)"})
    rule = fields.String(required=True, allow_none=True)
    permit_number = fields.String(
        required=True, allow_none=True, metadata={"description": "the permit it is about"}
    )
    suspended_permits = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "the numbers of the permits a plant alarm stopped"},
    )
    area = fields.Nested(FeedArea, required=True, allow_none=True)
    message_zh = fields.String(required=True)
    message_en = fields.String(required=True)
    raised_at = AwareDateTime(required=True)


class FeedFreeze(StrictSchema):
    """The freeze a freeze event concerns, as at the event (FZ-01..03)."""

    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    mode = fields.String(required=True, metadata={"description": "strict (一律暂停) or upgrade (升级管理)"})
    types = fields.List(fields.String(), required=True, metadata={"description": "the frozen permit types"})
    state = fields.String(required=True)


class FeedSigner(StrictSchema):
    """Who signed with this event: role, step, name and the kinds of evidence given (never an ID number)."""

    role = fields.String(required=True, allow_none=True)
    step = fields.String(required=True, allow_none=True)
    name = fields.String(required=True, metadata={"description": "审批人 when the step is an approval"})
    evidence_kinds = fields.List(fields.String(), required=True)


class FeedEvent(StrictSchema):
    """One event of the regulators' feed: a stable payload a city or provincial platform maps (DC-04, AU-01)."""

    cursor = fields.String(required=True, metadata={"description": "resume after this event with ?after="})
    event_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    at = AwareDateTime(required=True)
    subject_type = fields.String(required=True)
    subject_id = fields.String(required=True)
    enterprise = fields.Nested(FeedEnterprise, required=True, allow_none=True)
    region_code = fields.String(required=True, allow_none=True)
    permit = fields.Nested(FeedPermit, required=True, allow_none=True)
    job = fields.Nested(FeedJob, required=True, allow_none=True)
    alarm = fields.Nested(FeedAlarm, required=True, allow_none=True)
    freeze = fields.Nested(FeedFreeze, required=True, allow_none=True)
    signer = fields.Nested(FeedSigner, required=True, allow_none=True)
    actor_roles = fields.List(fields.String(), required=True)
    reason = fields.String(required=True, allow_none=True)
    rule_ids = fields.List(fields.String(), required=True)
    hash = fields.String(
        required=True, metadata={"description": "the event's hash in its audit chain (AU-02)"}
    )


# FeedEvent dumped compiled (api.dumping), built once: a page of the feed encodes up to a page size of events.
_feed_event = compiled(FeedEvent())


def encode(item: dict[str, Any]) -> str:
    """One feed event as compact JSON: a JSON Lines line of the pull feed, the body of a push."""
    return json.dumps(_feed_event(item), ensure_ascii=False, separators=(",", ":"))


class FeedPageOut(StrictSchema):
    """A page of the feed in commit order; poll again with `after=next_cursor` (the same when nothing is new)."""

    items = fields.List(fields.Nested(FeedEvent), required=True)
    next_cursor = fields.String(required=True)
    has_more = fields.Boolean(required=True)


# A page of the feed as FeedPageOut dumps it (the pull feed's JSON form), compiled once: a page holds up to a page
# size of events.
dump_page = compiled(FeedPageOut())


class RegulatorClientIn(StrictSchema):
    """A regulator's platform to register: its name and region (the caller's own or one below it)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    region_id = fields.UUID(load_default=None, metadata={"description": "default: the caller's region"})


class RegulatorClientOut(StrictSchema):
    """A regulator's platform client; the secret is shown once, when it is registered."""

    id = fields.UUID(required=True)
    client_id = fields.String(required=True)
    client_secret = fields.String(
        metadata={"description": "only in the registration's answer", OPTIONAL_OUTPUT: True}
    )
    name = fields.String(required=True)
    region_id = fields.UUID(required=True)
    active = fields.Boolean(required=True)
    created_at = AwareDateTime(required=True)


class RegulatorClientList(StrictSchema):
    """The platform clients of the caller's region and below."""

    items = fields.List(fields.Nested(RegulatorClientOut), required=True)
