"""A permit's crew is read with the permit as plain rows (permits.crew, issue 14): the same crew, with the same
certificates on record in the same order, as the ORM collection it replaces on reads, through a permit's life and on
both databases; and a write that changes the crew is what the next read and the answer show."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from permit_service.auth.tokens import principal_of_person
from permit_service.permits import service
from permit_service.permits.crew import CertificateRow, CrewRow, _of, _parsed, crew_of
from permit_service.permits.models import Permit
from tests.api.checks import assert_problem
from tests.api.permit_flows import PermitFlow
from tests.api.test_certificates import WELDER, crew, record


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def _as_read_and_as_loaded(
    app, db_session, flow: PermitFlow
) -> tuple[tuple[CrewRow, ...], tuple[CrewRow, ...]]:
    """The crew as a permit read gives it (crew_of after get_permit) and as the ORM collection loads it."""
    permit_id = uuid.UUID(flow.permit["id"])
    with app.test_request_context():
        principal = principal_of_person(flow.person("applicant"))
        read = service.get_permit(db_session, principal=principal, permit_id=permit_id)
        assert "crew" not in read.__dict__  # not the collection: the rows read beside the permit
        as_read = crew_of(read)
        db_session.expunge_all()
        loaded = (
            db_session.scalars(
                sa.select(Permit).where(Permit.id == permit_id).options(*service.load_options())
            )
            .unique()
            .one()
        )
        as_loaded = tuple(_of(member) for member in loaded.crew)
        assert crew_of(loaded) == as_loaded
    db_session.rollback()  # SQLite: release the lock for the app
    return as_read, as_loaded


def test_the_crew_read_with_a_permit_is_the_crew_the_orm_loads_from_draft_to_work(app, db_session, flow):
    welder = flow.extra("welder", "worker")
    # Two certificates on record, recorded latest expiry first: both reads list them by expiry
    record(flow, welder, {**WELDER, "expires_on": "2031-01-31", "number": "T371102-0002"}, WELDER)
    flow.file("hot_work", crew=crew(flow, "hot_work", worker=welder))
    as_read, as_loaded = _as_read_and_as_loaded(app, db_session, flow)
    assert as_read == as_loaded
    worker = next(m for m in as_read if m.role == "worker")
    assert worker.person_id == welder.id and worker.name == welder.name
    assert [c.number for c in worker.certificates] == ["T371102-0001", "T371102-0002"]
    assert worker.certificate_kind is None  # nothing recorded before submit (G-13)
    assert [m.position for m in as_read] == sorted(m.position for m in as_read)

    flow.submit()  # G-13: submit records on the member's row the certificate that holds longest
    as_read, as_loaded = _as_read_and_as_loaded(app, db_session, flow)
    assert as_read == as_loaded
    worker = next(m for m in as_read if m.role == "worker")
    assert (worker.certificate_kind, worker.certificate_number) == ("welder", "T371102-0002")
    assert str(worker.certificate_expires_on) == "2031-01-31"

    flow.approve().brief().shift_check().gas_test().activate()
    assert _as_read_and_as_loaded(app, db_session, flow)[0] == as_read


def test_a_new_crew_carries_its_people_as_the_filing_read_them(app, db_session, flow):
    """The members a filing makes hold their person's name and certificates as read for it (crew.held): the same
    rows the permit's read gives afterwards, before submit records anything."""
    welder = flow.extra("welder", "worker")
    record(flow, welder, {**WELDER, "expires_on": "2031-01-31", "number": "T371102-0002"}, WELDER)
    members = crew(flow, "hot_work", worker=welder)
    flow.file("hot_work", crew=members)
    as_read, _ = _as_read_and_as_loaded(app, db_session, flow)
    with app.test_request_context():
        new = service._crew(
            db_session,
            flow.world.enterprise.id,
            [{"person_id": uuid.UUID(m["person_id"]), "role": m["role"]} for m in members],
        )
        assert "person" not in new[0].__dict__  # no ORM object of the person: what the read held
        assert tuple(_of(member) for member in new) == as_read
    db_session.rollback()


def test_a_crew_member_of_another_enterprise_is_refused_at_filing(client, factory, flow):
    """The people a filing reads with its area are the area's enterprise's: another's staff is no such person."""
    stranger = factory.world().people["worker"]
    resp = flow.client.post(
        "/api/v1/permits",
        json=flow.body("hot_work", crew=crew(flow, "hot_work", worker=stranger)),
        headers=flow.headers("applicant"),
    )
    worker = next(i for i, m in enumerate(flow.body("hot_work")["crew"]) if m["role"] == "worker")
    assert_problem(resp, 422, fields={f"crew.{worker}.person_id"})


def test_a_draft_whose_crew_is_replaced_answers_and_reads_the_new_crew(flow):
    flow.file("hot_work")
    guardian = flow.extra("second guardian", "guardian")
    new_crew = crew(flow, "hot_work", guardian=guardian)
    resp = flow.client.patch(
        flow.url,
        json={"crew": new_crew},
        headers={**flow.headers("applicant"), "If-Match": f'"{flow.permit["version"]}"'},
    )
    assert resp.status_code == 200, resp.get_json()
    answered = [(m["person_id"], m["role"]) for m in resp.get_json()["crew"]]
    assert answered == [(m["person_id"], m["role"]) for m in new_crew]
    assert [(m["person_id"], m["role"]) for m in flow.reload().permit["crew"]] == answered


def test_the_rows_are_parsed_from_either_databases_json():
    """PostgreSQL writes ids with dashes, SQLite as 32 hex digits; a member without certificates has one element,
    its certificate null; members come in order of position whatever order the aggregate gave."""
    person = uuid.uuid4()
    other = uuid.uuid4()
    text = (
        f'[["{other.hex}", "guardian", 1, null, null, null, "李明", null, null, null, null],'
        f' ["{person}", "worker", 0, "welder", "W-1", "2029-06-30", "王海涛", "welder", "W-2", null, "日照"],'
        f' ["{person}", "worker", 0, "welder", "W-1", "2029-06-30", "王海涛", "welder", "W-1", "2029-06-30", null]]'
    )
    worker, guardian = _parsed(text)
    assert worker.person_id == person and guardian.person_id == other
    assert worker.certificates == (
        CertificateRow("welder", "W-1", worker.certificate_expires_on, None),
        CertificateRow("welder", "W-2", None, "日照"),
    )
    assert guardian.certificates == () and guardian.name == "李明"
    assert _parsed(None) == _parsed("[]") == ()
