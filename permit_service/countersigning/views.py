"""Countersigning endpoints (EX-01, RC-01): the departments that countersign an enterprise's excavations and road
closures."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from permit_service.api.blueprint import Blueprint
from permit_service.api.conventions import answer, check_if_match
from permit_service.auth import current_principal, get_enterprise_for, require_roles
from permit_service.countersigning import service
from permit_service.countersigning.schemas import CountersigningIn, CountersigningOut
from permit_service.db import get_session, transaction

blp = Blueprint(
    "countersigning",
    __name__,
    url_prefix="",
    description="会签部门：动土、断路 / Countersigning departments (EX-01, RC-01)",
)

ADMIN = "enterprise_admin"


@blp.route("/enterprises/<uuid:enterprise_id>/countersigning/<any(excavation, road_closure):permit_type>")
class EnterpriseCountersigning(MethodView):
    """The departments that countersign the enterprise's permits of a type, each by a person of that department."""

    @blp.response(200, CountersigningOut)
    def get(self, enterprise_id: uuid.UUID, permit_type: str) -> Any:
        """Read the list (the enterprise's people and its regulators); never configured: the type's default, ETag "0"."""
        session = get_session()
        enterprise = get_enterprise_for(session, current_principal(), enterprise_id)
        found = service.get_countersigning(session, enterprise=enterprise, permit_type=permit_type)
        return answer(found, **service.view(found))

    @require_roles(ADMIN)
    @blp.arguments(CountersigningIn)
    @blp.response(200, CountersigningOut)
    def put(self, body: dict[str, Any], enterprise_id: uuid.UUID, permit_type: str) -> Any:
        """Replace the list (enterprise_admin of the enterprise; If-Match required, "0" the first time).

        Every permit submitted from then on gathers these departments (with road closure's fire and safety, RC-01);
        one submitted before keeps those fixed at its submission.
        """
        principal = current_principal()
        with transaction() as session:
            enterprise = get_enterprise_for(session, principal, enterprise_id)
            found = service.get_countersigning(
                session, enterprise=enterprise, permit_type=permit_type, for_update=True
            )
            check_if_match(found.version)
            service.replace_departments(
                session,
                principal=principal,
                enterprise=enterprise,
                countersigning=found,
                departments=body["departments"],
            )
            return answer(found, **service.view(found))
