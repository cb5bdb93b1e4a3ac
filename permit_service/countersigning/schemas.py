"""Schemas of an enterprise's countersigning departments (EX-01, RC-01)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates

from permit_service.api.fields import AwareDateTime, StrictSchema
from workflows.vocabulary import DEPARTMENT_NAMES

_DEPARTMENTS_DOC = "; ".join(f"{code}: {zh}" for code, (zh, _en) in DEPARTMENT_NAMES.items())


class CountersigningIn(StrictSchema):
    """The departments that countersign the type's permits from now on, in order; it replaces the previous list."""

    departments = fields.List(
        fields.String(validate=validate.OneOf(list(DEPARTMENT_NAMES))),
        required=True,
        validate=validate.Length(min=1, max=len(DEPARTMENT_NAMES)),
        metadata={"description": _DEPARTMENTS_DOC},
    )

    @validates("departments")
    def _once(self, value: list[str], **_kw: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("部门重复 / a department is listed twice")


class DepartmentOut(StrictSchema):
    """A department with its names."""

    code = fields.String()
    zh = fields.String()
    en = fields.String()


class CountersigningOut(StrictSchema):
    """The departments that countersign an enterprise's permits of a type; `version` is its ETag (0: never
    configured, the type's default applies)."""

    enterprise_id = fields.UUID()
    permit_type = fields.String()
    configured = fields.Boolean(
        metadata={"description": "false: the enterprise configured none, the default applies"}
    )
    departments = fields.List(
        fields.String(), metadata={"description": "the list as configured (or the type's default)"}
    )
    required = fields.List(
        fields.Nested(DepartmentOut),
        metadata={
            "description": "what a permit submitted now must gather: the type's own (RC-01) and the list"
        },
    )
    version = fields.Integer()
    updated_at = AwareDateTime(allow_none=True)
