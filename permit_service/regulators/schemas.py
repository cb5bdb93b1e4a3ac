"""Schemas of the regulator API: risk grades, notifications and the district overview."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from permit_service.api.conventions import PageArgs, PageSchema
from permit_service.api.fields import AwareDateTime, StrictSchema
from permit_service.audit.retention import MIN_RETENTION_DAYS
from permit_service.directory.models import RISK_GRADES
from permit_service.permits.schemas import PermitSummary


class RiskGradeIn(StrictSchema):
    """A grading: red, orange, yellow or blue, with the reason (RG-01)."""

    grade = fields.String(required=True, validate=validate.OneOf(RISK_GRADES))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class RiskGradeOut(StrictSchema):
    """One grading in an enterprise's history."""

    id = fields.UUID()
    enterprise_id = fields.UUID()
    grade = fields.String()
    previous_grade = fields.String()
    reason = fields.String()
    set_by_id = fields.UUID()
    created_at = AwareDateTime()


class RiskGradePage(PageSchema):
    """A page of gradings, newest first."""

    items = fields.List(fields.Nested(RiskGradeOut))


class NotificationQueryArgs(PageArgs):
    """Filters of the notification list."""

    enterprise_id = fields.UUID(load_default=None)


class NotifiedPermitOut(StrictSchema):
    """The permit a notification is about."""

    id = fields.UUID()
    number = fields.String()
    type = fields.String()
    grade = fields.String(allow_none=True)
    state = fields.String()
    title = fields.String()
    valid_from = AwareDateTime()
    valid_until = AwareDateTime()


class NotificationOut(StrictSchema):
    """What the regulator is told: a permit of an orange enterprise (RG-02) or a new principal leader (HR-02)."""

    id = fields.UUID()
    enterprise_id = fields.UUID()
    enterprise_name = fields.String(attribute="enterprise.name")
    permit = fields.Nested(NotifiedPermitOut, allow_none=True)
    job_id = fields.UUID(allow_none=True)
    rule = fields.String()
    reasons = fields.List(
        fields.String(),
        metadata={"description": "special_grade, level_1, high_risk_job; principal_changed (HR-02)"},
    )
    enterprise_grade = fields.String()
    data = fields.Dict(
        allow_none=True,
        metadata={
            "description": "principal_changed: the principal leader before (from) and after (to), and why"
        },
    )
    created_at = AwareDateTime()


class NotificationPage(PageSchema):
    """A page of notifications, newest first."""

    items = fields.List(fields.Nested(NotificationOut))


class CheckpointQueryArgs(PageArgs):
    """Narrow the checkpoints to one enterprise of the caller's region."""

    enterprise_id = fields.UUID(load_default=None)


class CheckpointOut(StrictSchema):
    """A sealed checkpoint: keep it (scope, seq and hash suffice) and check the history against it later with
    `permit-service audit verify --checkpoint FILE` (AU-02)."""

    id = fields.UUID()
    scope = fields.String(metadata={"description": "enterprise:<id>, region:<id> or system"})
    enterprise_id = fields.UUID(allow_none=True)
    region_id = fields.UUID(allow_none=True)
    seq = fields.Integer(metadata={"description": "1, 2, 3... within the scope"})
    sealed_at = AwareDateTime(attribute="created_at")
    heads_root = fields.String(
        metadata={"description": "SHA-256 over the sealed chain heads, in chain order"}
    )
    chains = fields.Integer(metadata={"description": "chains that moved since the previous checkpoint"})
    events = fields.Integer(metadata={"description": "events of the scope up to this checkpoint"})
    prev_hash = fields.String()
    hash = fields.String()


class CheckpointPage(PageSchema):
    """A page of checkpoints, newest first."""

    items = fields.List(fields.Nested(CheckpointOut))


class ExportArgs(StrictSchema):
    """The period to export: from (inclusive) until (exclusive), optionally one enterprise."""

    start = AwareDateTime(required=True, data_key="from")
    end = AwareDateTime(required=True, data_key="until")
    enterprise_id = fields.UUID(load_default=None)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["end"] <= data["start"]:
            raise ValidationError("须晚于 from / must be after from", "until")


