"""Sealed checkpoints over the chain heads of each enterprise (or region), which a regulator can keep (AU-02).

Every short interval the scheduler seals, per scope, the chains that moved since the scope's last checkpoint:
their heads (chain, length, last hash) are hashed into a root, and the root with the previous checkpoint's hash
into the checkpoint's own hash. A kept checkpoint therefore vouches for every event of its scope up to it: a
history rewritten afterwards, even with every event hash recomputed, no longer leads to the kept hash or no
longer ends where the checkpoint sealed each chain.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service.audit.hashing import GENESIS
from permit_service.audit.models import ChainHead, Checkpoint, CheckpointHead, Event
from permit_service.audit.verify import DELETED, EDITED, STREAM_BATCH, ChainReport
from permit_service.auth.principal import Principal, enterprise_scope, region_scope

SYSTEM_SCOPE = "system"


def scope_of(enterprise_id: uuid.UUID | None, region_id: uuid.UUID | None) -> str:
    """The checkpoint scope of a chain: its enterprise, else its region, else the system."""
    if enterprise_id is not None:
        return f"enterprise:{enterprise_id}"
    if region_id is not None:
        return f"region:{region_id}"
    return SYSTEM_SCOPE


def _heads_of(scope: str) -> sa.ColumnElement[bool]:
    kind, _, ident = scope.partition(":")
    if kind == "enterprise":
        return ChainHead.enterprise_id == uuid.UUID(ident)
    if kind == "region":
        return sa.and_(ChainHead.enterprise_id.is_(None), ChainHead.region_id == uuid.UUID(ident))
    return sa.and_(ChainHead.enterprise_id.is_(None), ChainHead.region_id.is_(None))


def heads_root(heads: Iterable[tuple[str, int, str]]) -> str:
    """The SHA-256 over (chain, length, hash) lines, in chain order."""
    root = hashlib.sha256()
    for chain, length, digest in heads:
        root.update(f"{chain} {length} {digest}\n".encode())
    return root.hexdigest()


def checkpoint_hash(checkpoint: Checkpoint) -> str:
    """The checkpoint's own hash: its scope, number, time, heads root and counts, and the previous hash."""
    body = {
        "scope": checkpoint.scope,
        "seq": checkpoint.seq,
        "sealed_at": checkpoint.created_at.isoformat(),
        "heads_root": checkpoint.heads_root,
        "chains": checkpoint.chains,
        "events": checkpoint.events,
        "prev_hash": checkpoint.prev_hash,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def moved_scopes(session: Session, limit: int) -> list[str]:
    """Scopes with chains that moved past their last checkpoint."""
    rows = session.execute(
        sa.select(ChainHead.enterprise_id, sa.case((ChainHead.enterprise_id.is_(None), ChainHead.region_id)))
        .where(ChainHead.length > ChainHead.sealed_length)
        .distinct()
        .limit(limit)
    )
    return sorted({scope_of(enterprise_id, region_id) for enterprise_id, region_id in rows})


def seal(session: Session, *, scope: str, now: datetime) -> Checkpoint | None:
    """Seal the scope's moved chains into its next checkpoint; None when nothing is left to seal.

    Heads a write holds right now are skipped, never waited on: their committed state is already sealed, and
    the next checkpoint takes them. The sealer's own row locks last until this short transaction commits.
    """
    moved = session.execute(
        sa.select(ChainHead.chain, ChainHead.length, ChainHead.last_hash, ChainHead.sealed_length)
        .where(_heads_of(scope), ChainHead.length > ChainHead.sealed_length)
        .order_by(ChainHead.chain)
        .with_for_update(skip_locked=True)
    ).all()
    if not moved:
        return None
    last = session.execute(
        sa.select(Checkpoint.seq, Checkpoint.hash, Checkpoint.events)
        .where(Checkpoint.scope == scope)
        .order_by(Checkpoint.seq.desc())
        .limit(1)
    ).first()
    kind, _, ident = scope.partition(":")
    checkpoint = Checkpoint(
        scope=scope,
        enterprise_id=uuid.UUID(ident) if kind == "enterprise" else None,
        region_id=uuid.UUID(ident) if kind == "region" else None,
        seq=last.seq + 1 if last else 1,
        created_at=now,
        heads_root=heads_root((h.chain, h.length, h.last_hash) for h in moved),
        chains=len(moved),
        events=(last.events if last else 0) + sum(h.length - h.sealed_length for h in moved),
        prev_hash=last.hash if last else GENESIS,
    )
    checkpoint.hash = checkpoint_hash(checkpoint)
    session.add(checkpoint)
    session.flush()
    session.execute(
        sa.insert(CheckpointHead),
        [
            {"checkpoint_id": checkpoint.id, "chain": h.chain, "length": h.length, "hash": h.last_hash}
            for h in moved
        ],
    )
    session.execute(
        sa.update(ChainHead),
        [{"chain": h.chain, "sealed_length": h.length} for h in moved],
    )
    return checkpoint


def visible(session: Session, principal: Principal, enterprise_id: uuid.UUID | None = None) -> sa.Select:
    """The checkpoints of the caller's enterprises and regions (optionally one enterprise), to paginate."""
    stmt = sa.select(Checkpoint).where(
        sa.or_(
            enterprise_scope(session, principal, Checkpoint.enterprise_id),
            region_scope(session, principal, Checkpoint.region_id),
        )
    )
    if enterprise_id is not None:
        stmt = stmt.where(Checkpoint.enterprise_id == enterprise_id)
    return stmt


# --- checking a history against a kept checkpoint -----------------------------------------------------


@dataclass(frozen=True)
class KeptCheckpoint:
    """What a regulator kept of a checkpoint: its scope, number and hash (the rest comes from the database)."""

    scope: str
    seq: int
    hash: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeptCheckpoint:
        """Read one checkpoint as the API lists it."""
        return cls(scope=str(data["scope"]), seq=int(data["seq"]), hash=str(data["hash"]))


def _checkpoint_rows(session: Session, kept: KeptCheckpoint) -> Iterator[Any]:
    return iter(
        session.execute(
            sa.select(
                Checkpoint,
                CheckpointHead.chain,
                CheckpointHead.length,
                CheckpointHead.hash.label("head_hash"),
            )
            .outerjoin(CheckpointHead, CheckpointHead.checkpoint_id == Checkpoint.id)
            .where(Checkpoint.scope == kept.scope, Checkpoint.seq <= kept.seq)
            .order_by(Checkpoint.seq, CheckpointHead.chain)
            .execution_options(yield_per=STREAM_BATCH)
        )
    )


def _checkpoints_lead_to(session: Session, kept: KeptCheckpoint) -> str:
    """Why the stored checkpoints do not recompute to the kept hash; empty when they do."""
    prev, seq = GENESIS, 0
    for checkpoint, rows in groupby(_checkpoint_rows(session, kept), key=lambda row: row.Checkpoint):
        seq += 1
        heads: Sequence[tuple[str, int, str]] = [(r.chain, r.length, r.head_hash) for r in rows if r.chain]
        if checkpoint.seq != seq or checkpoint.prev_hash != prev:
            return f"checkpoint {seq} of {kept.scope} is missing or out of order"
        if heads_root(heads) != checkpoint.heads_root or checkpoint_hash(checkpoint) != checkpoint.hash:
            return f"checkpoint {seq} of {kept.scope} was rewritten"
        prev = checkpoint.hash
    if seq != kept.seq or prev != kept.hash:
        return f"the checkpoints of {kept.scope} no longer lead to the kept checkpoint {kept.seq} ({kept.hash[:12]}…)"
    return ""


def check_against(session: Session, kept: KeptCheckpoint) -> Iterator[ChainReport]:
    """Check the history against a kept checkpoint: one report per chain whose sealed positions no longer hold."""
    if why := _checkpoints_lead_to(session, kept):
        yield ChainReport(kept.scope, 0, False, None, EDITED, why)
        return
    sealed = (
        sa.select(
            CheckpointHead.chain,
            CheckpointHead.length,
            CheckpointHead.hash,
            Event.id,
            Event.hash.label("now"),
        )
        .join(Checkpoint, Checkpoint.id == CheckpointHead.checkpoint_id)
        .outerjoin(Event, sa.and_(Event.chain == CheckpointHead.chain, Event.seq == CheckpointHead.length))
        .where(Checkpoint.scope == kept.scope, Checkpoint.seq <= kept.seq)
        .order_by(CheckpointHead.chain, CheckpointHead.length)
        .execution_options(yield_per=STREAM_BATCH)
    )
    for chain, rows in groupby(session.execute(sealed), key=lambda row: row.chain):
        held = 0  # the last sealed position that still holds: the change lies after it
        for row in rows:
            if row.now == row.hash:
                held = row.length
                continue
            first = session.scalar(sa.select(Event.id).where(Event.chain == chain, Event.seq == held + 1))
            what = DELETED if row.id is None else EDITED
            why = (
                f"the history was rewritten after position {held}: the event at position {row.length} "
                f"no longer has the hash a kept checkpoint sealed"
            )
            yield ChainReport(chain, row.length, False, first, what, why)
            break
        else:
            yield ChainReport(chain, held, True)
