"""Schemas of the directory: regions, enterprises, plant areas, people (input and output kept apart)."""

from __future__ import annotations

from datetime import date
from typing import Any

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from permit_service.api.conventions import PageArgs, PageSchema
from permit_service.api.fields import AwareDateTime, StrictBoolean, StrictSchema
from permit_service.auth.principal import ENTERPRISE_ROLES
from permit_service.config import settings
from permit_service.directory.geometry import BoundaryError, as_geojson, parse_boundary
from permit_service.directory.models import RISK_GRADES
from workflows import gas
from workflows.certificates import KINDS as CERTIFICATE_KINDS
from workflows.vocabulary import DEPARTMENT_NAMES

MAX_HEADCOUNT_LIMIT = 1000
_CODE = validate.Regexp(r"^[^\s]+$", error="不能含空白 / must not contain whitespace")
_NOT_BLANK = validate.Regexp(r"^\S(.*\S)?$", error="不能为空白或首尾空白 / must not be blank or padded")
_USERNAME = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$",
    error="字母、数字开头，仅含字母数字及 . _ @ + - / letters and digits, then . _ @ + - only",
)
_CARD = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9._:-]*$", error="仅含字母数字及 . _ : - / letters, digits and . _ : - only"
)
_PHONE = validate.Regexp(r"^\+?[0-9][0-9 -]{4,30}$", error="电话号码格式不正确 / not a phone number")
_ROLE = validate.OneOf(sorted(ENTERPRISE_ROLES))


def _headcount(**kw: Any) -> fields.Integer:
    return fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_HEADCOUNT_LIMIT),
        metadata={"description": "people allowed in the area at once (null: no area limit)"},
        **kw,
    )


def _roles(**kw: Any) -> fields.List:
    return fields.List(
        fields.String(validate=_ROLE),
        validate=validate.Length(min=1, max=len(ENTERPRISE_ROLES)),
        metadata={"description": "enterprise roles (rules.md §0)"},
        **kw,
    )


_BOUNDARY_DOC = (
    "区域边界：GeoJSON Polygon 或 MultiPolygon，坐标系与本企业定位平台上报的一致（经纬度或厂区平面坐标，x/经度在前）；"
    "null 表示未划定 / the area's outline as a GeoJSON Polygon or MultiPolygon in the coordinates the enterprise's "
    "positioning platform reports (lon/lat or a plant grid, x first); null: none drawn. A position fix is on-site "
    "evidence only inside it (G-06)."
)


class Boundary(fields.Field):
    """A GeoJSON Polygon/MultiPolygon checked with shapely (valid, finite, non-empty); loads as plain GeoJSON."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return as_geojson(parse_boundary(value))
        except BoundaryError as exc:
            raise ValidationError(str(exc)) from None


def _boundary(**kw: Any) -> Boundary:
    return Boundary(allow_none=True, metadata={"description": _BOUNDARY_DOC, "type": "object"}, **kw)


# --- regions and enterprises -------------------------------------------------------------------


class RegionSchema(StrictSchema):
    """A city, district or functional zone."""

    id = fields.UUID(dump_only=True)
    code = fields.String()
    name = fields.String()
    name_en = fields.String()
    level = fields.String()
    parent_id = fields.UUID(allow_none=True)


class EnterpriseSchema(StrictSchema):
    """An enterprise as its staff and regulators see it."""

    id = fields.UUID(dump_only=True)
    name = fields.String()
    credit_code = fields.String()
    region_id = fields.UUID()
    park_id = fields.UUID(allow_none=True)
    risk_grade = fields.String()
    created_at = AwareDateTime()
    principal = fields.Nested(
        "PrincipalSchema",
        attribute="principal_record",
        allow_none=True,
        metadata={"description": "the principal leader on record with the regulator (HR-02); null: none yet"},
    )


class PrincipalSchema(StrictSchema):
    """The principal leader on an enterprise's record (HR-02)."""

    person_id = fields.UUID(attribute="principal_id")
    name = fields.String(attribute="principal.name")
    since = AwareDateTime(attribute="principal_since")


class PrincipalIn(StrictSchema):
    """Record who the principal leader is (chairman, general manager or actual controller), with why (HR-02)."""

    person_id = fields.UUID(required=True, metadata={"description": "an active person of the enterprise"})
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=2000), _NOT_BLANK])


class EnterprisePageSchema(PageSchema):
    """A page of enterprises."""

    items = fields.List(fields.Nested(EnterpriseSchema))


class EnterpriseQueryArgs(PageArgs):
    """Filters of the enterprise list."""

    risk_grade = fields.String(load_default=None, validate=validate.OneOf(RISK_GRADES))
    region_id = fields.UUID(load_default=None)


# --- plant areas -------------------------------------------------------------------------------


