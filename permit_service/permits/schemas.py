"""Schemas of the permit API: filing a draft, each action's body, and what a permit looks like to its reader."""

from __future__ import annotations

from marshmallow import fields, validate, validates_schema
from marshmallow.exceptions import ValidationError

from permit_service.api.conventions import PageArgs, PageSchema
from permit_service.api.fields import AwareDateTime, FiniteFloat, StrictBoolean, StrictSchema, Text
from permit_service.freezes.schemas import calendar_notice
from workflows import WORKFLOWS
from workflows.high_risk_job import PLAN27_KINDS
from workflows.rules.plan27 import NOT_PLAN27
from workflows.states import State
from workflows.weather import CONDITIONS, MAX_WIND_LEVEL

PERMIT_TYPES = sorted(WORKFLOWS)
PERMIT_STATES = [state.value for state in State]
PERMIT_GRADES = sorted({g["code"] for wf in WORKFLOWS.values() for g in wf.catalogue()["grades"]} - {None})
CREW_ROLES = ("work_leader", "worker", "guardian", "signaller", "analyst", "briefer", "electrician", "other")
_text = validate.Length(max=4000)


class MeasureIn(StrictSchema):
    """An answer to a line of the type's Appendix A list, or a line the applicant adds (G-02).

    With `code`: the listed line answered involved / not involved (是否涉及), with the `counts` its blanks ask for
    (see GET /permit-types). Without `code`: a further measure in the applicant's own `text`, printed under
    "其他安全措施". Who confirmed a line is recorded after submission, line by line (PUT .../confirmation).
    """

    code = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "the listed line, e.g. A1-02; none for an added line"},
    )
    involved = StrictBoolean(load_default=None, metadata={"description": "是否涉及: the line applies"})
    counts = fields.Dict(
        keys=fields.String(validate=validate.Length(max=32)),
        values=fields.Integer(strict=True, validate=validate.Range(min=0, max=10_000)),
        load_default=dict,
        metadata={"description": 'the counts the line asks for, e.g. {"blinds": 2}'},
    )
    text = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "an added line's measure, in the applicant's words"},
    )


class CrewIn(StrictSchema):
    """A person on the permit in a crew role. The certificates the work needs are not declared here: the service
    checks those on the person's record (G-13)."""

    person_id = fields.UUID(required=True)
    role = fields.String(required=True, validate=validate.OneOf(CREW_ROLES))


_CLOCK = validate.Regexp(
    r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="须为 HH:MM（00:00-23:59）/ must be HH:MM (00:00-23:59)"
)


class WorkingPeriod(StrictSchema):
    """A daily working period 作业时段 in Asia/Shanghai local time (HW-03): it applies on every day of the validity
    and is cut to it; one ending at or before its start runs past midnight (a night shift, e.g. 20:00-04:00)."""

    start = fields.String(required=True, validate=_CLOCK, metadata={"example": "08:00"})
    end = fields.String(required=True, validate=_CLOCK, metadata={"example": "12:00"})


def _working_periods(**kwargs: object) -> fields.List:
    return fields.List(
        fields.Nested(WorkingPeriod),
        allow_none=True,
        validate=validate.Length(max=6),
        metadata={
            "description": "HW-03, hot work: the daily periods the work is done in, e.g. a day shift "
            '[{"start": "08:00", "end": "12:00"}, {"start": "13:30", "end": "17:30"}] or a night shift '
            '[{"start": "20:00", "end": "04:00"}]. Only periods at night (policy, 20:00-06:00) or on a rest day '
            "upgrade the grade, and the permit is active only within them: the service suspends it at a period's "
            "end and resuming re-tests the gas after the interruption (HW-06). Periods have a length, do not "
            "overlap and each falls within the validity (409 HW-03 otherwise). null or []: none stated, the "
            "whole validity is working time."
        },
        **kwargs,
    )


def _high_risk_kind(**kwargs: object) -> fields.String:
    return fields.String(
        validate=validate.OneOf([*sorted(PLAN27_KINDS), NOT_PLAN27]),
        metadata={
            "description": "是否属于堵漏、清罐、切水、非计划检维修作业（计划第27条），每张作业票都须回答，不属于时为 none / "
            "whether the work is leak plugging, tank cleaning, water draining or unplanned maintenance (Plan 27, "
            "HR-01): every permit answers it, none when it is not. A Plan-27 kind is approved only under a "
            "high-risk job of that kind the regulator consented to. Work that obviously is Plan-27 work (on a "
            "leaking line, a tank entered to clean it, water draining among its activities) cannot answer none."
        },
        **kwargs,
    )