class ExportedEvent(StrictSchema):
    """One line of an export: an event with everything its hash covers (AU-02)."""

    type = fields.Constant("event")
    id = fields.Integer()
    chain = fields.String()
    seq = fields.Integer()
    at = AwareDateTime()
    kind = fields.String()
    actor_id = fields.String()
    actor_roles = fields.List(fields.String())
    enterprise_id = fields.UUID(allow_none=True)
    region_id = fields.UUID(allow_none=True)
    subject_type = fields.String()
    subject_id = fields.String()
    data = fields.Dict()
    request_id = fields.String(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


class ExportedCheckpoint(CheckpointOut):
    """The last lines of an export: the checkpoint each enterprise's events end on."""

    type = fields.Constant("checkpoint")


class RetentionArgs(PageArgs):
    """How long finished permits are kept before they may be archived: at least a year (AU-03)."""

    days = fields.Integer(load_default=MIN_RETENTION_DAYS, validate=validate.Range(min=MIN_RETENTION_DAYS))


class RetentionPage(PageSchema):
    """A page of finished permits past the retention period, newest first."""

    items = fields.List(fields.Nested(PermitSummary))


class OverviewArgs(StrictSchema):
    """Narrow the overview to one district or zone of the caller's region."""

    region_id = fields.UUID(load_default=None)


class PermitBuckets(StrictSchema):
    """Permits at work, suspended, and pending (submitted or countersigned, waiting for approval)."""

    active = fields.Integer()
    suspended = fields.Integer()
    pending = fields.Integer()


class EnterpriseBuckets(PermitBuckets):
    """The buckets of one enterprise."""

    enterprise_id = fields.UUID()
    name = fields.String()


class TypeBuckets(PermitBuckets):
    """The buckets of one permit type."""

    type = fields.String()


class GradeBuckets(PermitBuckets):
    """The buckets of one permit grade (null for types without grades)."""

    grade = fields.String(allow_none=True)


class PermitOverview(StrictSchema):
    """Permit counts of the region."""

    totals = fields.Nested(PermitBuckets)
    by_enterprise = fields.List(fields.Nested(EnterpriseBuckets))
    by_type = fields.List(fields.Nested(TypeBuckets))
    by_grade = fields.List(fields.Nested(GradeBuckets))


class ReportOverview(StrictSchema):
    """Reports waiting for the regulator's decision."""

    pending = fields.Integer()
    pending_by_kind = fields.Dict(keys=fields.String(), values=fields.Integer())


class AlarmOverview(StrictSchema):
    """Alarms of the region (DC-01..03, HC-04)."""

    open = fields.Integer(metadata={"description": "alarms whose permit is still suspended"})
    last_24h = fields.Integer(metadata={"description": "alarms raised in the last 24 hours"})
    last_24h_by_kind = fields.Dict(keys=fields.String(), values=fields.Integer())


class OnSiteCounts(StrictSchema):
    """Approvals by the kind of on-site evidence the service checked (G-06)."""

    card_sighting = fields.Integer(metadata={"description": "the approver's own card seen in the area"})
    position_fix = fields.Integer(metadata={"description": "a position fix inside the area's boundary"})
    declared = fields.Integer(metadata={"description": "declared in an exempted area: not seen"})


class EnterpriseOnSiteCounts(OnSiteCounts):
    """One enterprise's approvals by on-site evidence."""

    enterprise_id = fields.UUID()
    name = fields.String()


class OnSiteOverview(StrictSchema):
    """How the approvals of the region's enterprises were proven on site: how many were declared, not seen (G-06)."""

    totals = fields.Nested(OnSiteCounts)
    by_enterprise = fields.List(fields.Nested(EnterpriseOnSiteCounts))


class PrincipalOnRecord(StrictSchema):
    """The principal leader an enterprise has on record (HR-02); null person: none recorded yet."""

    enterprise_id = fields.UUID()
    enterprise_name = fields.String()
    person_id = fields.UUID(allow_none=True)
    name = fields.String(allow_none=True)
    since = AwareDateTime(allow_none=True)


class OverviewOut(StrictSchema):
    """What a regulator's region looks like right now."""

    region_id = fields.UUID(allow_none=True)
    generated_at = AwareDateTime()
    permits = fields.Nested(PermitOverview)
    reports = fields.Nested(ReportOverview)
    enterprises_by_grade = fields.Dict(keys=fields.String(), values=fields.Integer())
    alarms = fields.Nested(AlarmOverview)
    on_site_evidence = fields.Nested(OnSiteOverview)
    principals = fields.List(fields.Nested(PrincipalOnRecord))
