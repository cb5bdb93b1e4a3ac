"""How events are hashed and which chain a subject's events form (AU-02)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from permit_service.audit.models import Event

GENESIS = "0" * 64
CHAIN_KEY_LENGTH = 64


def event_hash(event: Event) -> str:
    """The SHA-256 of the event's canonical form: everything but its id, position and own hash."""
    before, after = canonical_parts(event)
    return hashlib.sha256(f"{before}{json.dumps(event.prev_hash)}{after}".encode()).hexdigest()


def canonical_parts(event: Event) -> tuple[str, str]:
    """The event's canonical form (sorted keys, compact JSON) before and after its previous hash's JSON string.

    Apart so that the database can hash an event in the statement that hands out its previous hash (audit.record
    on PostgreSQL): the text is the same whichever side joins the three parts.
    """
    body = {
        "at": event.at.isoformat(),
        "kind": event.kind,
        "actor_id": event.actor_id,
        "actor_roles": sorted(event.actor_roles),
        "enterprise_id": str(event.enterprise_id) if event.enterprise_id else None,
        "region_id": str(event.region_id) if event.region_id else None,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "data": event.data,
        "chain": event.chain,
    }
    if event.request_id is not None:  # hashed only where present: 0.1.0's events keep their hashes
        body["request_id"] = event.request_id
    # Keys sort as json.dumps(sort_keys=True) sorts them; "prev_hash" falls between these two halves.
    before = _canonical({k: v for k, v in body.items() if k < _PREV})
    after = _canonical({k: v for k, v in body.items() if k > _PREV})
    return f'{before[:-1]},"{_PREV}":', f",{after[1:]}"


_PREV = "prev_hash"


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def chain_of(subject_type: str, subject_id: uuid.UUID | str) -> str:
    """The chain of a subject: one per permit, job, area, person... so that subjects never wait on each other."""
    key = f"{subject_type}/{subject_id}"
    if len(key) <= CHAIN_KEY_LENGTH:
        return key
    return "subject/" + hashlib.sha256(key.encode()).hexdigest()[: CHAIN_KEY_LENGTH - len("subject/")]