def _work_unit(**kwargs: object) -> fields.String:
    return fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "作业单位: the unit doing the work"},
        **kwargs,
    )


def _contractor(**kwargs: object) -> StrictBoolean:
    return StrictBoolean(
        metadata={
            "description": "the work unit is a contractor (outsourced work): the enterprise's outsourcing "
            "checklist is confirmed before approval as well as its site checklist (SD-02)"
        },
        **kwargs,
    )


class PermitCreate(StrictSchema):
    """File a permit as a draft with its facts, area, window, crew, hazard analysis and measures."""

    type = fields.String(required=True, validate=validate.OneOf(PERMIT_TYPES))
    area_id = fields.UUID(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    location = fields.String(load_default="", validate=validate.Length(max=200))
    work_content = Text(load_default="", validate=_text)
    valid_from = AwareDateTime(required=True)
    valid_until = AwareDateTime(required=True)
    working_periods = _working_periods(load_default=None)
    grade = fields.String(
        load_default=None,
        validate=validate.Length(max=16),
        metadata={"description": "declared grade; the service derives the grade and refuses a lower one"},
    )
    facts = fields.Dict(
        keys=fields.String(validate=validate.Length(max=64)),
        load_default=dict,
        metadata={"description": "type-specific facts, see GET /api/v1/permit-types"},
    )
    risk_analysis = Text(load_default="", validate=_text)
    measures = fields.List(fields.Nested(MeasureIn), load_default=list, validate=validate.Length(max=200))
    crew = fields.List(fields.Nested(CrewIn), load_default=list, validate=validate.Length(max=100))
    linked_permit_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=20))
    high_risk_kind = _high_risk_kind(required=True)
    work_unit = _work_unit(load_default="")
    contractor = _contractor(load_default=False)

    @validates_schema
    def _window(self, data: dict, **_kw: object) -> None:
        if data.get("valid_from") and data.get("valid_until") and data["valid_until"] <= data["valid_from"]:
            raise ValidationError("须晚于开始时间 / must be after valid_from", field_name="valid_until")


class PermitUpdate(StrictSchema):
    """Change a draft (a signed permit is never edited: void and re-issue it, G-07)."""

    title = fields.String(validate=validate.Length(min=1, max=200))
    location = fields.String(validate=validate.Length(max=200))
    work_content = Text(validate=_text)
    valid_from = AwareDateTime()
    valid_until = AwareDateTime()
    working_periods = _working_periods()
    grade = fields.String(allow_none=True, validate=validate.Length(max=16))
    facts = fields.Dict(keys=fields.String(validate=validate.Length(max=64)))
    risk_analysis = Text(validate=_text)
    measures = fields.List(fields.Nested(MeasureIn), validate=validate.Length(max=200))
    crew = fields.List(fields.Nested(CrewIn), validate=validate.Length(max=100))
    linked_permit_ids = fields.List(fields.UUID(), validate=validate.Length(max=20))
    high_risk_kind = _high_risk_kind()
    work_unit = _work_unit()
    contractor = _contractor()


class Evidence(StrictSchema):
    """Where the signer was: on-site evidence of an approval or confirmation (G-06)."""

    area_id = fields.UUID(load_default=None)
    position = fields.Dict(
        keys=fields.String(validate=validate.OneOf(["lat", "lon", "x", "y", "floor", "accuracy_m"])),
        values=FiniteFloat(),
        load_default=None,
    )
    card_id = fields.String(
        load_default=None,
        validate=validate.Length(max=64),
        metadata={"description": "optional: only the signer's own card may be named; it is checked anyway"},
    )
    declared = StrictBoolean(
        load_default=False,
        metadata={
            "description": "declare presence: accepted only in an area the regulator exempted for lack of "
            "positioning coverage, and marked declared everywhere it shows"
        },
    )


