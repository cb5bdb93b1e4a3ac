"""Regulator endpoints: the report queue, the overview, notifications, audit checkpoints, enterprise risk grades."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context

from permit_service import clock
from permit_service.api.blueprint import Blueprint
from permit_service.api.conventions import PageArgs, paginate
from permit_service.api.dumping import compiled
from permit_service.audit import checkpoints, history, retention
from permit_service.audit.models import Checkpoint
from permit_service.auth import current_principal, get_enterprise_for, require_roles
from permit_service.db import get_session, transaction
from permit_service.jobs import schemas as job_schemas
from permit_service.jobs import service as jobs
from permit_service.jobs.models import HighRiskJob
from permit_service.permits.models import Permit
from permit_service.regulators import schemas as s
from permit_service.regulators import service
from permit_service.regulators.models import EnterpriseRiskGrade, RegulatorNotification

blp = Blueprint(
    "regulators",
    __name__,
    url_prefix="",
    description="监管部门视图与企业风险分级 / Regulator views and enterprise risk grades (HR-03, RG-01/02)",
)
REGULATOR_ROLES = ("regulator", "city_regulator")


@blp.get("/regulator/reports")
@require_roles(*REGULATOR_ROLES)
@blp.arguments(job_schemas.JobQueryArgs, location="query")
@blp.response(200, job_schemas.ReportQueue)
def report_queue(args: dict[str, Any]) -> dict[str, Any]:
    """The queue of reports from the caller's region (newest first) with counts by state (HR-03)."""
    principal = current_principal()
    session = get_session()
    stmt = jobs.list_jobs(session, principal=principal, filters=args)
    items, cursor = paginate(session, stmt, HighRiskJob.created_at, HighRiskJob.id, args)
    return {
        "items": items,
        "next_cursor": cursor,
        "counts": jobs.state_counts(session, principal=principal, filters=args),
    }


@blp.get("/regulator/overview")
@require_roles(*REGULATOR_ROLES)
@blp.arguments(s.OverviewArgs, location="query")
@blp.response(200, s.OverviewOut)
def overview(args: dict[str, Any]) -> dict[str, Any]:
    """Active, suspended and pending permits by enterprise, type and grade; pending reports; grades; alarms."""
    return service.overview(get_session(), principal=current_principal(), region_id=args["region_id"])


@blp.get("/regulator/notifications")
@require_roles(*REGULATOR_ROLES)
@blp.arguments(s.NotificationQueryArgs, location="query")
@blp.response(200, s.NotificationPage)
def notifications(args: dict[str, Any]) -> dict[str, Any]:
    """Permits of orange enterprises the regulator is told about: special grade, level 1, high-risk (RG-02)."""
    session = get_session()
    stmt = service.notifications(session, principal=current_principal(), filters=args)
    items, cursor = paginate(session, stmt, RegulatorNotification.created_at, RegulatorNotification.id, args)
    return {"items": items, "next_cursor": cursor}


@blp.get("/regulator/checkpoints")
@require_roles(*REGULATOR_ROLES)
@blp.arguments(s.CheckpointQueryArgs, location="query")
@blp.response(200, s.CheckpointPage)
def audit_checkpoints(args: dict[str, Any]) -> dict[str, Any]:
    """Sealed audit checkpoints of the caller's enterprises, newest first, for the regulator to keep (AU-02)."""
    session = get_session()
    stmt = checkpoints.visible(session, current_principal(), args["enterprise_id"])
    items, cursor = paginate(session, stmt, Checkpoint.created_at, Checkpoint.id, args)
    return {"items": items, "next_cursor": cursor}


# An export's lines, dumped compiled (api.dumping): a period's export runs to hundreds of thousands of events.
_event_line = compiled(s.ExportedEvent())
_checkpoint_line = compiled(s.ExportedCheckpoint())


@blp.get("/regulator/events/export")
@require_roles(*REGULATOR_ROLES)
@blp.arguments(s.ExportArgs, location="query")
@blp.response(
    200,
    {"type": "string"},
    content_type="application/x-ndjson",
    description="JSON Lines, streamed: one event per line (type event) in time order, then the checkpoint each "
    "enterprise's events end on (type checkpoint)",
)
def export_events(args: dict[str, Any]) -> Response:
    """Export a period's events of the caller's enterprises as JSON Lines, ending with their checkpoints (AU-01)."""
    principal = current_principal()
    session = get_session()
    scope = {"end": args["end"], "enterprise_id": args["enterprise_id"]}

    def lines() -> Iterator[str]:
        for event in history.period_events(session, principal, start=args["start"], **scope):
            yield json.dumps(_event_line(event), ensure_ascii=False) + "\n"
        for checkpoint in history.checkpoints_at(session, principal, **scope):
            yield json.dumps(_checkpoint_line(checkpoint), ensure_ascii=False) + "\n"
        session.close()  # the read ends with the last line, not when the server gets round to teardown

    return Response(stream_with_context(lines()), mimetype="application/x-ndjson")


@blp.get("/retention/due")
@require_roles(*REGULATOR_ROLES, "enterprise_admin")
@blp.arguments(s.RetentionArgs, location="query")
@blp.response(200, s.RetentionPage)
def retention_due(args: dict[str, Any]) -> dict[str, Any]:
    """Finished permits kept past the retention period (at least a year), to archive; none is deleted (AU-03)."""
    session = get_session()
    stmt = retention.due_for_archiving(session, current_principal(), now=clock.now(), days=args["days"])
    items, cursor = paginate(session, stmt, Permit.created_at, Permit.id, args)
    return {"items": items, "next_cursor": cursor}


@blp.post("/enterprises/<uuid:enterprise_id>/risk-grade")
@require_roles(*REGULATOR_ROLES)
@blp.arguments(s.RiskGradeIn)
@blp.response(201, s.RiskGradeOut)
def set_risk_grade(body: dict[str, Any], enterprise_id: uuid.UUID) -> Any:
    """Grade an enterprise of the caller's region red, orange, yellow or blue, with a reason (RG-01)."""
    principal = current_principal()
    with transaction() as session:
        return service.set_risk_grade(
            session,
            principal=principal,
            enterprise_id=enterprise_id,
            grade=body["grade"],
            reason=body["reason"],
        )


@blp.get("/enterprises/<uuid:enterprise_id>/risk-grades")
@blp.arguments(PageArgs, location="query")
@blp.response(200, s.RiskGradePage)
def risk_grades(args: dict[str, Any], enterprise_id: uuid.UUID) -> dict[str, Any]:
    """The grading history of an enterprise, newest first (its own staff and its regulators)."""
    session = get_session()
    enterprise = get_enterprise_for(session, current_principal(), enterprise_id)
    stmt = service.grade_history(session, enterprise=enterprise)
    items, cursor = paginate(session, stmt, EnterpriseRiskGrade.created_at, EnterpriseRiskGrade.id, args)
    return {"items": items, "next_cursor": cursor}
