"""On-site evidence use cases: gather what the plant's records say about a signer's presence, record exemptions.

The facts are gathered here (the signer's own card's last placement, a position fix tested against the area's
boundary by `directory.geometry`, the regulator's exemption); the core (`workflows.rules.on_site`) weighs them.
Services flush, never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.audit import service as audit
from permit_service.auth.principal import Principal
from permit_service.directory.geometry import covers, position_point
from permit_service.directory.models import Enterprise, Person, PlantArea
from permit_service.errors import Conflict
from permit_service.integrations.models import CardLocation
from workflows.model import OnSiteClaim


def claim_for(
    session: Session, *, area: PlantArea, principal: Principal, evidence: Mapping[str, Any]
) -> OnSiteClaim:
    """What the records say about the caller being in `area` now, with what the request brought (G-06)."""
    own_card = (
        session.scalar(sa.select(Person.positioning_card_id).where(Person.id == uuid.UUID(principal.id)))
        if principal.kind == "person"
        else None
    )
    seen_at = None
    if own_card is not None:
        seen_at = session.scalar(
            sa.select(CardLocation.seen_at).where(
                CardLocation.enterprise_id == area.enterprise_id,
                CardLocation.card_id == own_card,
                CardLocation.area_id == area.id,
            )
        )
    position = evidence.get("position") or {}
    point = position_point(position)
    return OnSiteClaim(
        own_card=own_card,
        cited_card=evidence.get("card_id") or None,
        card_seen_at=seen_at,
        position_given=bool(position),
        has_boundary=area.boundary is not None,
        inside=covers(area.boundary, point) if point is not None and area.boundary is not None else None,
        accuracy_m=position.get("accuracy_m"),
        declared=bool(evidence.get("declared")),
        exempt=area.positioning_exempted_at is not None,
    )


def evidence_record(kind: str, claim: OnSiteClaim) -> dict[str, Any]:
    """What a signature keeps of the evidence it was given: the kind and what proved it."""
    record: dict[str, Any] = {"on_site": kind}
    if kind == "card_sighting":
        record.update(card_id=claim.own_card, card_seen_at=claim.card_seen_at.isoformat())
    elif kind == "position_fix":
        record["accuracy_m"] = claim.accuracy_m
    return record


# --- the regulator's exemption of an area without positioning coverage ---------------------------


def record_exemption(session: Session, *, principal: Principal, area: PlantArea, reason: str) -> PlantArea:
    """The regulator records that the area has no positioning coverage: a declared presence counts there (G-06)."""
    if area.positioning_exempted_at is not None:
        raise Conflict(
            "该区域已登记定位豁免", "The area's positioning exemption is already recorded", rule="G-06"
        )
    area.positioning_exempted_at = clock.now()
    area.positioning_exempted_by_id = uuid.UUID(principal.id)
    area.positioning_exemption_reason = reason
    session.flush()
    _record(session, principal, area, "area.positioning_exempted", {"reason": reason})
    return area


def revoke_exemption(session: Session, *, principal: Principal, area: PlantArea, reason: str) -> PlantArea:
    """The regulator revokes the exemption: from now on only positioning proves presence in the area (G-06)."""
    if area.positioning_exempted_at is None:
        raise Conflict("该区域没有定位豁免", "The area has no positioning exemption to revoke", rule="G-06")
    previous = {
        "exempted_at": area.positioning_exempted_at.isoformat(),
        "reason": area.positioning_exemption_reason,
    }
    area.positioning_exempted_at = None
    area.positioning_exempted_by_id = None
    area.positioning_exemption_reason = None
    session.flush()
    _record(
        session, principal, area, "area.positioning_exemption_revoked", {"reason": reason, "was": previous}
    )
    return area


def _record(session: Session, principal: Principal, area: PlantArea, kind: str, data: dict[str, Any]) -> None:
    enterprise = session.get_one(Enterprise, area.enterprise_id)
    audit.record(
        session,
        kind=kind,
        actor=principal,
        subject_type="area",
        subject_id=area.id,
        enterprise_id=enterprise.id,
        region_id=enterprise.region_id,
        data={"code": area.code, **data},
    )
