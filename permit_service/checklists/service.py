"""Checklist use cases (SD-02): keep an enterprise's checklists, confirm their items on a permit, tell the core.

They flush, never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from permit_service import clock
from permit_service.auth.principal import Principal
from permit_service.checklists.models import ChecklistConfirmation, EnterpriseChecklist
from permit_service.db import advisory_xact_lock
from permit_service.directory.configured import replace_list
from permit_service.directory.models import Enterprise
from permit_service.directory.service import NOT_ACTIVE_STAFF, active_staff
from permit_service.errors import Forbidden, ValidationProblem
from permit_service.permits import service as permits
from permit_service.permits.context import register_provider
from permit_service.permits.models import Permit
from workflows import model as wf
from workflows.rules import RuleViolation, Violation
from workflows.rules.general import CHECKLISTS
from workflows.states import State

# Approval fires from these states only: the core reads the checklists nowhere else.
_APPROVABLE = frozenset({State.submitted, State.countersigned})
# Items are confirmed before approval; from approval on they are part of the signed permit (G-07).
_CONFIRMABLE = _APPROVABLE | {State.draft}


# --- the enterprise's checklists -------------------------------------------------------------------


def get_checklist(
    session: Session, *, enterprise: Enterprise, kind: str, for_update: bool = False
) -> EnterpriseChecklist:
    """The enterprise's checklist of `kind`; never configured, an empty unsaved one at version 0 (its ETag "0").

    `for_update` serialises the writers of this list, also while it does not exist yet (no row to lock then).
    """
    if for_update:
        advisory_xact_lock(session, f"checklist:{enterprise.id}:{kind}")
    found = session.scalar(
        sa.select(EnterpriseChecklist).where(
            EnterpriseChecklist.enterprise_id == enterprise.id, EnterpriseChecklist.kind == kind
        )
    )
    return found or EnterpriseChecklist(enterprise_id=enterprise.id, kind=kind, items=[], version=0)


def replace_checklist(
    session: Session,
    *,
    principal: Principal,
    enterprise: Enterprise,
    checklist: EnterpriseChecklist,
    items: Sequence[Mapping[str, Any]],
) -> EnterpriseChecklist:
    """Make the list `items` (If-Match already checked); the change is an audit event, a no-op records nothing."""
    replace_list(
        session,
        principal=principal,
        enterprise=enterprise,
        row=checklist,
        field="items",
        wanted=[dict(item) for item in items],
        kind="checklist.updated",
        subject_type="checklist",
        data={"kind": checklist.kind},
    )
    return checklist


def _items_by_kind(session: Session, enterprise_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    rows = session.execute(
        sa.select(EnterpriseChecklist.kind, EnterpriseChecklist.items).where(
            EnterpriseChecklist.enterprise_id == enterprise_id
        )
    )
    return {kind: items for kind, items in rows}


# --- a permit's confirmations ----------------------------------------------------------------------


def _confirmations(session: Session, permit: Permit) -> list[ChecklistConfirmation]:
    return list(
        session.scalars(
            sa.select(ChecklistConfirmation)
            .where(ChecklistConfirmation.permit_id == permit.id)
            .order_by(ChecklistConfirmation.checklist, ChecklistConfirmation.code)
        )
    )


def _due(permit: Permit) -> tuple[str, ...]:
    return ("site", "outsourcing") if permit.contractor else ("site",)


@register_provider(by_state=True)
def checklist_context(session: Session, permit: Permit) -> dict[str, Any]:
    """Context provider (SD-02): the enterprise's item codes and the permit's confirmations, where approval reads them.

    Every load of every permit comes here (the scheduler's expiries too): outside the approvable states nothing
    reads them, and nothing is queried.
    """
    if permit.state not in _APPROVABLE:
        return {}
    lists = _items_by_kind(session, permit.enterprise_id)
    return {
        "checklists": {kind: tuple(item["code"] for item in items) for kind, items in lists.items()},
        "checklist_confirmations": tuple(
            wf.ChecklistConfirmation(c.checklist, c.code, str(c.confirmed_by))
            for c in _confirmations(session, permit)
        ),
    }


def confirmations_view(session: Session, permit: Permit) -> dict[str, Any]:
    """The permit's confirmations and the items still open: site items, and outsourcing ones for contractor work."""
    confirmations = _confirmations(session, permit)
    confirmed = {(c.checklist, c.code) for c in confirmations}
    lists = _items_by_kind(session, permit.enterprise_id)
    open_items = [
        {"checklist": kind, **item}
        for kind in _due(permit)
        for item in lists.get(kind, ())
        if (kind, item["code"]) not in confirmed
    ]
    return {"items": confirmations, "open": open_items}


def printed_checklists(session: Session, permit: Permit) -> list[dict[str, Any]]:
    """The checklists as the printed form shows them (SD-02, AU-04): each list the permit answers (site; outsourcing
    for contractor work) item by item in the enterprise's order, each with who confirmed it and when (None: not
    confirmed), then any confirmed item the enterprise has since dropped from its list."""
    confirmations = {(c.checklist, c.code): c for c in _confirmations(session, permit)}
    lists = _items_by_kind(session, permit.enterprise_id)
    printed = []
    for kind in CHECKLISTS:
        items = [dict(item) for item in lists.get(kind, ())] if kind in _due(permit) else []
        listed = {item["code"] for item in items}
        items += [
            {"code": code, "text_zh": "", "text_en": ""}
            for checklist, code in confirmations
            if checklist == kind and code not in listed
        ]
        for item in items:
            confirmation = confirmations.get((kind, item["code"]))
            item["confirmed_by"] = confirmation.confirmed_by if confirmation else None
            item["confirmed_at"] = confirmation.recorded_at if confirmation else None
        if items:
            printed.append({"kind": kind, "items": items})
    return printed


def set_confirmations(
    session: Session, *, principal: Principal, permit: Permit, items: Sequence[Mapping[str, Any]]
) -> Permit:
    """Replace the permit's confirmations (loaded for update, If-Match checked): the applicant records who
    confirmed each item, before approval (SD-02). Each item is one of the enterprise's; each confirmer one of its
    active people."""
    if permit.state not in _CONFIRMABLE:
        raise RuleViolation(
            Violation(
                "SD-02",
                "检查项须在审批前确认，审批后不能更改",
                "checklist items are confirmed before approval and cannot change afterwards",
            ),
            allowed_actions=permits.allowed_actions(session, permit, principal),
        )
    if str(permit.applicant_id) != principal.id:
        raise Forbidden(
            "只有申请人可以登记检查项的确认人", "Only the applicant records who confirmed the checklist items"
        )
    _refuse_unknown(session, permit, items)
    session.execute(sa.delete(ChecklistConfirmation).where(ChecklistConfirmation.permit_id == permit.id))
    now = clock.now()
    for item in items:
        session.add(
            ChecklistConfirmation(
                permit_id=permit.id,
                checklist=item["checklist"],
                code=item["code"],
                confirmed_by=item["confirmed_by"],
                recorded_at=now,
            )
        )
    # The confirmations are rows of their own: touching the permit moves its version (the ETag) with them.
    permit.updated_at = now
    flag_modified(permit, "updated_at")
    session.flush()
    permits.record_event(
        session,
        permit,
        principal,
        "permit.checklists_confirmed",
        {
            "number": permit.number,
            "items": [{**item, "confirmed_by": str(item["confirmed_by"])} for item in items],
        },
    )
    return permit


def _refuse_unknown(session: Session, permit: Permit, items: Sequence[Mapping[str, Any]]) -> None:
    """422 naming every item the enterprise's lists lack and every confirmer who is not its active staff."""
    codes = {
        kind: {item["code"] for item in entries}
        for kind, entries in _items_by_kind(session, permit.enterprise_id).items()
    }
    people = active_staff(session, permit.enterprise_id, (item["confirmed_by"] for item in items))
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        if item["code"] not in codes.get(item["checklist"], ()):
            zh, en = CHECKLISTS[item["checklist"]]
            errors[f"items.{index}.code"] = [
                f"本企业的{zh}没有该检查项 / no such item in the enterprise's {en}"
            ]
        if item["confirmed_by"] not in people:
            errors[f"items.{index}.confirmed_by"] = [NOT_ACTIVE_STAFF]
    if errors:
        raise ValidationProblem(errors)