class PositioningExemptionSchema(StrictSchema):
    """The regulator's record that positioning does not cover an area (G-06)."""

    reason = fields.String(attribute="positioning_exemption_reason")
    recorded_at = AwareDateTime(attribute="positioning_exempted_at")
    recorded_by_id = fields.UUID(attribute="positioning_exempted_by_id")


def _media_known(codes: list[str]) -> None:
    """G-14: the media are gases of the catalogue (with the policy's additions), never free text."""
    known = set(gas.gas_table(settings().policy)) - {"O2"}
    if unknown := [c for c in codes if c not in known]:
        raise ValidationError(
            f"未知介质：{', '.join(unknown)}（可选：{', '.join(sorted(known))}） / "
            f"unknown media: {', '.join(unknown)} (known gases: {', '.join(sorted(known))})"
        )


def _media(**kw: Any) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=20)),
        validate=[validate.Length(max=30), _media_known],
        metadata={
            "description": "介质：区域内可燃、有毒物料的气体代码，气体分析须包含其代表性气体（HW-05、CS-02） / the "
            "media the area holds, as gas codes of GET /gases: a gas test must measure their representative "
            "gases (HW-05, CS-02)"
        },
        **kw,
    )


def _dike_code(**kw: Any) -> fields.String:
    return fields.String(
        allow_none=True,
        validate=[validate.Length(min=1, max=50), _CODE],
        metadata={
            "description": "所在罐区防火堤编号：同一防火堤内动火与切水、取样冲突（HW-10） / the tank-farm dike the "
            "area lies in: hot work conflicts with water draining or sampling in the same dike (HW-10)"
        },
        **kw,
    )


_MAJOR_HAZARD_DOC = {
    "description": "构成重大危险源：与防火堤一起使罐区内动火为特级（HW-01、HW-02） / part of a major hazard "
    "installation: with a dike, hot work inside it is special grade (HW-01, HW-02)"
}


class PlantAreaSchema(StrictSchema):
    """A plant area (risk area) with its hazard flags and headcount limit; `version` is its ETag."""

    id = fields.UUID()
    enterprise_id = fields.UUID()
    code = fields.String()
    name = fields.String()
    running_unit = fields.Boolean()
    flammable = fields.Boolean()
    explosive = fields.Boolean()
    toxic = fields.Boolean()
    fire_explosion_area = fields.Boolean()
    major_hazard = fields.Boolean(metadata=_MAJOR_HAZARD_DOC)
    dike_code = fields.String(allow_none=True)
    media = fields.List(fields.String())
    max_headcount = fields.Integer(allow_none=True)
    boundary = fields.Dict(allow_none=True, metadata={"description": _BOUNDARY_DOC})
    positioning_exemption = fields.Nested(
        PositioningExemptionSchema,
        allow_none=True,
        metadata={
            "description": "the regulator's record that positioning does not cover the area: a declared "
            "presence is on-site evidence only here (G-06); null: none"
        },
    )
    version = fields.Integer()


def _area_code(**kw: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=50), _CODE], **kw)


def _area_name(**kw: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=200), _NOT_BLANK], **kw)


class PlantAreaCreateSchema(StrictSchema):
    """Register a plant area of the enterprise (flags default to false)."""

    code = _area_code(required=True)
    name = _area_name(required=True)
    running_unit = StrictBoolean(load_default=False)
    flammable = StrictBoolean(load_default=False)
    explosive = StrictBoolean(load_default=False)
    toxic = StrictBoolean(load_default=False)
    fire_explosion_area = StrictBoolean(load_default=False, metadata={"description": "动火区域"})
    major_hazard = StrictBoolean(load_default=False, metadata=_MAJOR_HAZARD_DOC)
    dike_code = _dike_code(load_default=None)
    media = _media(load_default=list)
    max_headcount = _headcount(load_default=None)
    boundary = _boundary(load_default=None)


class PlantAreaUpdateSchema(StrictSchema):
    """Change a plant area: send only the fields to change."""

    code = _area_code()
    name = _area_name()
    running_unit = StrictBoolean()
    flammable = StrictBoolean()
    explosive = StrictBoolean()
    toxic = StrictBoolean()
    fire_explosion_area = StrictBoolean(metadata={"description": "动火区域"})
    major_hazard = StrictBoolean(metadata=_MAJOR_HAZARD_DOC)
    dike_code = _dike_code()
    media = _media()
    max_headcount = _headcount()
    boundary = _boundary()


# --- people ------------------------------------------------------------------------------------


_KINDS_DOC = "; ".join(f"{code}: {zh}" for code, (zh, _en) in CERTIFICATE_KINDS.items())


