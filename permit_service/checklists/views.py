"""Checklist endpoints (SD-02): an enterprise's site and outsourcing checklists, a permit's confirmations."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from permit_service.api.blueprint import Blueprint
from permit_service.api.conventions import answer, check_if_match
from permit_service.auth import current_principal, get_enterprise_for, require_roles
from permit_service.checklists import service
from permit_service.checklists.schemas import ChecklistIn, ChecklistOut, ConfirmationsIn, ConfirmationsOut
from permit_service.db import get_session, transaction
from permit_service.permits import service as permits

blp = Blueprint(
    "checklists",
    __name__,
    url_prefix="",
    description="企业检查清单：现场十个要素、外包作业八个必查 / Enterprise checklists (SD-02)",
)

ADMIN = "enterprise_admin"


@blp.route("/enterprises/<uuid:enterprise_id>/checklists/<any(site, outsourcing):kind>")
class EnterpriseChecklistByKind(MethodView):
    """One of the enterprise's checklists: `site` (十个要素, every permit) or `outsourcing` (八个必查, contractors)."""

    @blp.response(200, ChecklistOut)
    def get(self, enterprise_id: uuid.UUID, kind: str) -> Any:
        """Read the checklist (the enterprise's people and its regulators); never configured: no items, ETag "0"."""
        session = get_session()
        enterprise = get_enterprise_for(session, current_principal(), enterprise_id)
        return answer(service.get_checklist(session, enterprise=enterprise, kind=kind))

    @require_roles(ADMIN)
    @blp.arguments(ChecklistIn)
    @blp.response(200, ChecklistOut)
    def put(self, body: dict[str, Any], enterprise_id: uuid.UUID, kind: str) -> Any:
        """Replace the checklist (enterprise_admin of the enterprise; If-Match required, "0" the first time).

        Every permit approved from then on needs a named confirmer of each item (SD-02).
        """
        principal = current_principal()
        with transaction() as session:
            enterprise = get_enterprise_for(session, principal, enterprise_id)
            checklist = service.get_checklist(session, enterprise=enterprise, kind=kind, for_update=True)
            check_if_match(checklist.version)
            service.replace_checklist(
                session, principal=principal, enterprise=enterprise, checklist=checklist, items=body["items"]
            )
            return answer(checklist)


@blp.route("/permits/<uuid:permit_id>/checklist-confirmations")
class PermitChecklistConfirmations(MethodView):
    """Who confirmed each checklist item of a permit (SD-02)."""

    @blp.response(200, ConfirmationsOut)
    def get(self, permit_id: uuid.UUID) -> Any:
        """The confirmations and the items still open before approval; the ETag is the permit's."""
        session = get_session()
        permit = permits.get_permit(session, principal=current_principal(), permit_id=permit_id)
        return answer(permit, **service.confirmations_view(session, permit))

    @blp.arguments(ConfirmationsIn)
    @blp.response(200, ConfirmationsOut)
    def put(self, body: dict[str, Any], permit_id: uuid.UUID) -> Any:
        """Record who confirmed each item, replacing the set (the applicant, before approval; If-Match required)."""
        principal = current_principal()
        with transaction() as session:
            permit = permits.get_permit(session, principal=principal, permit_id=permit_id, for_update=True)
            check_if_match(permit.version)
            service.set_confirmations(session, principal=principal, permit=permit, items=body["items"])
            return answer(permit, **service.confirmations_view(session, permit))
