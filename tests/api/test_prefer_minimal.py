"""`Prefer: return=minimal` (RFC 7240) on the permit writes: the same status, ETag and Location with a small body,
none of the work the whole answer needs; without it nothing changes (issue 14)."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import pytest
from werkzeug.test import TestResponse

from permit_service.permits.models import PermitDocument
from tests.api.checks import assert_problem, counted, peek
from tests.api.permit_flows import API, PermitFlow
from tests.conftest import ON_POSTGRES

MINIMAL = {"Prefer": "return=minimal"}
PERMIT = {"id", "number", "type", "state", "version", "updated_at"}
FAILING_AIR = [{"gas": "CH4", "value": 0.8, "unit": "%vol"}]  # HW-08: over the limit


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def post(flow: PermitFlow, segment: str, body: dict[str, Any], who: str, **headers: str) -> TestResponse:
    return flow.client.post(f"{flow.url}/{segment}", json=body, headers=flow.headers(who, **headers))


def assert_minimal(resp: TestResponse, status: int = 200, fields: set[str] = PERMIT) -> dict[str, Any]:
    """A minimal answer: the status, the fields of its schema only, the preference said applied."""
    assert resp.status_code == status, resp.get_json()
    body = resp.get_json()
    assert set(body) == fields
    assert resp.headers["Preference-Applied"] == "return=minimal"
    assert "Prefer" in resp.headers["Vary"]
    assert resp.headers["ETag"] == f'"{body["version"]}"'
    return body


def assert_full(resp: TestResponse, status: int = 200) -> dict[str, Any]:
    """The whole permit, as without the header, varying on Prefer."""
    assert resp.status_code == status, resp.get_json()
    body = resp.get_json()
    assert {"signatures", "gas_tests", "allowed_actions", "blocked_actions"} <= set(body)
    assert "Preference-Applied" not in resp.headers
    assert "Prefer" in resp.headers["Vary"]
    return body


def assert_as_read(flow: PermitFlow, resp: TestResponse, who: str = "work_leader") -> dict[str, Any]:
    """What a GET shows afterwards agrees with the minimal answer: ETag, version, state, number, updated_at."""
    read = flow.client.get(f"{API}/{resp.get_json()['id']}", headers=flow.headers(who))
    assert read.status_code == 200
    whole = read.get_json()
    assert read.headers["ETag"] == resp.headers["ETag"]
    assert {k: whole[k] for k in PERMIT} == {k: resp.get_json()[k] for k in PERMIT}
    assert "Vary" not in read.headers or "Prefer" not in read.headers["Vary"]
    return whole


def test_create_answers_minimally_with_its_location_and_etag(flow):
    resp = flow.client.post(API, json=flow.body(), headers=flow.headers("applicant", **MINIMAL))
    body = assert_minimal(resp, 201)
    assert resp.headers["Location"] == f"{API}/{body['id']}"
    assert body["state"] == "draft" and body["type"] == "hot_work" and body["number"]
    assert body["updated_at"].endswith("+08:00")  # shown in Asia/Shanghai as every time is
    assert_as_read(flow, resp, "applicant")

    whole = flow.client.post(API, json=flow.body(), headers=flow.headers("applicant"))
    assert assert_full(whole, 201)["allowed_actions"]
    assert whole.headers["Location"] == f"{API}/{whole.get_json()['id']}"


def test_actions_answer_minimally_and_the_permit_moved_as_a_get_shows(flow):
    flow.file("hot_work").to_active()
    suspended = post(flow, "suspend", {"reason": "交叉作业 / crossing work"}, "guardian", **MINIMAL)
    assert assert_minimal(suspended)["state"] == "suspended"
    assert_as_read(flow, suspended)

    version = suspended.get_json()["version"]
    resumed = post(
        flow,
        "resume",
        {"conditions_confirmed": True},
        "work_leader",
        **MINIMAL,
        **{"If-Match": f'"{version}"'},
    )
    assert assert_minimal(resumed)["version"] == version + 1
    assert resumed.get_json()["state"] == "active"
    assert_as_read(flow, resumed)

    again = post(flow, "suspend", {"reason": "再次暂停 / again"}, "guardian", Prefer="return=representation")
    assert assert_full(again)["state"] == "suspended"


def test_a_gas_test_answers_minimally_with_its_verdict(flow):
    flow.file("hot_work").to_briefed()
    passed = post(flow, "gas-tests", flow.gas_body(), "analyst", **MINIMAL)
    body = assert_minimal(passed, fields={*PERMIT, "gas_test"})
    assert body["gas_test"]["passed"] is True and body["gas_test"]["findings"] == []
    whole = assert_as_read(flow, passed)
    assert [t["id"] for t in whole["gas_tests"]] == [body["gas_test"]["id"]]

    flow.reload().activate()
    failed = post(flow, "gas-tests", flow.gas_body(FAILING_AIR), "analyst", **MINIMAL)
    body = assert_minimal(failed, fields={*PERMIT, "gas_test"})
    assert body["gas_test"]["passed"] is False
    assert body["gas_test"]["findings"]
    assert body["state"] == "suspended"  # HW-08: the failed test stopped the work in the same write
    whole = assert_as_read(flow, failed)
    recorded = {t["id"]: t["passed"] for t in whole["gas_tests"]}
    assert recorded[body["gas_test"]["id"]] is False

    assert_full(post(flow, "gas-tests", flow.gas_body(), "analyst"))


def test_a_draft_edit_and_a_reissue_answer_minimally(flow):
    flow.file("hot_work")
    edited = flow.client.patch(
        flow.url,
        json={"title": "改后的标题"},
        headers=flow.headers("applicant", **MINIMAL, **{"If-Match": f'"{flow.permit["version"]}"'}),
    )
    assert assert_minimal(edited)["version"] == flow.permit["version"] + 1
    assert assert_as_read(flow, edited, "applicant")["title"] == "改后的标题"

    flow.reload().submit()
    reissued = post(flow, "reissue", {"reason": "范围变更"}, "applicant", **MINIMAL)
    body = assert_minimal(reissued, 201)
    assert body["id"] != flow.id and body["state"] == "draft"
    assert reissued.headers["Location"] == f"{API}/{body['id']}"
    assert assert_as_read(flow, reissued, "applicant")["reissued_from_id"] == flow.id

    whole = flow.client.patch(
        f"{API}/{body['id']}",
        json={"title": "再改"},
        headers=flow.headers("applicant", **{"If-Match": reissued.headers["ETag"]}),
    )
    assert assert_full(whole)["title"] == "再改"


def test_a_minimal_close_still_stores_the_finished_permits_document(flow):
    flow.file("hot_work").to_active().complete().accept()
    closed = post(flow, "close", {}, "unit_leader", **MINIMAL)
    body = assert_minimal(closed)
    assert body["state"] == "closed"
    with peek(flow.factory.app) as session:
        document = session.get(PermitDocument, uuid.UUID(flow.id))
        assert document is not None and document.version == body["version"]
    whole = assert_as_read(flow, closed)
    assert whole["allowed_actions"] == [] and whole["signatures"]


@pytest.mark.parametrize(
    ("prefer", "minimal"),
    [
        ("return=minimal", True),
        ('RETURN = "Minimal"', True),
        ("respond-async, wait=10, return=minimal; x=1", True),
        ("return=representation", False),
        ("return=representation, return=minimal", False),  # RFC 7240 section 2: the first one counts
        ("handling=lenient", False),
    ],
)
def test_the_first_return_preference_decides(flow, prefer, minimal):
    flow.file("hot_work")
    resp = flow.client.patch(
        flow.url,
        json={"title": "改后的标题"},
        headers=flow.headers("applicant", Prefer=prefer, **{"If-Match": f'"{flow.permit["version"]}"'}),
    )
    assert_minimal(resp) if minimal else assert_full(resp)


def test_a_replayed_create_answers_what_was_answered(flow):
    key = {"Idempotency-Key": f"minimal-{uuid.uuid4()}"}
    body = flow.body()
    first = flow.client.post(API, json=body, headers=flow.headers("applicant", **MINIMAL, **key))
    assert_minimal(first, 201)
    again = flow.client.post(API, json=body, headers=flow.headers("applicant", **key))  # no preference now
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.status_code == 201 and again.get_json() == first.get_json()
    for header in ("ETag", "Location", "Preference-Applied", "Vary"):
        assert again.headers[header] == first.headers[header], header

    whole_key = {"Idempotency-Key": f"whole-{uuid.uuid4()}"}
    whole = flow.client.post(API, json=body, headers=flow.headers("applicant", **whole_key))
    replayed = flow.client.post(API, json=body, headers=flow.headers("applicant", **MINIMAL, **whole_key))
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.get_json() == whole.get_json() and "Preference-Applied" not in replayed.headers


def test_a_refusal_is_the_same_problem_with_the_preference(flow):
    flow.file("hot_work").to_active()
    refused = post(flow, "resume", {"conditions_confirmed": True}, "work_leader", **MINIMAL)
    problem = assert_problem(refused, 409)
    plain = assert_problem(post(flow, "resume", {"conditions_confirmed": True}, "work_leader"), 409)
    assert problem.pop("request_id") != plain.pop("request_id")
    assert problem == plain
    assert "Preference-Applied" not in refused.headers
    stale = post(flow, "suspend", {"reason": "现场异常"}, "guardian", **MINIMAL, **{"If-Match": '"1"'})
    assert_problem(stale, 412)


def _statements(app, call) -> tuple[int, int]:
    """How many statements `call` sends, and how many of them read signatures (the children's read)."""
    with counted(app) as statements:
        resp = call()
    assert resp.status_code == 200, resp.get_json()
    return len(statements), sum("FROM signatures" in s for s in statements)


def test_minimal_suspend_and_gas_test_read_no_signatures_or_gas_tests(app, flow):
    flow.file("hot_work").to_active()
    app.extensions["auth_cache"].timer = lambda: 0.0  # the callers stay cached (test_statement_budgets.py)
    callers = [flow.headers(who) for who in ("guardian", "work_leader", "analyst")]
    for headers in callers:  # each caller's token read once, as a client reusing its token
        assert flow.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    steps = [
        ("suspend", {"reason": "现场异常"}),
        ("resume", {"conditions_confirmed": True}),
        ("gas-tests", flow.gas_body()),
    ]
    counts: dict[str, list[tuple[int, int]]] = {"minimal": [], "whole": []}
    for answer, prefer in (("minimal", MINIMAL), ("whole", {})):  # minimal first: it pays for any first reads
        for (segment, body), headers in zip(steps, callers, strict=True):
            call = functools.partial(
                flow.client.post, f"{flow.url}/{segment}", json=body, headers={**headers, **prefer}
            )
            counts[answer].append(_statements(app, call))
    suspend, resume, gas_test = zip(counts["minimal"], counts["whole"], strict=True)
    # The whole answer reads the signatures and gas tests: SQLite after the commit, PostgreSQL in the action's writes
    # (as many statements as the minimal answer's, one of them reading more); the minimal one reads neither.
    assert suspend[0][1] == gas_test[0][1] == 0 and suspend[1][1] == gas_test[1][1] == 1, counts
    extra = 0 if ON_POSTGRES else 1
    assert suspend[1][0] == suspend[0][0] + extra and gas_test[1][0] == gas_test[0][0] + extra, counts
    # A resume's guards read what the whole answer reads (the signatures and gas tests, HW-06): the minimal answer
    # saves its rendering, no statement.
    assert resume[0] == resume[1], counts
