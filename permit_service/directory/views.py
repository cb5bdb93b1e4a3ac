"""Directory endpoints: regions, enterprises, plant areas and people, each scoped to the caller."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView

from permit_service.api.blueprint import Blueprint
from permit_service.api.conventions import answer, check_if_match, idempotent, paginate
from permit_service.auth import (
    current_principal,
    enterprise_scope,
    get_enterprise_for,
    region_scope,
    require_roles,
)
from permit_service.db import get_session, transaction
from permit_service.directory import principal as record
from permit_service.directory import service
from permit_service.directory.models import Enterprise, Person, PlantArea, Region
from permit_service.directory.schemas import (
    EnterprisePageSchema,
    EnterpriseQueryArgs,
    EnterpriseSchema,
    PersonCreateSchema,
    PersonPageSchema,
    PersonQueryArgs,
    PersonSchema,
    PersonUpdateSchema,
    PlantAreaCreateSchema,
    PlantAreaSchema,
    PlantAreaUpdateSchema,
    PrincipalIn,
    RegionSchema,
)
from permit_service.errors import NotFound

blp = Blueprint(
    "directory",
    __name__,
    url_prefix="",
    description="地区、企业、区域与人员 / Regions, enterprises, areas, people",
)

ADMIN = "enterprise_admin"
Answer = tuple[Any, int, dict[str, str]]


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


@blp.route("/enterprises/<uuid:enterprise_id>/principal")
class EnterprisePrincipal(MethodView):
    """The principal leader on an enterprise's record with its regulator (HR-02)."""

    @require_roles(ADMIN, "regulator", "city_regulator")
    @blp.arguments(PrincipalIn)
    @blp.response(200, EnterpriseSchema)
    def put(self, body: dict[str, Any], enterprise_id: uuid.UUID) -> Enterprise:
        """Record who the principal leader is: the regulator, or the enterprise admin with the regulator notified
        at once (event, webhook, notification); the `principal` role moves with the record (HR-02)."""
        principal = current_principal()
        with transaction() as session:
            enterprise = session.scalar(
                sa.select(Enterprise)
                .where(Enterprise.id == enterprise_id, enterprise_scope(session, principal, Enterprise.id))
                .with_for_update()
            )
            if enterprise is None:
                raise NotFound("企业不存在", "No such enterprise")
            record.set_principal(
                session,
                principal=principal,
                enterprise=enterprise,
                person_id=body["person_id"],
                reason=body["reason"],
            )
        return enterprise


@blp.route("/enterprises/<uuid:enterprise_id>/areas")
class EnterpriseAreas(MethodView):
    """Plant areas of an enterprise."""

    @blp.response(200, PlantAreaSchema(many=True))
    def get(self, enterprise_id: uuid.UUID) -> list[PlantArea]:
        """List the plant areas (risk areas) of an enterprise, by code."""
        session = get_session()
        enterprise = get_enterprise_for(session, current_principal(), enterprise_id)
        return list(
            session.scalars(
                sa.select(PlantArea).where(PlantArea.enterprise_id == enterprise.id).order_by(PlantArea.code)
            )
        )

    @idempotent
    @require_roles(ADMIN)
    @blp.arguments(PlantAreaCreateSchema)
    @blp.response(201, PlantAreaSchema)
    def post(self, data: dict[str, Any], enterprise_id: uuid.UUID) -> Answer:
        """Register a plant area (enterprise_admin of the enterprise); send an Idempotency-Key to retry safely."""
        principal = current_principal()
        with transaction() as session:
            enterprise = get_enterprise_for(session, principal, enterprise_id)
            area = service.create_area(session, principal=principal, enterprise=enterprise, data=data)
        return answer(area, 201, location=f"/api/v1/areas/{area.id}")


@blp.route("/areas/<uuid:area_id>")
class AreaById(MethodView):
    """One plant area."""

    @blp.response(200, PlantAreaSchema)
    def get(self, area_id: uuid.UUID) -> Answer:
        """Read a plant area; its ETag is what a change sends back in If-Match."""
        area = service.get_area(get_session(), principal=current_principal(), area_id=area_id)
        return answer(area)

    @require_roles(ADMIN)
    @blp.arguments(PlantAreaUpdateSchema)
    @blp.response(200, PlantAreaSchema)
    def patch(self, changes: dict[str, Any], area_id: uuid.UUID) -> Answer:
        """Change a plant area (If-Match required: 428 without it, 412 when stale)."""
        principal = current_principal()
        with transaction() as session:
            area = service.get_area(session, principal=principal, area_id=area_id, for_update=True)
            check_if_match(area.version)
            service.update_area(session, principal=principal, area=area, changes=changes)
        return answer(area)


@blp.route("/enterprises/<uuid:enterprise_id>/people")
class EnterprisePeople(MethodView):
    """People of an enterprise."""

    @blp.arguments(PersonQueryArgs, location="query")
    @blp.response(200, PersonPageSchema)
    def get(self, args: dict[str, Any], enterprise_id: uuid.UUID) -> dict[str, Any]:
        """List the people of an enterprise (newest first, cursor-paginated) with roles, cards and certificates."""
        session = get_session()
        enterprise = get_enterprise_for(session, current_principal(), enterprise_id)
        stmt = service.people_of(enterprise, active=args.get("active"))
        items, cursor = paginate(session, stmt, Person.created_at, Person.id, args)
        return {"items": items, "next_cursor": cursor}

    @idempotent
    @require_roles(ADMIN)
    @blp.arguments(PersonCreateSchema)
    @blp.response(201, PersonSchema)
    def post(self, data: dict[str, Any], enterprise_id: uuid.UUID) -> Answer:
        """Register a person with enterprise roles, certificates, positioning card and a first password."""
        principal = current_principal()
        with transaction() as session:
            enterprise = get_enterprise_for(session, principal, enterprise_id)
            person = service.create_person(session, principal=principal, enterprise=enterprise, data=data)
        return answer(person, 201, location=f"/api/v1/people/{person.id}")


@blp.route("/people/<uuid:person_id>")
class PersonById(MethodView):
    """One person of an enterprise."""

    @blp.response(200, PersonSchema)
    def get(self, person_id: uuid.UUID) -> Answer:
        """Read a person; its ETag is what a change sends back in If-Match."""
        person = service.get_person(get_session(), principal=current_principal(), person_id=person_id)
        return answer(person)

    @require_roles(ADMIN)
    @blp.arguments(PersonUpdateSchema)
    @blp.response(200, PersonSchema)
    def patch(self, changes: dict[str, Any], person_id: uuid.UUID) -> Answer:
        """Change roles, activity, positioning card, contact or certificates (If-Match required)."""
        principal = current_principal()
        with transaction() as session:
            person = service.get_person(session, principal=principal, person_id=person_id, for_update=True)
            check_if_match(person.version)
            service.update_person(session, principal=principal, person=person, changes=changes)
        return answer(person)
