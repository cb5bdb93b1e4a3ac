"""AU-01/DC-04 on PostgreSQL: a platform following the feed during a burst of concurrent writers sees every event
once, in commit order, and a cursor resumed mid-burst (after 1,000 events) continues without a gap."""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import sqlalchemy as sa

from permit_service.audit import service as audit
from permit_service.audit.models import Event
from permit_service.auth.principal import SYSTEM
from permit_service.directory.models import Enterprise
from permit_service.feed.models import FeedPosition
from tests.api.permit_flows import PermitFlow
from tests.api.test_regulator_feed import FEED, follow, platform

WRITERS = 6
TRANSACTIONS = 120  # per writer, one to three events each: about 1,400 events


def _burst(app, world, ticks, spans, transactions=TRANSACTIONS):
    """Writers recording events; each transaction lingers after its inserts so ids and commits interleave."""
    factory = app.extensions["db_sessionmaker"]
    enterprises = [world.enterprise.id, world.other_enterprise.id]

    def writer(n):
        rng = random.Random(n)
        for _ in range(transactions):
            begun = next(ticks)
            with factory() as session, session.begin():
                ids = [
                    audit.record(
                        session, kind="permit.edited", actor=SYSTEM, subject_type="permit",
                        subject_id=uuid.uuid4(), enterprise_id=rng.choice(enterprises), data={"fields": ["title"]},
                    ).id
                    for _ in range(rng.randint(1, 3))
                ]  # fmt: skip
                time.sleep(rng.random() / 500)
            spans.append((begun, next(ticks), ids))

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))


@pytest.mark.postgres_only
def test_AU_01_a_cursor_resumed_mid_burst_yields_every_event_once_in_commit_order(app, client, factory):
    world = factory.world()
    headers = platform(client, factory, world.city_regulator)
    start = client.get(FEED, headers=headers).get_json()
    ticks, spans = itertools.count(), []  # itertools.count is atomic under the GIL
    burst = threading.Thread(target=_burst, args=(app, world, ticks, spans))
    burst.start()

    reader = app.test_client()
    seen, cursor, resumed_at = [], start["next_cursor"], None
    while burst.is_alive() or resumed_at is None or len(seen) < 1000:
        page = reader.get(FEED, query_string={"after": cursor, "limit": 37}, headers=headers).get_json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if resumed_at is None and len(seen) >= 1000:
            # The platform stops here and a new process of it resumes from the cursor it kept.
            resumed_at, reader = len(seen), app.test_client()
        if not burst.is_alive() and not page["has_more"] and resumed_at is not None:
            break
    burst.join()
    while True:  # drain what committed after the last poll
        page = reader.get(FEED, query_string={"after": cursor, "limit": 200}, headers=headers).get_json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break

    written = [i for _, _, ids in spans for i in ids]
    got = [e["event_id"] for e in seen if e["kind"] == "permit.edited"]
    assert resumed_at is not None and resumed_at >= 1000
    assert len(got) == len(set(got)), "an event came twice"
    assert sorted(got) == sorted(written), "an event was skipped"
    cursors = [int(e["cursor"]) for e in seen]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)

    # Commit order: a transaction that committed before another began comes first in the feed.
    position = {e["event_id"]: int(e["cursor"]) for e in seen}
    for begun, _, ids in random.Random(0).sample(spans, 200):
        before = [i for _, ended, other in spans if ended < begun for i in other]
        assert all(position[i] < min(position[j] for j in ids) for i in before)

    # And the ids alone would not have done: some event got a lower id than one committed (and fed) before it.
    feed_order = factory.session.scalars(
        sa.select(FeedPosition.event_id)
        .join(Event, Event.id == FeedPosition.event_id)
        .order_by(FeedPosition.position)
    ).all()
    assert feed_order != sorted(feed_order)


ROUNDS = 25  # per acting thread


