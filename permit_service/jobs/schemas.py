"""Schemas of the job API: filing and editing a draft, the consent path's bodies, and what a job looks like."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from permit_service.api.conventions import PageArgs, PageSchema
from permit_service.api.fields import AwareDateTime, StrictSchema, Text
from permit_service.permits.schemas import Evidence
from workflows.high_risk_job import KINDS, JobState

_long_text = validate.Length(max=20000)
_reason = validate.Length(min=1, max=2000)


class CrewEntryIn(StrictSchema):
    """One line of the crew summary: a named person of the enterprise or a contractor's worker."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.Length(min=1, max=50))
    person_id = fields.UUID(load_default=None)
    organisation = fields.String(load_default=None, validate=validate.Length(max=200))


class JobIn(StrictSchema):
    """A job as the enterprise files it (a draft); state, enterprise and decisions are never set by the client."""

    kind = fields.String(
        required=True,
        validate=validate.OneOf(list(KINDS)),
        metadata={"description": "leak_plugging 堵漏, tank_cleaning 清罐, water_draining 切水, "
                  "unplanned_maintenance 非计划检维修, consent_report (upgraded work FZ-02 / red grade RG-02)"},
    )  # fmt: skip
    area_id = fields.UUID(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = Text(load_default="", validate=_long_text)
    risk_analysis = Text(load_default="", validate=_long_text)
    planned_headcount = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))
    crew = fields.List(fields.Nested(CrewEntryIn), load_default=list, validate=validate.Length(max=200))
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)

    @validates_schema
    def _window(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise ValidationError("须晚于开始时间 / must be after starts_at", field_name="ends_at")


class JobPatch(JobIn):
    """The fields of a draft to change; any subset (nothing missing is reset to a default)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "partial": True})


class AttachPermitIn(StrictSchema):
    """A permit of the enterprise, not yet approved, to carry in the job."""

    permit_id = fields.UUID(required=True)


class ConsentIn(StrictSchema):
    """The regulator's consent, with an optional comment or conditions."""

    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


class ReasonIn(StrictSchema):
    """A refusal or cancellation: the reason is required."""

    reason = fields.String(required=True, validate=_reason)


class ConfirmOnSiteIn(StrictSchema):
    """The principal's on-site confirmation (HR-02): the job's area and a position fix or the principal's card."""

    evidence = fields.Nested(Evidence, required=True)


class JobQueryArgs(PageArgs):
    """Filters of the job list and the regulator's queue."""

    state = fields.String(load_default=None, validate=validate.OneOf([s.value for s in JobState]))
    kind = fields.String(load_default=None, validate=validate.OneOf(list(KINDS)))
    enterprise_id = fields.UUID(load_default=None)


class CrewEntryOut(StrictSchema):
    """A crew line as filed."""

    name = fields.String()
    role = fields.String()
    person_id = fields.String(allow_none=True)
    organisation = fields.String(allow_none=True)


class PermitCrewOut(StrictSchema):
    """A person named on a carried permit."""

    person_id = fields.UUID()
    name = fields.String()
    role = fields.String()


class CarriedPermitOut(StrictSchema):
    """A permit carried by the job, as the regulator reviews it."""

    id = fields.UUID()
    number = fields.String()
    type = fields.String()
    grade = fields.String(allow_none=True)
    state = fields.String()
    title = fields.String()
    area_id = fields.UUID()
    valid_from = AwareDateTime()
    valid_until = AwareDateTime()
    risk_analysis = fields.String()
    high_risk_kind = fields.String(allow_none=True, metadata={"description": "Plan-27 kind declared (HR-01)"})
    crew = fields.List(fields.Nested(PermitCrewOut))
    attached_at = AwareDateTime()


class AreaRef(StrictSchema):
    """The job's area."""

    id = fields.UUID()
    code = fields.String()
    name = fields.String()


class JobSummaryOut(StrictSchema):
    """A job in a list or queue."""

    id = fields.UUID()
    enterprise_id = fields.UUID()
    enterprise_name = fields.String(attribute="enterprise.name")
    area = fields.Nested(AreaRef)
    kind = fields.String()
    state = fields.String()
    version = fields.Integer()
    title = fields.String()
    planned_headcount = fields.Integer()
    starts_at = AwareDateTime()
    ends_at = AwareDateTime()
    grounds = fields.List(fields.String())
    permit_count = fields.Function(lambda job: len(job.permit_links))
    reported_at = AwareDateTime(allow_none=True)
    created_at = AwareDateTime()


class JobOut(JobSummaryOut):
    """A job with everything the regulator reviews (HR-03) and the actions the caller may take next."""

    description = fields.String()
    risk_analysis = fields.String()
    crew = fields.List(fields.Nested(CrewEntryOut))
    permits = fields.List(fields.Nested(CarriedPermitOut))
    created_by_id = fields.UUID()
    reported_by_id = fields.UUID(allow_none=True)
    decided_at = AwareDateTime(allow_none=True)
    decided_by_id = fields.UUID(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    confirmed_at = AwareDateTime(allow_none=True)
    confirmed_by_id = fields.UUID(allow_none=True)
    confirmation_evidence = fields.Dict(allow_none=True)
    started_at = AwareDateTime(allow_none=True)
    closed_at = AwareDateTime(allow_none=True)
    cancelled_at = AwareDateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    updated_at = AwareDateTime()
    allowed_actions = fields.List(fields.String())


class JobPage(PageSchema):
    """A page of jobs."""

    items = fields.List(fields.Nested(JobSummaryOut))


class ReportQueue(JobPage):
    """The regulator's queue: a page of reports and how many are in each state under the same filters."""

    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