class CertificateSchema(StrictSchema):
    """A special-work certificate on the person's record (G-13)."""

    kind = fields.String(metadata={"description": _KINDS_DOC})
    number = fields.String()
    expires_on = fields.Date(
        allow_none=True, metadata={"description": "null: recorded before expiry was required"}
    )
    issued_by = fields.String(allow_none=True)


class CertificateInSchema(StrictSchema):
    """A special-work certificate as sent: kind, number, expiry and, optionally, the issuing authority (G-13).

    A permit's crew member must hold a certificate of the kind the work needs, valid through the permit's last day.
    """

    kind = fields.String(
        required=True, validate=validate.OneOf(list(CERTIFICATE_KINDS)), metadata={"description": _KINDS_DOC}
    )
    number = fields.String(required=True, validate=[validate.Length(min=1, max=64), _CODE])
    expires_on = fields.Date(required=True, metadata={"description": "有效期至: the last day it is valid"})
    issued_by = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(min=1, max=200), _NOT_BLANK],
        metadata={"description": "发证机关: the issuing authority"},
    )

    @validates("expires_on")
    def _plausible(self, value: date, **_kw: Any) -> None:
        if not 2000 <= value.year <= 2100:
            raise ValidationError("超出允许的日期范围 / out of the accepted range (2000-2100)")


def _certificates(**kw: Any) -> fields.List:
    return fields.List(fields.Nested(CertificateInSchema), validate=validate.Length(max=20), **kw)


def _departments(**kw: Any) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(list(DEPARTMENT_NAMES))),
        validate=validate.Length(max=len(DEPARTMENT_NAMES)),
        metadata={
            "description": "the departments the person belongs to: they countersign excavations and road closures "
            "for those, one per permit (EX-01, RC-01); "
            + "; ".join(f"{code}: {zh}" for code, (zh, _en) in DEPARTMENT_NAMES.items())
        },
        **kw,
    )


def _person_name(**kw: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=100), _NOT_BLANK], **kw)


def _card(**kw: Any) -> fields.String:
    return fields.String(
        allow_none=True,
        validate=[validate.Length(min=1, max=64), _CARD],
        metadata={"description": "positioning card id (HC-03); null: none"},
        **kw,
    )


def _phone(**kw: Any) -> fields.String:
    return fields.String(allow_none=True, validate=_PHONE, **kw)


class PersonSchema(StrictSchema):
    """A person of an enterprise: roles, positioning card, certificates; `version` is its ETag."""

    id = fields.UUID()
    enterprise_id = fields.UUID(allow_none=True)
    username = fields.String()
    name = fields.String()
    roles = fields.List(fields.String())
    active = fields.Boolean()
    positioning_card_id = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    departments = fields.List(
        fields.String(), metadata={"description": "the departments the person belongs to"}
    )
    certificates = fields.List(fields.Nested(CertificateSchema))
    created_at = AwareDateTime()
    version = fields.Integer()


class PersonPageSchema(PageSchema):
    """A page of people."""

    items = fields.List(fields.Nested(PersonSchema))


class PersonQueryArgs(PageArgs):
    """Filters of the people list."""

    active = fields.Boolean(load_default=None)


class _PersonInput(StrictSchema):
    """Checks shared by creating and changing a person."""

    @validates("roles")
    def _roles_once(self, value: list[str], **_kw: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("角色重复 / a role is listed twice")

    @validates("departments")
    def _departments_once(self, value: list[str], **_kw: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("部门重复 / a department is listed twice")

    @validates("certificates")
    def _certificates_once(self, value: list[dict[str, Any]], **_kw: Any) -> None:
        pairs = [(c.get("kind"), c.get("number")) for c in value if isinstance(c, dict)]
        if len(set(pairs)) != len(pairs):
            raise ValidationError("证书重复 / a certificate is listed twice")


class PersonCreateSchema(_PersonInput):
    """Register a person of the enterprise with enterprise roles (rules.md §0) and a first password."""

    username = fields.String(required=True, validate=[validate.Length(min=3, max=100), _USERNAME])
    name = _person_name(required=True)
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=200))
    roles = _roles(required=True)
    positioning_card_id = _card(load_default=None)
    phone = _phone(load_default=None)
    departments = _departments(load_default=list)
    certificates = _certificates(load_default=list)

    @validates_schema
    def _password_not_username(self, data: dict[str, Any], **_kw: Any) -> None:
        if data.get("password") and data.get("password") == data.get("username"):
            raise ValidationError("密码不能与用户名相同 / must differ from the username", "password")


class PersonUpdateSchema(_PersonInput):
    """Change a person: send only the fields to change; `certificates` replaces the whole list."""

    name = _person_name()
    roles = _roles()
    active = StrictBoolean()
    positioning_card_id = _card()
    phone = _phone()
    departments = _departments()
    certificates = _certificates()