class Weather(StrictSchema):
    """The weather the signer observes on site (WH-02, LF-03, HW-03): judged instead of what was declared at filing."""

    wind_level = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=MAX_WIND_LEVEL),
        metadata={"description": "wind force level 0-17 (GB/T 28591)"},
    )
    conditions = fields.List(
        fields.String(validate=validate.OneOf(sorted(CONDITIONS))),
        load_default=list,
        validate=validate.Length(max=len(CONDITIONS)),
        metadata={
            "description": "rain, snow, rainstorm 暴雨, heavy_snow 大雪, heavy_fog 大雾, dense_fog 浓雾"
        },
    )


class ActionBody(StrictSchema):
    """Body shared by most actions: a comment and the role the caller signs in."""

    comment = Text(load_default="", validate=_text)
    role = fields.String(
        load_default=None, validate=validate.Length(max=32), metadata={"description": "signing role"}
    )


class ApproveBody(ActionBody):
    """Approve on site (G-06), with the weather observed there (WH-02, LF-03, HW-03)."""

    evidence = fields.Nested(Evidence, required=True)
    weather = fields.Nested(
        Weather, metadata={"description": "the weather on site now; stored with the approval"}
    )


class ActivateBody(ActionBody):
    """Start the work, with the weather observed on site (WH-02, LF-03, HW-03)."""

    weather = fields.Nested(
        Weather, metadata={"description": "the weather on site now; stored with the start"}
    )


class CountersignBody(ActionBody):
    """Countersign as one of the departments concerned (EX-01, RC-01)."""

    department = fields.String(load_default=None, validate=validate.Length(max=100))
    evidence = fields.Nested(Evidence, load_default=None)