@pytest.mark.postgres_only
def test_AU_01_filings_numbering_their_events_with_their_append_keep_commit_order_beside_other_writers(
    app, client, factory
):
    """A filing takes its event's feed position with the event's append (issue 14), holding the counter's lock from
    there to its commit: the feed still lists every event once in commit order, among actions racing on permits and
    writers that number theirs at commit, and nobody deadlocks on the counter (all answers 2xx)."""
    world = factory.world()
    elsewhere = replace(world, area=factory.area(world.enterprise))  # no cross operation (G-04)
    factory.session.commit()
    headers = platform(client, factory, world.regulator)
    paused = PermitFlow(client, factory, world).file("hot_work").to_active()
    tested = PermitFlow(client, factory, elsewhere).file("hot_work").to_active()
    start = client.get(FEED, headers=headers).get_json()["next_cursor"]
    ticks, spans, answers = itertools.count(), [], []  # spans: (begun, ended, permit id, version it wrote)

    def acting(flow, n):
        """Suspend and resume one permit (If-Match: it knows its version), record gas tests on one permit that
        another thread is testing too (no If-Match: those race for its row, service.act), or file new drafts."""
        web, version = app.test_client(), flow and flow.permit["version"]
        for i in range(ROUNDS):
            if flow is None:
                url, who = "/api/v1/permits", "applicant"
                body = {**paused.body("hot_work"), "title": f"E-{n}{i} 法兰补焊"}
                asked = {"Idempotency-Key": f"feed-{n}-{i}", "Prefer": "return=minimal"}
            elif flow is paused:
                action, who = ("suspend", "guardian") if i % 2 == 0 else ("resume", "work_leader")
                body = (
                    {"reason": "交叉作业 / crossing work"}
                    if action == "suspend"
                    else {"conditions_confirmed": True}
                )
                url, asked = f"{flow.url}/{action}", {"If-Match": f'"{version}"', "Prefer": "return=minimal"}
            else:
                url, who, body = f"{flow.url}/gas-tests", "analyst", flow.gas_body()
                asked = {"Prefer": "return=minimal"}
            begun = next(ticks)
            resp = web.post(url, json=body, headers=paused.headers(who, **asked))
            ended = next(ticks)
            answers.append(resp.status_code)
            if resp.status_code in (200, 201):
                version = resp.get_json()["version"]
                spans.append((begun, ended, resp.get_json()["id"], version))

    others = threading.Thread(target=_burst, args=(app, world, ticks, []), kwargs={"transactions": 30})
    others.start()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(acting, [paused, tested, tested, None], range(4)))
    others.join()

    assert set(answers) <= {200, 201}, sorted(set(answers))
    seen = follow(client, headers, after=start)[0]
    cursors = [int(e["cursor"]) for e in seen]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    permits = {pid for _, _, pid, _ in spans}
    acted = [e for e in seen if e["subject_id"] in permits]
    assert len(acted) == len(spans) == 4 * ROUNDS
    # Each write's event is its permit's next in the chain, as its version is: the event of (permit, version).
    seq = dict(
        factory.session.execute(
            sa.select(Event.id, Event.seq).where(Event.id.in_([e["event_id"] for e in acted]))
        ).all()
    )
    offset = {
        permit: max(seq[e["event_id"]] for e in acted if e["subject_id"] == permit)
        - max(v for _, _, pid, v in spans if pid == permit)
        for permit in permits
    }
    position = {
        (e["subject_id"], seq[e["event_id"]] - offset[e["subject_id"]]): int(e["cursor"]) for e in acted
    }
    # Commit order: a write answered before another was asked comes first in the feed.
    for begun, _, pid, version in spans:
        before = [position[(p, v)] for _, ended, p, v in spans if ended < begun]
        assert all(p < position[(pid, version)] for p in before)


@pytest.mark.postgres_only
def test_AU_01_writes_beside_a_writer_holding_their_enterprise_for_update_do_not_deadlock_on_the_counter(
    app, client, factory
):
    """A grading holds the enterprise's row for update (RG-01) and then takes the feed's counter as it commits. An
    action on one of its permits and a filing reference that row (their event's foreign key): each must wait for it
    before it takes the counter, or each waits for the other (issue 14: why an action's writes number at commit)."""
    world = factory.world()
    flow = PermitFlow(client, factory, world).file("hot_work").to_active()
    enterprise = world.enterprise.id
    holding, answers = threading.Event(), []

    def grading():
        with app.app_context(), app.extensions["db_sessionmaker"]() as session, session.begin():
            session.execute(sa.select(Enterprise.id).where(Enterprise.id == enterprise).with_for_update())
            audit.record(
                session, kind="enterprise.risk_grade_changed", actor=SYSTEM, subject_type="enterprise",
                subject_id=enterprise, enterprise_id=enterprise, data={"grade": "orange"},
            )  # fmt: skip
            holding.set()
            time.sleep(0.5)  # the others' statements reach the enterprise's row meanwhile

    def writing(url, body, who, **asked):
        holding.wait()
        web = app.test_client()
        answers.append(web.post(url, json=body, headers=flow.headers(who, **asked)).status_code)

    threads = [
        threading.Thread(target=grading),
        threading.Thread(target=writing, args=(f"{flow.url}/suspend", {"reason": "交叉作业"}, "guardian")),
        threading.Thread(
            target=writing,
            args=("/api/v1/permits", flow.body("hot_work"), "applicant"),
            kwargs={"Idempotency-Key": "graded-1"},
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)  # a deadlock guard, not a speed limit
    assert sorted(answers) == [200, 201]
