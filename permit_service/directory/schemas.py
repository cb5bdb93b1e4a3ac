"""Schemas of the directory: regions, enterprises, plant areas, people."""

from __future__ import annotations

from marshmallow import fields

from permit_service.api.conventions import PageArgs, PageSchema
from permit_service.api.fields import StrictSchema


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


class EnterprisePageSchema(PageSchema):
    """A page of enterprises."""

    items = fields.List(fields.Nested(EnterpriseSchema))


class EnterpriseQueryArgs(PageArgs):
    """Filters of the enterprise list."""

    risk_grade = fields.String(load_default=None)
    region_id = fields.UUID(load_default=None)


class PlantAreaSchema(StrictSchema):
    """A plant area (risk area) with its hazard flags and headcount limit."""

    id = fields.UUID(dump_only=True)
    enterprise_id = fields.UUID()
    code = fields.String()
    name = fields.String()
    running_unit = fields.Boolean()
    flammable = fields.Boolean()
    explosive = fields.Boolean()
    toxic = fields.Boolean()
    fire_explosion_area = fields.Boolean()
    max_headcount = fields.Integer(allow_none=True)


class CertificateSchema(StrictSchema):
    """A special-work certificate."""

    kind = fields.String()
    number = fields.String()
    expires_on = fields.Date(allow_none=True)


class PersonSchema(StrictSchema):
    """A person of the caller's enterprise."""

    id = fields.UUID(dump_only=True)
    username = fields.String()
    name = fields.String()
    roles = fields.List(fields.String())
    positioning_card_id = fields.String(allow_none=True)
    certificates = fields.List(fields.Nested(CertificateSchema))