class ReasonBody(ActionBody):
    """An action that needs a reason (reject, suspend, cancel, void)."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    # The core reads `reason_code` (EX-03 found_object, HW-08 gas_alarm); the API calls it `kind`.
    reason_code = fields.String(
        data_key="kind",
        load_default=None,
        validate=validate.Length(max=50),
        metadata={"description": "e.g. found_object (EX-03), gas_alarm (HW-08)"},
    )
    found_object = Text(
        load_default=None,
        validate=validate.Length(max=2000),
        metadata={"description": "the exposed cable, pipe or unknown object found (EX-03)"},
    )


class BriefBody(ActionBody):
    """A safety briefing signature (G-05): the briefer, then every worker acknowledges."""

    person_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=100))


class ResumeBody(ActionBody):
    """Resume after a suspension: the conditions are re-confirmed (G-08), with the weather seen on site (WH-02, LF-03)."""

    conditions_confirmed = fields.Boolean(required=True)
    weather = fields.Nested(
        Weather, metadata={"description": "the weather on site now; stored with the resumption"}
    )
    found_object_disposal = Text(
        load_default=None,
        validate=validate.Length(max=2000),
        metadata={"description": "how a found object was reported and dealt with (EX-03)"},
    )


class AcceptBody(ActionBody):
    """Completion acceptance (G-11, BP-04, RC-02)."""

    site_restored = fields.Boolean(required=True)
    party = fields.String(load_default=None, validate=validate.OneOf(["work_unit", "enterprise"]))
    traffic_restored = fields.Boolean(load_default=None)


class GasReadingIn(StrictSchema):
    """One reading as measured; the service converts units and judges it."""

    gas = fields.String(required=True, validate=validate.Length(min=1, max=32))
    value = FiniteFloat(required=True, validate=validate.Range(min=0, max=1_000_000))
    unit = fields.String(required=True, validate=validate.OneOf(["%vol", "%LEL", "ppm", "mg/m3"]))


class GasTestIn(StrictSchema):
    """A gas analysis by an analyst; pass or fail is computed by the service (HW-05, CS-02)."""

    sampled_at = AwareDateTime(required=True)
    point = fields.String(load_default="", validate=validate.Length(max=200))
    readings = fields.List(
        fields.Nested(GasReadingIn), required=True, validate=validate.Length(min=1, max=50)
    )
    comment = Text(load_default="", validate=_text)


class PermitQueryArgs(PageArgs):
    """Filters of the permit list."""

    type = fields.String(load_default=None, validate=validate.OneOf(PERMIT_TYPES))
    state = fields.String(load_default=None, validate=validate.OneOf(PERMIT_STATES))
    area_id = fields.UUID(load_default=None)
    enterprise_id = fields.UUID(load_default=None)
    number = fields.String(load_default=None, validate=validate.Length(max=32))


class MeasureAskOut(StrictSchema):
    """A blank of a line that records a count."""

    name = fields.String()
    zh = fields.String()
    en = fields.String()
    unit = fields.String()


class MeasureOut(StrictSchema):
    """A safety-measure line of the permit's list with its answer, counts and confirmer (G-02)."""

    code = fields.String()
    zh = fields.String(
        metadata={"description": "the standard's wording (an added or legacy line: the applicant's)"}
    )
    en = fields.String()
    involved = fields.Boolean(allow_none=True, metadata={"description": "是否涉及; null: not answered yet"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    asks = fields.List(fields.Nested(MeasureAskOut), metadata={"description": "the counts the line asks for"})
    confirmed_by = fields.String(
        allow_none=True, metadata={"description": "确认人: the person who confirmed it"}
    )
    confirmed_at = AwareDateTime(allow_none=True)
    added = fields.Boolean(metadata={"description": "a line the applicant added under 其他安全措施"})


class CrewOut(StrictSchema):
    """A crew member; the certificate is the one on the person's record that submit accepted for the work (G-13),
    null where the role needs none or before submission."""

    person_id = fields.UUID()
    role = fields.String()
    certificate_kind = fields.String(
        allow_none=True, metadata={"description": "see the catalogue's certificates"}
    )
    certificate_number = fields.String(allow_none=True)
    certificate_expires_on = fields.Date(allow_none=True)


class SignatureOut(StrictSchema):
    """A signature."""

    kind = fields.String()
    role = fields.String()
    person_id = fields.UUID(allow_none=True, metadata={"description": "null: signed by the system"})
    at = AwareDateTime()
    evidence = fields.Dict()
    on_site = fields.String(
        allow_none=True,
        metadata={
            "description": "G-06 on-site evidence the service checked: card_sighting (the signer's own card seen "
            "in the area by positioning), position_fix (inside the area's boundary), declared (an area the "
            "regulator exempted; not seen); null: a signature that needs none"
        },
    )


class GasReadingOut(StrictSchema):
    """A reading as measured and as stored."""

    gas = fields.String()
    value = fields.Float()
    unit = fields.String()


class GasTestOut(StrictSchema):
    """A gas analysis with the service's verdict."""

    id = fields.UUID()
    analyst_id = fields.UUID()
    sampled_at = AwareDateTime()
    point = fields.String()
    readings = fields.List(fields.Dict())
    passed = fields.Boolean()
    findings = fields.List(fields.Dict())
    recorded_at = AwareDateTime()


class LinkOut(StrictSchema):
    """A linked permit (G-03)."""

    id = fields.UUID(attribute="linked_id")
    number = fields.String(attribute="linked.number")
    type = fields.String(attribute="linked.type", validate=validate.OneOf(PERMIT_TYPES))
    state = fields.String(attribute="linked.state", validate=validate.OneOf(PERMIT_STATES))
    relation = fields.String()


class RuleMessageOut(StrictSchema):
    """A rule that blocks, with its message in Chinese and English."""

    rule = fields.String(metadata={"description": "ID of the rule in rules.md"})
    message_zh = fields.String()
    message_en = fields.String()


class BlockedActionOut(StrictSchema):
    """An action the caller's role could take and the rules that block it now."""

    action = fields.String()
    violations = fields.List(fields.Nested(RuleMessageOut))


class PermitOut(StrictSchema):
    """A permit as its reader sees it, with the actions the caller may take next."""

    id = fields.UUID()
    number = fields.String()
    enterprise_id = fields.UUID()
    area_id = fields.UUID()
    type = fields.String(validate=validate.OneOf(PERMIT_TYPES))
    grade = fields.String(allow_none=True, validate=validate.OneOf(PERMIT_GRADES))
    state = fields.String(validate=validate.OneOf(PERMIT_STATES))
    version = fields.Integer()
    title = fields.String()
    location = fields.String()
    work_content = fields.String()
    valid_from = AwareDateTime()
    valid_until = AwareDateTime()
    working_periods = fields.List(
        fields.Nested(WorkingPeriod),
        allow_none=True,
        metadata={"description": "HW-03: the daily working periods; null: none stated, the whole validity"},
    )
    facts = fields.Dict()
    risk_analysis = fields.String()
    high_risk_kind = fields.String(allow_none=True)
    work_unit = fields.String()
    contractor = fields.Boolean()
    measure_list_version = fields.Integer(
        metadata={
            "description": "the Appendix A list version the permit was filed under (0: before the lists)"
        }
    )
    measures = fields.List(fields.Nested(MeasureOut), metadata={"description": "every line of that list"})
    crew = fields.List(fields.Nested(CrewOut))
    countersign_departments = fields.List(
        fields.String(),
        metadata={
            "description": "the departments that must countersign (EX-01, RC-01), fixed at submission from the "
            "enterprise's configuration; each by a different person of that department"
        },
    )
    signatures = fields.List(fields.Nested(SignatureOut))
    gas_tests = fields.List(fields.Nested(GasTestOut))
    links = fields.List(fields.Nested(LinkOut))
    applicant_id = fields.UUID()
    reissued_from_id = fields.UUID(allow_none=True)
    status_reason = fields.String(allow_none=True)
    created_at = AwareDateTime()
    updated_at = AwareDateTime()
    activated_at = AwareDateTime(allow_none=True)
    suspended_at = AwareDateTime(allow_none=True)
    allowed_actions = fields.List(fields.String())
    blocked_actions = fields.List(
        fields.Nested(BlockedActionOut),
        metadata={
            "description": "受规则阻止的操作：调用者的角色可以执行、但规则尚不允许，附规则编号和缺少的内容 / the actions "
            "the caller's role could take that rules block now, each with the rule IDs and what is missing (e.g. "
            "approve — G-02: lines A1-03, A1-08 unconfirmed)"
        },
    )
    calendar_notice = calendar_notice("the validity")


class PermitMinimalOut(StrictSchema):
    """The answer to a permit write sent with `Prefer: return=minimal` (RFC 7240): what the write made of the
    permit, without its signatures, gas tests and the caller's next actions (GET the permit for those)."""

    id = fields.UUID()
    number = fields.String()
    type = fields.String(validate=validate.OneOf(PERMIT_TYPES))
    state = fields.String(validate=validate.OneOf(PERMIT_STATES))
    version = fields.Integer(metadata={"description": "the version the ETag names"})
    updated_at = AwareDateTime()


class GasVerdictOut(StrictSchema):
    """The verdict on the gas test just recorded (HW-05, CS-02)."""

    id = fields.UUID()
    passed = fields.Boolean()
    findings = fields.List(
        fields.Dict(),
        metadata={"description": "what failed: each with its rule and messages; empty if passed"},
    )


class GasTestMinimalOut(PermitMinimalOut):
    """The minimal answer to a gas test: the permit (a failed test may have suspended it, HW-08) and the verdict."""

    gas_test = fields.Nested(GasVerdictOut)


class PermitSummary(StrictSchema):
    """A permit in a list."""

    id = fields.UUID()
    number = fields.String()
    enterprise_id = fields.UUID()
    area_id = fields.UUID()
    type = fields.String(validate=validate.OneOf(PERMIT_TYPES))
    grade = fields.String(allow_none=True, validate=validate.OneOf(PERMIT_GRADES))
    state = fields.String(validate=validate.OneOf(PERMIT_STATES))
    version = fields.Integer()
    title = fields.String()
    valid_from = AwareDateTime()
    valid_until = AwareDateTime()
    created_at = AwareDateTime()


class PermitPage(PageSchema):
    """A page of permits."""

    items = fields.List(fields.Nested(PermitSummary))


class EventOut(StrictSchema):
    """An event of the permit's timeline: who (name, roles, the role signed in), what, when, with which evidence,
    from which request (AU-01)."""

    id = fields.Integer(attribute="event.id")
    seq = fields.Integer(
        attribute="event.seq", metadata={"description": "position in the permit's hash chain"}
    )
    at = AwareDateTime(attribute="event.at")
    kind = fields.String(attribute="event.kind")
    actor_id = fields.String(attribute="event.actor_id")
    actor_name = fields.String(
        allow_none=True, metadata={"description": "null for the system or a plant feed"}
    )
    actor_roles = fields.List(fields.String(), attribute="event.actor_roles")
    role = fields.String(
        allow_none=True, metadata={"description": "the role the actor signed in, if a signature"}
    )
    evidence = fields.Dict(
        allow_none=True, metadata={"description": "the signature's on-site evidence, if any"}
    )
    request_id = fields.String(attribute="event.request_id", allow_none=True)
    data = fields.Dict(attribute="event.data")
    hash = fields.String(attribute="event.hash")
