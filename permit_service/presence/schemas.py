"""Schemas of presence: check-in and check-out bodies, the register, and headcount raise requests (HC-02)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from permit_service.api.conventions import PageArgs, PageSchema
from permit_service.api.fields import AwareDateTime, StrictSchema

_card = validate.Length(min=1, max=64)


def _exactly_one(data: dict[str, Any], names: tuple[str, ...]) -> None:
    given = [n for n in names if data.get(n) is not None]
    if len(given) != 1:
        raise ValidationError(
            f"须且只能给出以下之一：{', '.join(names)} / give exactly one of: {', '.join(names)}"
        )


class VisitorIn(StrictSchema):
    """An outside visitor without a person record, entering with a visitor positioning card (HC-03, HC-05)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    organisation = fields.String(load_default="", validate=validate.Length(max=200))


class ToolIn(StrictSchema):
    """A tool taken into the space (CS-05: tools are registered in and out too)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    quantity = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1000))


class CheckInIn(StrictSchema):
    """Who or what enters: a person by id or positioning card, an outside visitor with a card, or a tool."""

    person_id = fields.UUID(load_default=None)
    card_id = fields.String(load_default=None, validate=_card)
    visitor = fields.Nested(VisitorIn, load_default=None)
    tool = fields.Nested(ToolIn, load_default=None)

    @validates_schema
    def _one_subject(self, data: dict[str, Any], **_kw: object) -> None:
        _exactly_one(data, ("person_id", "card_id", "tool"))
        if data.get("visitor") is not None and data.get("card_id") is None:
            raise ValidationError(
                "外来访客须带定位卡 card_id / a visitor needs a card_id", field_name="visitor"
            )


class CheckOutIn(StrictSchema):
    """Who or what leaves: the register entry, or the person by id or card."""

    entry_id = fields.UUID(load_default=None)
    person_id = fields.UUID(load_default=None)
    card_id = fields.String(load_default=None, validate=_card)

    @validates_schema
    def _one_reference(self, data: dict[str, Any], **_kw: object) -> None:
        _exactly_one(data, ("entry_id", "person_id", "card_id"))


class PresenceArgs(StrictSchema):
    """Whether the register shows who has left too."""

    include_left = fields.Boolean(load_default=False)


class PresenceEntryOut(StrictSchema):
    """One line of the register."""

    id = fields.UUID()
    kind = fields.String(metadata={"description": "crew, visitor, inspector or tool"})
    person_id = fields.UUID(allow_none=True)
    card_id = fields.String(allow_none=True)
    name = fields.String()
    organisation = fields.String()
    tool_quantity = fields.Integer(allow_none=True)
    checked_in_at = AwareDateTime()
    checked_in_by = fields.String()
    checked_out_at = AwareDateTime(allow_none=True)
    checked_out_by = fields.String(allow_none=True)


class HeadcountOut(StrictSchema):
    """Headcounts and the limit that applies to the permit."""

    permit_id = fields.UUID()
    area_id = fields.UUID()
    people_inside = fields.Integer(metadata={"description": "registered inside for this permit"})
    area_people_inside = fields.Integer(metadata={"description": "registered inside the area, every permit"})
    limit = fields.Integer(allow_none=True, metadata={"description": "null: no limit"})
    limit_rule = fields.String(allow_none=True)


class PresenceOut(HeadcountOut):
    """The permit's register (CS-05)."""

    tools_inside = fields.Integer()
    entries = fields.List(fields.Nested(PresenceEntryOut))


class PresenceChangeOut(HeadcountOut):
    """A check-in or check-out and the headcounts after it; a guardian's leaving stops the work (HC-04)."""

    entry = fields.Nested(PresenceEntryOut)
    permit_state = fields.String(metadata={"description": "the permit's state after the change"})
    alarm_ids = fields.List(
        fields.UUID(),
        metadata={
            "description": "alarms the change raised: the last guardian checking out suspends the work (HC-04)"
        },
    )


class RaiseIn(StrictSchema):
    """Ask to allow more than 3 people: the number, and the expert demonstration behind it (HC-02)."""

    number = fields.Integer(required=True, validate=validate.Range(min=4, max=1000))
    expert_report_ref = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "reference of the expert demonstration report (专家论证)"},
    )
    experts = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        required=True,
        validate=validate.Length(min=1, max=30),
    )
    demonstrated_on = fields.Date(required=True)
    reason = fields.String(load_default="", validate=validate.Length(max=4000))


class RaiseConsentIn(StrictSchema):
    """The regulator's consent, for the requested number or fewer."""

    number = fields.Integer(load_default=None, validate=validate.Range(min=4, max=1000))
    reason = fields.String(load_default=None, validate=validate.Length(max=4000))


class RaiseRefuseIn(StrictSchema):
    """The regulator's refusal, with a reason."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class RaiseOut(StrictSchema):
    """A headcount raise request and its decision."""

    id = fields.UUID()
    permit_id = fields.UUID()
    enterprise_id = fields.UUID()
    requested_number = fields.Integer()
    consented_number = fields.Integer(allow_none=True)
    expert_report_ref = fields.String()
    experts = fields.List(fields.String())
    demonstrated_on = fields.Date()
    reason = fields.String()
    status = fields.String()
    requested_by = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = AwareDateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    created_at = AwareDateTime()


class RaiseQueryArgs(PageArgs):
    """Filters of the raise requests."""

    status = fields.String(load_default=None, validate=validate.OneOf(["requested", "consented", "refused"]))
    permit_id = fields.UUID(load_default=None)


class RaisePage(PageSchema):
    """A page of raise requests."""

    items = fields.List(fields.Nested(RaiseOut))
