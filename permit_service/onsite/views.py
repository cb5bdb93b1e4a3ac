"""On-site evidence endpoints: the regulator records or revokes an area's positioning exemption (G-06)."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from permit_service.api.blueprint import Blueprint
from permit_service.api.conventions import answer
from permit_service.api.fields import StrictSchema
from permit_service.auth import current_principal, require_roles
from permit_service.db import transaction
from permit_service.directory import service as directory
from permit_service.directory.schemas import PlantAreaSchema
from permit_service.onsite import service

blp = Blueprint(
    "onsite",
    __name__,
    url_prefix="",
    description="现场证据：区域定位豁免 / On-site evidence: positioning exemptions of areas (G-06)",
)
REGULATOR_ROLES = ("regulator", "city_regulator")


class ExemptionBody(StrictSchema):
    """Why the area has no positioning coverage (recording), or why the exemption ends (revoking)."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


@blp.route("/areas/<uuid:area_id>/positioning-exemption")
class AreaPositioningExemption(MethodView):
    """The regulator's record that an area has no positioning coverage."""

    @require_roles(*REGULATOR_ROLES)
    @blp.arguments(ExemptionBody)
    @blp.response(200, PlantAreaSchema)
    def put(self, body: dict[str, Any], area_id: uuid.UUID) -> Any:
        """Record that the area has no positioning coverage: a declared presence counts there (G-06); audited."""
        return _change(service.record_exemption, area_id, body["reason"])

    @require_roles(*REGULATOR_ROLES)
    @blp.arguments(ExemptionBody)
    @blp.response(200, PlantAreaSchema)
    def delete(self, body: dict[str, Any], area_id: uuid.UUID) -> Any:
        """Revoke the exemption: only positioning proves presence in the area from now on (G-06); audited."""
        return _change(service.revoke_exemption, area_id, body["reason"])


def _change(use_case: Any, area_id: uuid.UUID, reason: str) -> Any:
    principal = current_principal()
    with transaction() as session:
        area = directory.get_area(session, principal=principal, area_id=area_id, for_update=True)
        use_case(session, principal=principal, area=area, reason=reason)
    return answer(area)
