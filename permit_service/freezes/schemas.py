"""Schemas of the freeze and calendar API: declare, change, cancel, list, check a window, calendar overrides."""

from __future__ import annotations

from marshmallow import fields, validate, validates_schema
from marshmallow.exceptions import ValidationError

from permit_service.api.conventions import PageArgs, PageSchema
from permit_service.api.fields import AwareDateTime, StrictSchema
from permit_service.freezes.models import FREEZE_MODES, FREEZE_STATES
from workflows import WORKFLOWS

PERMIT_TYPES = sorted(WORKFLOWS)


def _types(**kw: object) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(PERMIT_TYPES)),
        validate=validate.Length(min=1, max=len(PERMIT_TYPES)),
        metadata={"description": "frozen permit types (keys of GET /api/v1/permit-types)"},
        **kw,
    )


_reason = validate.Length(min=1, max=2000)


def _ordered(data: dict, start: str, end: str) -> None:
    if data.get(start) and data.get(end) and data[end] <= data[start]:
        raise ValidationError(f"须晚于 {start} / must be after {start}", field_name=end)


class FreezeCreate(StrictSchema):
    """Declare a freeze for a region (FZ-01/02); the window is [starts_at, ends_at), the end excluded."""

    region_id = fields.UUID(required=True, metadata={"description": "a city (whole city) or a district/zone"})
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(
        required=True, metadata={"description": "exclusive: the first instant after the freeze"}
    )
    reason = fields.String(required=True, validate=_reason)
    types = _types(required=True)
    mode = fields.String(
        required=True,
        validate=validate.OneOf(FREEZE_MODES),
        metadata={
            "description": "strict: nothing approved or active; upgrade: consent, principal, hot work +1 grade"
        },
    )

    @validates_schema
    def _window(self, data: dict, **_kw: object) -> None:
        _ordered(data, "starts_at", "ends_at")


class FreezeUpdate(StrictSchema):
    """Change a freeze before it starts (needs If-Match)."""

    region_id = fields.UUID()
    starts_at = AwareDateTime()
    ends_at = AwareDateTime()
    reason = fields.String(validate=_reason)
    types = _types()
    mode = fields.String(validate=validate.OneOf(FREEZE_MODES))

    @validates_schema
    def _window(self, data: dict, **_kw: object) -> None:
        _ordered(data, "starts_at", "ends_at")


class FreezeCancel(StrictSchema):
    """Why the freeze is cancelled (nothing suspended resumes by itself, FZ-03)."""

    reason = fields.String(required=True, validate=_reason)


class FreezeOut(StrictSchema):
    """A freeze as regulators, enterprises and plant portals see it."""

    id = fields.UUID()
    region_id = fields.UUID()
    starts_at = AwareDateTime()
    ends_at = AwareDateTime(metadata={"description": "exclusive"})
    reason = fields.String()
    types = fields.List(fields.String())
    mode = fields.String()
    state = fields.String(metadata={"description": "proposed | declared | cancelled"})
    source = fields.String(metadata={"description": "manual | holiday_calendar"})
    created_by = fields.String()
    created_at = AwareDateTime()
    declared_by = fields.String(allow_none=True)
    declared_at = AwareDateTime(allow_none=True)
    cancelled_by = fields.String(allow_none=True)
    cancelled_at = AwareDateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    applied_at = AwareDateTime(
        allow_none=True, metadata={"description": "when its start suspended running work"}
    )
    version = fields.Integer()


class FreezePage(PageSchema):
    """A page of freezes."""

    items = fields.List(fields.Nested(FreezeOut))


class FreezeQueryArgs(PageArgs):
    """Filters of the freeze list."""

    region_id = fields.UUID(load_default=None, metadata={"description": "freezes declared for this region"})
    active_at = AwareDateTime(
        load_default=None, metadata={"description": "freezes whose window contains this time"}
    )
    type = fields.String(load_default=None, validate=validate.OneOf(PERMIT_TYPES))
    state = fields.String(load_default=None, validate=validate.OneOf(FREEZE_STATES))


class FreezeCheckArgs(StrictSchema):
    """The permit window an enterprise or plant portal is about to file."""

    area_id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.OneOf(PERMIT_TYPES))
    valid_from = AwareDateTime(required=True)
    valid_until = AwareDateTime(required=True)

    @validates_schema
    def _window(self, data: dict, **_kw: object) -> None:
        _ordered(data, "valid_from", "valid_until")


class Requirement(StrictSchema):
    """What a freeze means for the permit, with the rule that says so."""

    rule = fields.String()
    message_zh = fields.String()
    message_en = fields.String()


class CalendarGap(StrictSchema):
    """Years the statutory holiday calendar has no data for: only weekends count as rest days there (FZ-04, HW-03)."""

    years = fields.List(fields.Integer())
    message_zh = fields.String()
    message_en = fields.String()


class FreezeCheckOut(StrictSchema):
    """Whether the window is frozen for the area and type, by which freezes, and what that means."""

    frozen = fields.Boolean()
    mode = fields.String(
        allow_none=True, metadata={"description": "strict wins over upgrade; null when not frozen"}
    )
    freezes = fields.List(fields.Nested(FreezeOut))
    requirements = fields.List(fields.Nested(Requirement))
    message_zh = fields.String()
    message_en = fields.String()
    calendar_gap = fields.Nested(
        CalendarGap,
        allow_none=True,
        metadata={"description": "set when the window reaches a year the holiday calendar does not cover"},
    )


class OverrideIn(StrictSchema):
    """A regulator's correction of one day of the holiday calendar in its region (FZ-04, HW-03)."""

    rest_day = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=200))


class OverrideOut(StrictSchema):
    """A calendar correction."""

    id = fields.UUID()
    region_id = fields.UUID()
    day = fields.Date()
    rest_day = fields.Boolean()
    note = fields.String()
    created_by = fields.String()
    created_at = AwareDateTime()


class OverrideList(StrictSchema):
    """Calendar corrections, by day."""

    items = fields.List(fields.Nested(OverrideOut))


class OverrideQueryArgs(StrictSchema):
    """Filters of the calendar corrections."""

    region_id = fields.UUID(load_default=None)
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100))


class HolidayQueryArgs(StrictSchema):
    """The year whose statutory holidays to list."""

    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))


class HolidayOut(StrictSchema):
    """A statutory holiday period (Asia/Shanghai dates, both included)."""

    first = fields.Date()
    last = fields.Date()
    name_zh = fields.String()
    name_en = fields.String()


class HolidayList(StrictSchema):
    """The statutory holiday periods of a year, and whether the calendar covers that year at all."""

    year = fields.Integer()
    covered = fields.Boolean(metadata={"description": "false: the library has no data; only weekends count"})
    calendar_gap = fields.Nested(
        CalendarGap, allow_none=True, metadata={"description": "set when not covered"}
    )
    items = fields.List(fields.Nested(HolidayOut))
