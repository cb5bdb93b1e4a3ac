"""Job endpoints: file and edit a draft, attach permits, report, consent or refuse, confirm on site, work, close."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask.views import MethodView
from sqlalchemy.orm import Session

from permit_service.api.blueprint import Blueprint
from permit_service.api.conventions import act_and_answer, answer, check_if_match, idempotent, paginate
from permit_service.auth import Principal, current_principal
from permit_service.db import get_session, transaction
from permit_service.jobs import schemas as s
from permit_service.jobs import service
from permit_service.jobs.models import HighRiskJob

blp = Blueprint(
    "jobs",
    __name__,
    url_prefix="/jobs",
    description="高风险作业报备与同意 / High-risk jobs and consent reports (HR-01..03, FZ-02, RG-02)",
)


def _answer(session: Session, job: HighRiskJob, principal: Principal, status: int = 200) -> Any:
    """The job with its permits and the caller's next actions (what JobOut dumps)."""
    return answer(
        job,
        status,
        location=f"/api/v1/jobs/{job.id}" if status == 201 else None,
        permits=service.job_permits(session, job),
        allowed_actions=service.actions_for(job, principal),
    )


def _act(action: Callable[..., HighRiskJob], job_id: uuid.UUID, **kwargs: Any) -> Any:
    return act_and_answer(action, _answer, job_id=job_id, **kwargs)


@blp.route("")
class Jobs(MethodView):
    """The caller's jobs: an enterprise's own, a regulator's reported ones."""

    @blp.arguments(s.JobQueryArgs, location="query")
    @blp.response(200, s.JobPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List jobs (newest first, cursor-paginated), filtered by state, kind or enterprise."""
        principal = current_principal()
        session = get_session()
        stmt = service.list_jobs(session, principal=principal, filters=args)
        items, cursor = paginate(session, stmt, HighRiskJob.created_at, HighRiskJob.id, args)
        return {"items": items, "next_cursor": cursor}

    @idempotent
    @blp.arguments(s.JobIn)
    @blp.response(201, s.JobOut)
    def post(self, body: dict[str, Any]) -> Any:
        """File a high-risk job or consent report as a draft (enterprise applicant, admin or principal)."""
        principal = current_principal()
        with transaction() as session:
            job = service.create_job(session, principal=principal, data=body)
            return _answer(session, job, principal, 201)


@blp.route("/<uuid:job_id>")
class JobById(MethodView):
    """One job."""

    @blp.response(200, s.JobOut)
    def get(self, job_id: uuid.UUID) -> Any:
        """Read a job with its permits, risk analysis and crew (a regulator sees reported jobs of its region)."""
        principal = current_principal()
        session = get_session()
        return _answer(session, service.get_job(session, principal=principal, job_id=job_id), principal)

    @blp.arguments(s.JobPatch)
    @blp.response(200, s.JobOut)
    def patch(self, body: dict[str, Any], job_id: uuid.UUID) -> Any:
        """Change a draft job (needs If-Match); a reported job stays as the regulator saw it."""
        principal = current_principal()
        with transaction() as session:
            current = service.get_job(session, principal=principal, job_id=job_id)
            check_if_match(current.version)
            job = service.update_job(
                session, principal=principal, job_id=job_id, changes=body, expected_version=current.version
            )
            return _answer(session, job, principal)


@blp.post("/<uuid:job_id>/permits")
@blp.arguments(s.AttachPermitIn)
@blp.response(200, s.JobOut)
def attach_permit(body: dict[str, Any], job_id: uuid.UUID) -> Any:
    """Carry a not-yet-approved permit of the enterprise in a draft job (HR-01)."""
    return _act(service.attach_permit, job_id, permit_id=body["permit_id"])


@blp.delete("/<uuid:job_id>/permits/<uuid:permit_id>")
@blp.response(200, s.JobOut)
def detach_permit(job_id: uuid.UUID, permit_id: uuid.UUID) -> Any:
    """Take a permit out of a draft job."""
    return _act(service.detach_permit, job_id, permit_id=permit_id)


@blp.post("/<uuid:job_id>/report")
@blp.response(200, s.JobOut)
def report(job_id: uuid.UUID) -> Any:
    """Report the job to the regulator of the enterprise's district or zone (HR-01); it waits for consent."""
    return _act(service.report, job_id)


@blp.post("/<uuid:job_id>/consent")
@blp.arguments(s.ConsentIn)
@blp.response(200, s.JobOut)
def consent(body: dict[str, Any], job_id: uuid.UUID) -> Any:
    """Consent to a reported job (regulator of its region, or the city regulator; HR-03)."""
    return _act(service.consent, job_id, reason=body["reason"])


@blp.post("/<uuid:job_id>/refuse")
@blp.arguments(s.ReasonIn)
@blp.response(200, s.JobOut)
def refuse(body: dict[str, Any], job_id: uuid.UUID) -> Any:
    """Refuse a reported job with a reason (HR-03): the job ends and its open permits are cancelled."""
    return _act(service.refuse, job_id, reason=body["reason"])


@blp.post("/<uuid:job_id>/confirm-on-site")
@blp.arguments(s.ConfirmOnSiteIn)
@blp.response(200, s.JobOut)
def confirm_on_site(body: dict[str, Any], job_id: uuid.UUID) -> Any:
    """The principal leader confirms safety on site in person, with evidence of being there (HR-02)."""
    return _act(service.confirm_on_site, job_id, evidence=body["evidence"])


@blp.post("/<uuid:job_id>/start")
@blp.response(200, s.JobOut)
def start(job_id: uuid.UUID) -> Any:
    """Start the work, after the principal's confirmation and inside the consented window."""
    return _act(service.start, job_id)


@blp.post("/<uuid:job_id>/close")
@blp.response(200, s.JobOut)
def close(job_id: uuid.UUID) -> Any:
    """Close the job once every permit it carries has ended."""
    return _act(service.close, job_id)


@blp.post("/<uuid:job_id>/cancel")
@blp.arguments(s.ReasonIn)
@blp.response(200, s.JobOut)
def cancel(body: dict[str, Any], job_id: uuid.UUID) -> Any:
    """Call the job off with a reason; its open permits are cancelled with it."""
    return _act(service.cancel, job_id, reason=body["reason"])
