"""Schemas of the enterprise checklists (SD-02) and of a permit's checklist confirmations."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates

from permit_service.api.fields import AwareDateTime, StrictSchema
from workflows.rules.general import CHECKLISTS

MAX_ITEMS = 50
_CODE = validate.Regexp(r"^\S+$", error="不能含空白 / must not contain whitespace")
_TEXT = validate.Regexp(r"^\S(.*\S)?$", error="不能为空白或首尾空白 / must not be blank or padded")


class ChecklistItem(StrictSchema):
    """An item of a checklist: its code and what is checked, in Chinese and optionally English."""

    code = fields.String(required=True, validate=[validate.Length(min=1, max=50), _CODE])
    text_zh = fields.String(required=True, validate=[validate.Length(min=1, max=500), _TEXT])
    text_en = fields.String(load_default="", validate=validate.Length(max=500))


class ChecklistIn(StrictSchema):
    """The whole checklist, in order; it replaces the previous one (an empty list: nothing to confirm)."""

    items = fields.List(fields.Nested(ChecklistItem), required=True, validate=validate.Length(max=MAX_ITEMS))

    @validates("items")
    def _codes_once(self, value: list[dict[str, Any]], **_kw: Any) -> None:
        codes = [item.get("code") for item in value]
        if len(set(codes)) != len(codes):
            raise ValidationError("编号重复 / a code is listed twice")


class ChecklistOut(StrictSchema):
    """An enterprise checklist; `version` is its ETag (0: never configured, nothing to confirm)."""

    enterprise_id = fields.UUID()
    kind = fields.String(metadata={"description": "site 十个要素 | outsourcing 外包作业八个必查"})
    items = fields.List(fields.Nested(ChecklistItem))
    version = fields.Integer()
    updated_at = AwareDateTime(allow_none=True)


class ConfirmationIn(StrictSchema):
    """An item of one of the enterprise's checklists and the person of the enterprise who confirmed it."""

    checklist = fields.String(required=True, validate=validate.OneOf(sorted(CHECKLISTS)))
    code = fields.String(required=True, validate=validate.Length(min=1, max=50))
    confirmed_by = fields.UUID(required=True, metadata={"description": "the person who confirmed the item"})


class ConfirmationsIn(StrictSchema):
    """Every confirmation the permit carries; it replaces the previous set."""

    items = fields.List(
        fields.Nested(ConfirmationIn), required=True, validate=validate.Length(max=2 * MAX_ITEMS)
    )

    @validates("items")
    def _items_once(self, value: list[dict[str, Any]], **_kw: Any) -> None:
        keys = [(item.get("checklist"), item.get("code")) for item in value]
        if len(set(keys)) != len(keys):
            raise ValidationError("检查项重复 / an item is listed twice")


class ConfirmationOut(StrictSchema):
    """A confirmed item."""

    checklist = fields.String()
    code = fields.String()
    confirmed_by = fields.UUID()
    recorded_at = AwareDateTime()


class OpenItemOut(StrictSchema):
    """An item still to be confirmed before approval (SD-02)."""

    checklist = fields.String()
    code = fields.String()
    text_zh = fields.String()
    text_en = fields.String()


class ConfirmationsOut(StrictSchema):
    """A permit's checklist confirmations and the items the permit still lacks; the ETag is the permit's version."""

    items = fields.List(fields.Nested(ConfirmationOut))
    open = fields.List(
        fields.Nested(OpenItemOut),
        metadata={
            "description": "site items, and outsourcing items for contractor work, without a confirmer"
        },
    )
