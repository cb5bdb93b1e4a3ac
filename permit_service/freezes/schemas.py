"""Schemas of the freeze and calendar API: declare, change, cancel, list, check a window, calendar overrides."""

from __future__ import annotations

from marshmallow import fields, validate, validates_schema
from marshmallow.exceptions import ValidationError

from permit_service.api.conventions import PageArgs, PageSchema
from permit_service.api.fields import AwareDateTime, StrictSchema
from permit_service.calendar import SOURCES
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
    provisional = fields.Boolean(
        metadata={
            "description": "proposed from a computed holiday schedule no regulator has confirmed (FZ-04)"
        }
    )
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


class CalendarNotice(StrictSchema):
    """Days whose holiday schedule is only computed, not yet confirmed by a regulator (FZ-04, HW-03)."""

    days = fields.List(fields.Date(), metadata={"description": "the provisional days (Asia/Shanghai dates)"})
    years = fields.List(fields.Integer())
    message_zh = fields.String()
    message_en = fields.String()


def calendar_notice(what: str) -> fields.Nested:
    """The provisional-calendar notice of an answer (null when every day of it is confirmed or official)."""
    return fields.Nested(
        CalendarNotice,
        allow_none=True,
        metadata={"description": f"set when {what} touches a day of a provisional (computed) holiday year"},
    )


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
    calendar_notice = calendar_notice("the window")


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
    """The year whose statutory holidays to list (as the caller's region has them)."""

    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))


class HolidayOut(StrictSchema):
    """A statutory holiday period (Asia/Shanghai dates, both included)."""

    first = fields.Date()
    last = fields.Date()
    name_zh = fields.String()
    name_en = fields.String()
    provisional = fields.Boolean(metadata={"description": "a day of it is in a provisional year"})


_SOURCE = fields.String(
    validate=validate.OneOf(SOURCES),
    metadata={
        "description": "confirmed: a regulator entered the State Council's notice; official: the published "
        "schedule of chinese-calendar; provisional: computed by holidays, unconfirmed"
    },
)


class HolidayList(StrictSchema):
    """The holiday periods and make-up working days of a year, and which layer of the calendar they come from."""

    year = fields.Integer()
    source = _SOURCE
    workdays = fields.List(fields.Date(), metadata={"description": "make-up working days (调休上班)"})
    calendar_notice = calendar_notice("the year")
    items = fields.List(fields.Nested(HolidayOut))


class NoticePeriodIn(StrictSchema):
    """One holiday break of the State Council's notice (both days included)."""

    name_zh = fields.String(required=True, validate=validate.Length(min=1, max=50))
    name_en = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "defaults to the usual English name of the festival"},
    )
    first = fields.Date(required=True)
    last = fields.Date(required=True)


class CalendarYearIn(StrictSchema):
    """A year's holidays and make-up working days as the State Council's notice announces them (FZ-04)."""

    notice = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "the notice's reference, e.g. 国办发明电〔2026〕1号"},
    )
    periods = fields.List(
        fields.Nested(NoticePeriodIn), required=True, validate=validate.Length(min=1, max=20)
    )
    workdays = fields.List(
        fields.Date(),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "make-up working days (调休上班), Saturdays or Sundays"},
    )


class DayChange(StrictSchema):
    """A day the notice changes against the year the city had."""

    day = fields.Date()
    rest_day_before = fields.Boolean()
    rest_day_after = fields.Boolean()
    holiday_before = fields.String(allow_none=True)
    holiday_after = fields.String(allow_none=True)


class CalendarYearOut(StrictSchema):
    """The year from the notice: previewed or confirmed, what it changes, and its holiday periods."""

    year = fields.Integer()
    region_id = fields.UUID(metadata={"description": "the city whose year this is"})
    source_before = _SOURCE
    confirmed = fields.Boolean(metadata={"description": "false: a preview, nothing stored"})
    notice = fields.String()
    changes = fields.List(fields.Nested(DayChange))
    items = fields.List(fields.Nested(HolidayOut))
    workdays = fields.List(fields.Date())
