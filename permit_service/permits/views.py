"""Permit endpoints: file, list, read, edit a draft, act on it, record gas tests, re-issue, read its events, print."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from permit_service.api.blueprint import Blueprint
from permit_service.api.conventions import (
    WithExtras,
    act_and_answer,
    check_if_match,
    etag_of,
    honours_prefer,
    idempotent,
    if_match_version,
    minimal_answer,
    paginate,
    prefers_minimal,
    rendered_answer,
)
from permit_service.api.dumping import compiled
from permit_service.api.fields import StrictSchema, display_tz
from permit_service.api.openapi import WORKFLOW_EVENT
from permit_service.audit import history
from permit_service.auth import Principal, current_principal
from permit_service.db import get_session, is_postgres, reading_session, transaction
from permit_service.permits import children, documents, printing, service
from permit_service.permits import schemas as s
from permit_service.permits.models import Permit

blp = Blueprint("permits", __name__, url_prefix="/permits", description="作业票 / Permits")


def _answer(session: Session, permit: Permit, principal: Principal, status: int = 200) -> Any:
    """The permit with the caller's next actions and what blocks the others (PermitOut)."""
    return _rendered(permit, _per_read(session, permit, principal), status)


def _per_read(session: Session, permit: Permit, principal: Principal) -> dict[str, Any]:
    """What the answer adds for this caller and day: the next actions, what blocks the others, the calendar notice."""
    allowed, blocked = service.next_actions(session, permit, principal)
    return {
        "allowed_actions": allowed,
        "blocked_actions": [
            {
                "action": b.action,
                "violations": [
                    {"rule": v.rule_id, "message_zh": v.zh, "message_en": v.en} for v in b.violations
                ],
            }
            for b in blocked
        ],
        "calendar_notice": service.calendar_notice(session, permit),
    }


def _rendered(permit: Permit, per_read: dict[str, Any], status: int = 200) -> Any:
    return rendered_answer(
        documents.permit_json(permit, per_read), permit.version, status, location=_location(permit, status)
    )


def _location(permit: Permit, status: int) -> str | None:
    return f"/api/v1/permits/{permit.id}" if status == 201 else None


_MINIMAL = compiled(s.PermitMinimalOut())
_GAS_TEST_MINIMAL = compiled(s.GasTestMinimalOut())


def _minimal(_session: Session, permit: Permit, _principal: Principal, status: int = 200) -> Any:
    """PermitMinimalOut, to `Prefer: return=minimal` (RFC 7240): the permit's own columns as the write left them,
    without what _answer reads and renders after the commit (its next actions, signatures and gas tests)."""
    return minimal_answer(_MINIMAL(permit), permit.version, status, location=_location(permit, status))


def _minimal_gas_test(_session: Session, permit: Permit, _principal: Principal) -> Any:
    """GasTestMinimalOut: the minimal answer with the verdict on the gas test the request recorded."""
    dumped = _GAS_TEST_MINIMAL(WithExtras(permit, gas_test=children.recorded_gas_test(permit)))
    return minimal_answer(dumped, permit.version)


Respond = Callable[..., Any]


def _preferred(minimal: Respond = _minimal) -> Respond:
    """How a write answers: `minimal` to `Prefer: return=minimal`, the whole permit (_answer) otherwise."""
    return minimal if prefers_minimal() else _answer


def _payload(body: Mapping[str, Any]) -> dict[str, Any]:
    """The core reads on-site evidence (G-06) as top-level payload keys; ids go as strings."""
    flat = {k: v for k, v in body.items() if k != "evidence"}
    flat.update({k: v for k, v in (body.get("evidence") or {}).items() if v is not None})
    return _plain(flat)


def _plain(value: Any) -> Any:
    """Ids as strings, everything else as loaded."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@blp.route("")
class Permits(MethodView):
    """The caller's permits."""

    @blp.arguments(s.PermitQueryArgs, location="query")
    @blp.response(200, s.PermitPage)
    def get(self, args: dict[str, Any]) -> Response:
        """List permits (newest first, cursor-paginated), filtered by type, state, area, enterprise or number."""
        principal = current_principal()
        session = reading_session()
        stmt = service.list_permits(session, principal=principal, filters=args)
        items, cursor = paginate(session, stmt, Permit.created_at, Permit.id, args)
        return current_app.json.response(page(items, cursor))

    @idempotent
    @honours_prefer(s.PermitOut, s.PermitMinimalOut, 201)
    @blp.arguments(s.PermitCreate)
    @blp.response(201, s.PermitOut)
    def post(self, body: dict[str, Any]) -> Any:
        """File a permit as a draft (send an Idempotency-Key to make retries safe)."""
        principal = current_principal()
        session = reading_session()
        draft = service.prepare_draft(session, principal=principal, data=body)
        minimal = prefers_minimal()
        # Checked and judged before the write lock (issue 14): the number, drawn with the writes, changes none of
        # the next actions.
        per_read = None if minimal else _per_read(session, draft, principal)
        session.commit()  # the reads end here, keeping what they loaded for the writes (a rollback would expire it)
        with transaction() as session:
            service.file_draft(session, draft, principal=principal, ends_transaction=True)
        if per_read is None:
            return _minimal(session, draft, principal, 201)
        return _rendered(draft, per_read, 201)


