"""Measure endpoints (G-02): a permit's Appendix A lines, and the confirmation of each involved line."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from permit_service.api.blueprint import Blueprint
from permit_service.api.conventions import answer, check_if_match
from permit_service.auth import current_principal
from permit_service.db import get_session, transaction
from permit_service.measures import service
from permit_service.measures.schemas import MeasureConfirmationIn, MeasuresOut
from permit_service.permits import service as permits

blp = Blueprint(
    "measures",
    __name__,
    url_prefix="/permits",
    description="安全措施：逐条回答是否涉及、逐项确认 / Safety measures of Appendix A (G-02)",
)


@blp.route("/<uuid:permit_id>/measures")
class PermitMeasures(MethodView):
    """The permit's safety-measure lines."""

    @blp.response(200, MeasuresOut)
    def get(self, permit_id: uuid.UUID) -> Any:
        """Every line of the list the permit was filed under, with answer, counts, confirmer, and the open lines."""
        permit = permits.get_permit(get_session(), principal=current_principal(), permit_id=permit_id)
        return answer(permit, **service.measures_view(permit))


@blp.route("/<uuid:permit_id>/measures/<string:code>/confirmation")
class MeasureConfirmation(MethodView):
    """Who confirmed one involved line."""

    @blp.arguments(MeasureConfirmationIn)
    @blp.response(200, MeasuresOut)
    def put(self, body: dict[str, Any], permit_id: uuid.UUID, code: str) -> Any:
        """Record the confirmer of an involved line after submission and before approval (If-Match required).

        The applicant records it, or the confirmer in person; each confirmation is an event of the permit.
        """
        principal = current_principal()
        with transaction() as session:
            permit = permits.get_permit(session, principal=principal, permit_id=permit_id, for_update=True)
            check_if_match(permit.version)
            service.confirm(
                session, principal=principal, permit=permit, code=code, confirmed_by=body["confirmed_by"]
            )
            return answer(permit, **service.measures_view(permit))
