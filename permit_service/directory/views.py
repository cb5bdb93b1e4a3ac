"""Directory endpoints: regions, enterprises, plant areas and people, each scoped to the caller."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.orm import selectinload

from permit_service.api.conventions import paginate
from permit_service.auth import current_principal, enterprise_scope, get_enterprise_for, region_scope
from permit_service.db import get_session
from permit_service.directory.models import Enterprise, Person, PlantArea, Region
from permit_service.directory.schemas import (
    EnterprisePageSchema,
    EnterpriseQueryArgs,
    EnterpriseSchema,
    PersonSchema,
    PlantAreaSchema,
    RegionSchema,
)

blp = Blueprint(
    "directory",
    __name__,
    url_prefix="",
    description="地区、企业、区域与人员 / Regions, enterprises, areas, people",
)


@blp.route("/regions")
class Regions(MethodView):
    """Regions the caller can see."""

    @blp.response(200, RegionSchema(many=True))
    def get(self) -> list[Region]:
        """List regions: a regulator sees its region and below; enterprise staff see their enterprise's region."""
        principal = current_principal()
        session = get_session()
        if principal.enterprise_id is not None:
            enterprise = session.get(Enterprise, principal.enterprise_id)
            return [enterprise.region] if enterprise else []
        stmt = sa.select(Region).where(region_scope(session, principal, Region.id)).order_by(Region.code)
        return list(session.scalars(stmt))


@blp.route("/enterprises")
class Enterprises(MethodView):
    """Enterprises the caller can see."""

    @blp.arguments(EnterpriseQueryArgs, location="query")
    @blp.response(200, EnterprisePageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List enterprises (newest first, cursor-paginated), filtered by risk grade or region."""
        principal = current_principal()
        session = get_session()
        stmt = sa.select(Enterprise).where(enterprise_scope(session, principal, Enterprise.id))
        if args.get("risk_grade"):
            stmt = stmt.where(Enterprise.risk_grade == args["risk_grade"])
        if args.get("region_id"):
            stmt = stmt.where(Enterprise.region_id == args["region_id"])
        items, cursor = paginate(session, stmt, Enterprise.created_at, Enterprise.id, args)
        return {"items": items, "next_cursor": cursor}


@blp.route("/enterprises/<uuid:enterprise_id>")
class EnterpriseById(MethodView):
    """One enterprise."""

    @blp.response(200, EnterpriseSchema)
    def get(self, enterprise_id: uuid.UUID) -> Enterprise:
        """Read an enterprise (404 if it is not the caller's or in the caller's region)."""
        return get_enterprise_for(get_session(), current_principal(), enterprise_id)


@blp.route("/enterprises/<uuid:enterprise_id>/areas")
class EnterpriseAreas(MethodView):
    """Plant areas of an enterprise."""

    @blp.response(200, PlantAreaSchema(many=True))
    def get(self, enterprise_id: uuid.UUID) -> list[PlantArea]:
        """List the plant areas (risk areas) of an enterprise."""
        session = get_session()
        enterprise = get_enterprise_for(session, current_principal(), enterprise_id)
        return list(
            session.scalars(
                sa.select(PlantArea).where(PlantArea.enterprise_id == enterprise.id).order_by(PlantArea.code)
            )
        )


@blp.route("/enterprises/<uuid:enterprise_id>/people")
class EnterprisePeople(MethodView):
    """People of an enterprise."""

    @blp.response(200, PersonSchema(many=True))
    def get(self, enterprise_id: uuid.UUID) -> list[Person]:
        """List the people of an enterprise with roles, positioning cards and certificates."""
        session = get_session()
        enterprise = get_enterprise_for(session, current_principal(), enterprise_id)
        stmt = (
            sa.select(Person)
            .where(Person.enterprise_id == enterprise.id)
            .options(selectinload(Person.certificates))
            .order_by(Person.username)
        )
        return list(session.scalars(stmt))
