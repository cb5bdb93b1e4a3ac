"""Sealed checkpoints a regulator keeps (AU-02): sealed by the scheduler, listed per tenant, checked by verify."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import sqlalchemy as sa

from permit_service.audit import service as audit
from permit_service.audit.models import ChainHead, Checkpoint, Event
from permit_service.auth import SYSTEM
from permit_service.scheduling import jobs
from tests.api.checks import assert_problem
from tests.integration.scheduler_helpers import run
from tests.integration.test_audit_chain import audit_verify, tamper


def _events(app, db_session, enterprise_id: uuid.UUID, subject_id: uuid.UUID, n: int = 1) -> list[int]:
    with app.app_context():
        events = [
            audit.record(
                db_session,
                kind="test.event",
                actor=SYSTEM,
                subject_type="permit",
                subject_id=subject_id,
                enterprise_id=enterprise_id,
                data={"n": i},
            )
            for i in range(n)
        ]
        db_session.commit()
    return [e.id for e in events]


def _seal(app, clock) -> int:
    return run(app, jobs.run_seal_checkpoints, clock.now()).done


def test_AU_02_the_scheduler_seals_the_chains_each_enterprise_moved_into_its_next_checkpoint(
    app, factory, db_session, clock
):
    world = factory.world()
    permit = uuid.uuid4()
    _events(app, db_session, world.enterprise.id, permit, 2)
    _events(app, db_session, world.other_enterprise.id, uuid.uuid4())
    assert _seal(app, clock) == 2  # one checkpoint per enterprise
    assert _seal(app, clock) == 0  # nothing moved since: nothing to seal
    _events(app, db_session, world.enterprise.id, permit)
    _events(app, db_session, world.enterprise.id, uuid.uuid4())
    assert _seal(app, clock) == 1
    first, second = db_session.scalars(
        sa.select(Checkpoint).where(Checkpoint.enterprise_id == world.enterprise.id).order_by(Checkpoint.seq)
    ).all()
    assert (first.seq, first.chains, first.events, first.prev_hash) == (1, 1, 2, audit.GENESIS)
    assert (second.seq, second.chains, second.events, second.prev_hash) == (2, 2, 4, first.hash)
    heads = db_session.scalars(
        sa.select(ChainHead).where(ChainHead.enterprise_id == world.enterprise.id)
    ).all()
    assert all(head.sealed_length == head.length for head in heads)


def _listed(client, factory, who, query: str = "") -> list[dict]:
    resp = client.get(f"/api/v1/regulator/checkpoints{query}", headers=factory.headers(who))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


def test_AU_02_a_district_regulator_lists_the_checkpoints_of_its_own_enterprises_only(
    app, client, factory, db_session, clock
):
    world = factory.world()
    _events(app, db_session, world.enterprise.id, uuid.uuid4())
    _events(app, db_session, world.other_enterprise.id, uuid.uuid4())
    _seal(app, clock)
    mine = _listed(client, factory, world.regulator)
    assert [c["enterprise_id"] for c in mine] == [str(world.enterprise.id)]
    assert set(mine[0]) >= {
        "scope",
        "seq",
        "sealed_at",
        "heads_root",
        "chains",
        "events",
        "prev_hash",
        "hash",
    }
    assert [c["enterprise_id"] for c in _listed(client, factory, world.other_regulator)] == [
        str(world.other_enterprise.id)
    ]
    assert len(_listed(client, factory, world.city_regulator)) == 2
    assert _listed(client, factory, world.regulator, f"?enterprise_id={world.other_enterprise.id}") == []
    staff = client.get(
        "/api/v1/regulator/checkpoints", headers=factory.headers(world.people["enterprise_admin"])
    )
    assert_problem(staff, 403)


def _rewrite_from(db_session, chain: str, seq: int, **changes) -> None:
    """Edit the event at `seq` and recompute every hash after it, and the head: a rewrite no link betrays."""
    events = db_session.scalars(sa.select(Event).where(Event.chain == chain).order_by(Event.seq)).all()
    prev = events[seq - 2].hash if seq > 1 else audit.GENESIS
    statements = []
    for event in events[seq - 1 :]:
        for name, value in (changes if event.seq == seq else {}).items():
            setattr(event, name, value)
        event.prev_hash = prev
        prev = audit.event_hash(event)
        statements.append(
            f"UPDATE events SET kind = '{event.kind}', prev_hash = '{event.prev_hash}', hash = '{prev}' "
            f"WHERE id = {event.id}"
        )
    db_session.rollback()  # the ORM objects were only a calculator
    statements.append(f"UPDATE event_chain_heads SET last_hash = '{prev}' WHERE chain = '{chain}'")
    tamper(db_session, *statements)


def test_AU_02_a_history_rewritten_with_every_hash_recomputed_is_caught_against_a_kept_checkpoint(
    app, client, factory, db_session, clock, cli_env, tmp_path
):
    world = factory.world()
    permit = uuid.uuid4()
    ids = _events(app, db_session, world.enterprise.id, permit, 2)
    _seal(app, clock)
    clock.advance(timedelta(minutes=1))
    ids += _events(app, db_session, world.enterprise.id, permit, 3)
    _seal(app, clock)
    kept = tmp_path / "checkpoint.json"
    kept.write_text(
        json.dumps(_listed(client, factory, world.regulator)[0])
    )  # the newest, as the regulator keeps it
    assert audit_verify("--checkpoint", str(kept))[0] == 0

    _rewrite_from(db_session, f"permit/{permit}", 3, kind="test.forged")
    assert audit_verify()[0] == 0  # every link holds: the chain alone cannot tell
    code, output = audit_verify("--checkpoint", str(kept))
    assert code == 1 and f"event {ids[2]} edited: the history was rewritten after position 2" in output


def test_AU_02_rewritten_checkpoints_no_longer_lead_to_the_kept_one(
    app, client, factory, db_session, clock, cli_env, tmp_path
):
    world = factory.world()
    _events(app, db_session, world.enterprise.id, uuid.uuid4(), 2)
    _seal(app, clock)
    kept = tmp_path / "checkpoint.json"
    kept.write_text(json.dumps(_listed(client, factory, world.regulator)[0]))
    tamper(db_session, "UPDATE audit_checkpoints SET events = 1")
    code, output = audit_verify("--checkpoint", str(kept))
    assert code == 1 and "was rewritten" in output
