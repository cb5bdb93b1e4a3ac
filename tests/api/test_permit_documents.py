"""A finished permit is read from the document rendered when it finished, never from a stale one (issue 14)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from permit_service.cli import main
from permit_service.permits import documents
from permit_service.permits.models import Permit, PermitDocument
from tests.api.checks import assert_problem
from tests.api.permit_flows import PermitFlow


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def _get(flow: PermitFlow, who: str = "work_leader"):
    resp = flow.client.get(flow.url, headers=flow.headers(who))
    assert resp.status_code == 200, resp.get_json()
    return resp


def _document(db_session, flow: PermitFlow) -> PermitDocument | None:
    document = db_session.get(PermitDocument, uuid.UUID(flow.id), populate_existing=True)
    db_session.commit()  # SQLite: release the lock for the app
    return document


def _tamper(db_session, flow: PermitFlow, **values) -> None:
    db_session.execute(
        sa.update(PermitDocument).where(PermitDocument.permit_id == uuid.UUID(flow.id)).values(**values)
    )
    db_session.commit()


def test_closing_renders_the_document_and_a_read_of_it_is_the_permits_answer(flow, db_session):
    flow.file("hot_work").to_closed()
    document = _document(db_session, flow)
    assert document is not None and document.version == flow.permit["version"]

    fast = _get(flow)  # statements: tests/api/test_statement_budgets.py

    _tamper(db_session, flow, format="older")  # not current: read the long way
    slow = _get(flow)
    assert fast.get_json() == slow.get_json()
    assert fast.headers["ETag"] == slow.headers["ETag"] == f'"{flow.permit["version"]}"'
    assert fast.get_json()["state"] == "closed" and fast.get_json()["allowed_actions"] == []


def test_a_document_is_served_only_while_it_is_current(flow, db_session):
    flow.file("hot_work").to_closed()
    body = json.loads(_document(db_session, flow).body)

    _tamper(db_session, flow, body=json.dumps({**body, "title": "从文档读出"}))
    assert _get(flow).get_json()["title"] == "从文档读出"  # proof that a current document is what answers

    # The permit changed behind the document's back (its version moved): the stored row answers.
    db_session.execute(
        sa.update(Permit).where(Permit.id == uuid.UUID(flow.id)).values(version=Permit.version + 1)
    )
    db_session.commit()
    answer = _get(flow)
    assert answer.get_json()["title"] == flow.permit["title"]
    assert answer.headers["ETag"] == f'"{flow.permit["version"] + 1}"'


def test_a_live_permit_is_never_read_from_a_document(flow, db_session):
    flow.file("hot_work").submit()
    assert _document(db_session, flow) is None
    assert _get(flow).get_json()["state"] == "submitted"


def test_G_03_a_finished_permit_shows_its_linked_permits_state_now(flow):
    parent, power = flow.hot_work_with_its_power()
    parent.complete()
    parent.accept().close()
    assert [link["state"] for link in _get(parent).get_json()["links"]] == ["completed"]

    power.reload().accept().close()
    assert [link["state"] for link in _get(parent).get_json()["links"]] == ["closed"]


def test_FZ_04_a_finished_permit_answers_the_calendar_notice_of_its_days_now(flow, db_session):
    day = datetime(2027, 3, 3, 9, tzinfo=ZoneInfo("Asia/Shanghai"))  # a computed work day: provisional
    window = {"valid_from": day.isoformat(), "valid_until": (day + timedelta(hours=6)).isoformat()}
    flow.file("hot_work", **window).do("cancel", {"reason": "改期 / rescheduled"}, by="applicant")
    fast = _get(flow)
    assert fast.get_json()["calendar_notice"]["days"] == ["2027-03-03"]

    _tamper(db_session, flow, format="older")
    assert _get(flow).get_json() == fast.get_json()


def test_another_tenant_or_region_gets_404_from_a_finished_permit(flow, factory):
    flow.file("hot_work").to_closed()
    stranger = factory.world()
    for who in (stranger.people["work_leader"], stranger.regulator):
        assert_problem(flow.client.get(flow.url, headers=factory.headers(who)), 404)
    assert _get(flow).status_code == 200
    resp = flow.client.get(flow.url, headers=factory.headers(flow.world.regulator))
    assert resp.status_code == 200 and resp.get_json()["id"] == flow.id


def test_documents_rebuild_renders_what_an_upgrade_left_without(flow, db_session, cli_env):
    flow.file("hot_work").to_closed()
    closed = _get(flow).get_json()
    db_session.execute(sa.delete(PermitDocument))
    db_session.commit()

    result = CliRunner().invoke(main, ["documents", "rebuild"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 finished permits rendered")
    assert _document(db_session, flow) is not None
    assert _get(flow).get_json() == closed
    assert CliRunner().invoke(main, ["documents", "rebuild"]).output.startswith("0 finished")


def test_a_cancel_whose_document_cannot_be_stored_is_answered_and_read_the_long_way(
    flow, db_session, monkeypatch
):
    flow.file("hot_work")

    def locked_out(*_args):
        raise sa.exc.OperationalError("INSERT INTO permit_documents", {}, Exception("database is locked"))

    # The document is stored after the cancellation commits (issue 14): its failure undoes nothing.
    monkeypatch.setattr(documents, "_store", locked_out)
    cancelled = flow.client.post(
        f"{flow.url}/cancel", json={"reason": "作业计划调整"}, headers=flow.headers("applicant")
    )
    assert cancelled.status_code == 200, cancelled.get_json()
    assert _document(db_session, flow) is None
    read = flow.client.get(flow.url, headers=flow.headers("applicant"))
    assert read.get_json() == cancelled.get_json() and read.headers["ETag"] == cancelled.headers["ETag"]
    assert read.get_json()["state"] == "cancelled"