def page(items: Sequence[Mapping[str, Any]], cursor: str | None) -> dict[str, Any]:
    """A page of permits as PermitPage dumps it, each summary made from its row here (issue 14: marshmallow's dump
    of 50 summaries was a third of a page's CPU); tests/api/test_permit_list.py holds the two equal."""
    tz = display_tz()
    return {
        "next_cursor": cursor,
        "items": [
            {
                "id": str(row["id"]),
                "number": row["number"],
                "enterprise_id": str(row["enterprise_id"]),
                "area_id": str(row["area_id"]),
                "type": row["type"],
                "grade": row["grade"],
                "state": row["state"],
                "version": row["version"],
                "title": row["title"],
                "valid_from": _shown(row["valid_from"], tz),
                "valid_until": _shown(row["valid_until"], tz),
                "created_at": _shown(row["created_at"], tz),
            }
            for row in items
        ],
    }


def _shown(value: datetime | None, tz: tzinfo) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat()


@blp.route("/<uuid:permit_id>")
class PermitById(MethodView):
    """One permit."""

    @blp.response(200, s.PermitOut)
    def get(self, permit_id: uuid.UUID) -> Any:
        """Read a permit with its signatures, gas tests, links and allowed next actions; the ETag is its version."""
        principal = current_principal()
        session = reading_session()
        finished = documents.read_finished(session, principal, permit_id)
        if finished is not None:
            return rendered_answer(*finished)
        permit = service.get_permit(session, principal=principal, permit_id=permit_id)
        return _answer(session, permit, principal)

    @honours_prefer(s.PermitOut, s.PermitMinimalOut)
    @blp.arguments(s.PermitUpdate)
    @blp.response(200, s.PermitOut)
    def patch(self, body: dict[str, Any], permit_id: uuid.UUID) -> Any:
        """Change a draft (needs If-Match); a signed permit is voided and re-issued instead (G-07)."""
        principal = current_principal()
        with transaction() as session:
            current = service.get_permit(session, principal=principal, permit_id=permit_id)
            check_if_match(current.version)
            permit = service.update_draft(
                session,
                principal=principal,
                permit_id=permit_id,
                changes=body,
                expected_version=current.version,
            )
            return _preferred()(session, permit, principal)


def _act(permit_id: uuid.UUID, action: str, payload: dict[str, Any], minimal: Respond = _minimal) -> Any:
    """Fire `action` on the permit and answer (`minimal` to Prefer: return=minimal); the document of a permit it
    finished is rendered and stored after the commit (documents.later), whichever answer the caller prefers.

    PostgreSQL locks the permit's row: the action is judged holding it if it is free, or else while the other
    action works (service.act). SQLite's writer locks the whole database: the action is judged before, and the
    write transaction only checks that the judgement stands and writes it (issue 14; service.judge).
    """
    principal = current_principal()
    session = get_session()
    if is_postgres(session):
        use_case, judged = service.act, {}
    else:
        judgement = service.judge(
            session,
            permit_id=permit_id,
            action=action,
            principal=principal,
            payload=payload,
            expected_version=if_match_version(),
        )
        session.commit()  # the reads end here, keeping what they loaded for the writes (a rollback would expire it)
        use_case, judged = service.carry_out, {"judgement": judgement}
    respond = _preferred(minimal)
    with documents.later(session) as store_documents:
        answer = act_and_answer(
            use_case,
            respond,
            permit_id=permit_id,
            action=action,
            payload=payload,
            lists_children=respond is _answer,
            **judged,
        )
        store_documents()  # a permit the action finished: its document, once the lock is no longer held
    return answer


# Each action: URL segment, workflow event, body schema and OpenAPI summary.
ACTIONS: tuple[tuple[str, str, type[Schema], str], ...] = (
    (
        "submit",
        "submit",
        s.ActionBody,
        "Submit the draft for approval (G-01 hazard analysis, G-13 certificates).",
    ),
    ("reject", "reject", s.ReasonBody, "Reject a submitted permit with a reason."),
    (
        "countersign",
        "countersign",
        s.CountersignBody,
        "Countersign as a department concerned (EX-01, RC-01).",
    ),
    (
        "approve",
        "approve",
        s.ApproveBody,
        "Approve on site with evidence (G-02, G-04, G-06, G-09, G-10, HR-01/02).",
    ),
    ("brief", "brief", s.BriefBody, "Sign the safety briefing: the briefer, then every worker (G-05)."),
    (
        "shift-check",
        "shift_check",
        s.ActionBody,
        "On-duty shift leader checks the permit before ignition (HW-09).",
    ),
    (
        "activate",
        "activate",
        s.ActivateBody,
        "Start the work: approvals, guardian, briefing, fresh gas test (SD-01), weather on site (WH-02, LF-03).",
    ),
    ("suspend", "suspend", s.ReasonBody, "Suspend the work on an abnormal condition (G-08, EX-03)."),
    (
        "resume",
        "resume",
        s.ResumeBody,
        "Resume after re-confirming the conditions and re-testing gas (G-08, HW-06, CS-01); weather on site (WH-02, LF-03).",
    ),
    ("complete", "complete", s.ActionBody, "Finish the work (CS-05: nobody registered inside)."),
    ("accept", "accept", s.AcceptBody, "Sign the completion acceptance (G-11, BP-04, RC-02)."),
    ("close", "close", s.ActionBody, "Close an accepted permit (G-11, TE-03)."),
    ("cancel", "cancel", s.ReasonBody, "Cancel a permit that has not started."),
    ("void", "void", s.ReasonBody, "Void a signed permit (G-07); see also /reissue."),
)


