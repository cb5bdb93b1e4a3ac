"""Presence endpoints: a permit's register (check-in, check-out) and headcount raise requests (HC-01..06, CS-05)."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from sqlalchemy.orm import Session

from permit_service.api.blueprint import Blueprint
from permit_service.api.conventions import idempotent, paginate
from permit_service.auth import current_principal, require_roles
from permit_service.db import get_session, transaction
from permit_service.permits import service as permits
from permit_service.permits.models import Permit
from permit_service.presence import schemas as s
from permit_service.presence import service, watch
from permit_service.presence.models import HeadcountRaise, PresenceEntry

blp = Blueprint(
    "presence", __name__, url_prefix="", description="在场人员与人数上限 / Presence and headcount limits"
)


def _change(session: Session, entry: PresenceEntry, permit: Permit) -> dict[str, Any]:
    limit = service.headcount_limit(session, permit)
    return {
        "entry": entry,
        "permit_id": permit.id,
        "area_id": permit.area_id,
        "people_inside": service.people_inside(session, permit.id),
        "area_people_inside": service.people_inside_area(session, permit.area_id),
        "limit": limit.number,
        "limit_rule": limit.rule,
        "permit_state": permit.state,
        "alarm_ids": [],
    }


@blp.route("/permits/<uuid:permit_id>/presence")
class PermitPresence(MethodView):
    """The register of a permit's risk area."""

    @blp.arguments(s.PresenceArgs, location="query")
    @blp.response(200, s.PresenceOut)
    def get(self, args: dict[str, Any], permit_id: uuid.UUID) -> dict[str, Any]:
        """Who and what is registered inside, the area's headcount and the limit (HC-01, HC-02, CS-05)."""
        return service.presence(
            get_session(),
            principal=current_principal(),
            permit_id=permit_id,
            include_left=args["include_left"],
        )


@blp.route("/permits/<uuid:permit_id>/presence/check-ins")
class PermitCheckIns(MethodView):
    """Entering the risk area."""

    @idempotent
    @require_roles(*service.REGISTRAR_ROLES)
    @blp.arguments(s.CheckInIn)
    @blp.response(201, s.PresenceChangeOut)
    def post(self, body: dict[str, Any], permit_id: uuid.UUID) -> dict[str, Any]:
        """Check a person (by id or card), an outside visitor or a tool in; refused over the limit (HC-01, HC-05, HC-06)."""
        principal = current_principal()
        with transaction() as session:
            entry, permit = service.check_in(session, principal=principal, permit_id=permit_id, data=body)
            return _change(session, entry, permit)


@blp.route("/permits/<uuid:permit_id>/presence/check-outs")
class PermitCheckOuts(MethodView):
    """Leaving the risk area."""

    @require_roles(*service.REGISTRAR_ROLES)
    @blp.arguments(s.CheckOutIn)
    @blp.response(200, s.PresenceChangeOut)
    def post(self, body: dict[str, Any], permit_id: uuid.UUID) -> dict[str, Any]:
        """Check a person or tool out, by register entry, person or card (CS-05)."""
        principal = current_principal()
        with transaction() as session:
            entry, permit = service.check_out(session, principal=principal, permit_id=permit_id, data=body)
            alarm = watch.guardian_checked_out(session, permit, entry)
            return {**_change(session, entry, permit), "alarm_ids": [alarm.id] if alarm else []}


@blp.route("/permits/<uuid:permit_id>/headcount-raises")
class PermitHeadcountRaises(MethodView):
    """Requests to allow more than 3 people on a permit (HC-02)."""

    @blp.arguments(s.RaiseQueryArgs, location="query")
    @blp.response(200, s.RaisePage)
    def get(self, args: dict[str, Any], permit_id: uuid.UUID) -> dict[str, Any]:
        """List the permit's raise requests (newest first); 404 for a permit the caller cannot see."""
        permits.get_permit(get_session(), principal=current_principal(), permit_id=permit_id)
        return _page({**args, "permit_id": permit_id})

    @idempotent
    @require_roles(*service.RAISE_REQUESTER_ROLES)
    @blp.arguments(s.RaiseIn)
    @blp.response(201, s.RaiseOut)
    def post(self, body: dict[str, Any], permit_id: uuid.UUID) -> HeadcountRaise:
        """Ask the regulator to allow a stated number above 3, citing the expert demonstration (HC-02)."""
        principal = current_principal()
        with transaction() as session:
            return service.request_raise(session, principal=principal, permit_id=permit_id, data=body)


def _page(args: dict[str, Any]) -> dict[str, Any]:
    session = get_session()
    stmt = service.list_raises(session, principal=current_principal(), filters=args)
    items, cursor = paginate(session, stmt, HeadcountRaise.created_at, HeadcountRaise.id, args)
    return {"items": items, "next_cursor": cursor}


@blp.route("/headcount-raises")
class HeadcountRaises(MethodView):
    """Raise requests across permits: an enterprise's own, or those of a regulator's region."""

    @blp.arguments(s.RaiseQueryArgs, location="query")
    @blp.response(200, s.RaisePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List raise requests the caller may see, e.g. `?status=requested` for a regulator's queue."""
        return _page(args)


@blp.route("/headcount-raises/<uuid:raise_id>")
class HeadcountRaiseById(MethodView):
    """One raise request."""

    @blp.response(200, s.RaiseOut)
    def get(self, raise_id: uuid.UUID) -> HeadcountRaise:
        """Read a raise request and its decision."""
        return service.get_raise(get_session(), principal=current_principal(), raise_id=raise_id)


@blp.route("/headcount-raises/<uuid:raise_id>/consent")
class HeadcountRaiseConsent(MethodView):
    """The regulator consents."""

    @require_roles("regulator", "city_regulator")
    @blp.arguments(s.RaiseConsentIn)
    @blp.response(200, s.RaiseOut)
    def post(self, body: dict[str, Any], raise_id: uuid.UUID) -> HeadcountRaise:
        """Consent to the requested number, or a lower one (regulator of the enterprise's district or the city, HC-02)."""
        principal = current_principal()
        with transaction() as session:
            return service.decide_raise(
                session, principal=principal, raise_id=raise_id, consent=True, number=body["number"],
                reason=body["reason"],
            )  # fmt: skip


@blp.route("/headcount-raises/<uuid:raise_id>/refuse")
class HeadcountRaiseRefuse(MethodView):
    """The regulator refuses."""

    @require_roles("regulator", "city_regulator")
    @blp.arguments(s.RaiseRefuseIn)
    @blp.response(200, s.RaiseOut)
    def post(self, body: dict[str, Any], raise_id: uuid.UUID) -> HeadcountRaise:
        """Refuse the raise with a reason; the limit stays 3 (HC-02)."""
        principal = current_principal()
        with transaction() as session:
            return service.decide_raise(
                session, principal=principal, raise_id=raise_id, consent=False, reason=body["reason"]
            )
