"""Schemas of a permit's measure lines (G-02): reading them and confirming one."""

from __future__ import annotations

from marshmallow import fields

from permit_service.api.fields import StrictSchema
from permit_service.permits.schemas import MeasureOut


class MeasureConfirmationIn(StrictSchema):
    """Who confirmed the line: an active person of the permit's enterprise (确认人)."""

    confirmed_by = fields.UUID(required=True, metadata={"description": "the person who confirmed the line"})


class MeasuresOut(StrictSchema):
    """The permit's lines and what approval still waits for; the ETag is the permit's version."""

    measure_list_version = fields.Integer(
        metadata={
            "description": "the Appendix A list version the permit was filed under (0: before the lists)"
        }
    )
    lines = fields.List(fields.Nested(MeasureOut))
    open = fields.List(
        fields.String(),
        metadata={
            "description": "lines not answered, involved lines lacking a count (as `code (names)`) or a confirmer"
        },
    )