def _action_view(segment: str, event: str, schema: type[Schema], summary: str) -> None:
    """Register POST /permits/<id>/<segment> firing `event` with a body of `schema`."""

    @honours_prefer(s.PermitOut, s.PermitMinimalOut)
    @blp.arguments(schema)
    @blp.response(200, s.PermitOut)
    @blp.doc(
        summary=summary,
        description=f"Fires the workflow event `{event}`. An optional If-Match is checked.",
        **{WORKFLOW_EVENT: event},
    )
    def view(body: dict[str, Any], permit_id: uuid.UUID) -> Any:
        return _act(permit_id, event, _payload(body))

    view.__name__ = f"permit_{event}"
    blp.route(f"/<uuid:permit_id>/{segment}", methods=["POST"], endpoint=f"permit_{event}")(view)


for _segment, _event, _schema, _summary in ACTIONS:
    _action_view(_segment, _event, _schema, _summary)


class GasTestList(StrictSchema):
    """The gas tests of a permit."""

    items = fields.List(fields.Nested(s.GasTestOut))


@blp.route("/<uuid:permit_id>/gas-tests")
class PermitGasTests(MethodView):
    """Gas analyses of a permit."""

    @blp.response(200, GasTestList)
    def get(self, permit_id: uuid.UUID) -> dict[str, Any]:
        """List the gas analyses with the service's verdicts."""
        permit = service.get_permit(get_session(), principal=current_principal(), permit_id=permit_id)
        return {"items": permit.gas_tests}

    @honours_prefer(s.PermitOut, s.GasTestMinimalOut)
    @blp.arguments(s.GasTestIn)
    @blp.response(200, s.PermitOut)
    @blp.doc(**{WORKFLOW_EVENT: "record_gas_test"})
    def post(self, body: dict[str, Any], permit_id: uuid.UUID) -> Any:
        """Record a gas analysis (analyst); pass or fail is computed from the readings (HW-05, CS-02)."""
        return _act(permit_id, "record_gas_test", _payload(body), _minimal_gas_test)


class ReissueBody(StrictSchema):
    """Why the permit is voided and re-issued (G-07)."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


@blp.route("/<uuid:permit_id>/reissue")
class PermitReissue(MethodView):
    """Void and re-issue."""

    @honours_prefer(s.PermitOut, s.PermitMinimalOut, 201)
    @blp.arguments(ReissueBody)
    @blp.response(201, s.PermitOut)
    def post(self, body: dict[str, Any], permit_id: uuid.UUID) -> Any:
        """Void this permit and file a new draft with the same content, linked back to it (G-07)."""
        principal = current_principal()
        with transaction() as session:
            _old, new = service.reissue(
                session, principal=principal, permit_id=permit_id, reason=body["reason"]
            )
            return _preferred()(session, new, principal, 201)


class EventList(StrictSchema):
    """The events of a permit, oldest first."""

    items = fields.List(fields.Nested(s.EventOut))


@blp.route("/<uuid:permit_id>/events")
class PermitEvents(MethodView):
    """The permit's audit trail."""

    @blp.response(200, EventList)
    def get(self, permit_id: uuid.UUID) -> dict[str, Any]:
        """The permit's timeline: every event, oldest first, with actor, role, evidence and request id (AU-01)."""
        session = get_session()
        permit = service.get_permit(session, principal=current_principal(), permit_id=permit_id)
        return {"items": history.timeline(session, subject_type="permit", subject_id=permit.id)}


@blp.route("/<uuid:permit_id>/form")
class PermitForm(MethodView):
    """The permit printed as its GB 30871 Appendix A form."""

    @blp.response(
        200,
        {"type": "string"},
        content_type="text/html",
        description="a self-contained HTML page (UTF-8) in three copies, one per printed page",
    )
    def get(self, permit_id: uuid.UUID) -> Response:
        """Print the permit as its GB 30871 Appendix A form: three labelled copies, grade marked (AU-04)."""
        session = get_session()
        permit = service.get_permit(session, principal=current_principal(), permit_id=permit_id)
        return Response(
            printing.render_form(session, permit),
            mimetype="text/html",
            headers={
                "ETag": etag_of(permit.version),
                # The page needs nothing but its own inline style: no script, image or request may run from it.
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            },
        )
