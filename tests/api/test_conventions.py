"""The API conventions, exercised through the directory endpoints: Idempotency-Key, ETag / If-Match, cursor
pagination, timestamps with offsets, and problem+json for every malformed input."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from permit_service.api import safe_json
from permit_service.api.conventions import purge_expired_idempotency_records
from permit_service.api.models import IdempotencyRecord
from permit_service.directory.models import Person, PlantArea
from permit_service.permits.schemas import PermitSummary
from permit_service.permits.service import SUMMARY_COLUMNS
from tests.api.checks import assert_problem, peek
from tests.api.permit_flows import PermitFlow
from tests.conftest import DEFAULT_NOW

AREA = {"code": "T-201", "name": "罐区 T-201", "flammable": True, "max_headcount": 3}


def count(app, model) -> int:
    with peek(app) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def cursor_of(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# --- Idempotency-Key -------------------------------------------------------------------------------


def test_same_key_and_body_answers_the_same_and_creates_one_row(app, client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"], **{"Idempotency-Key": "area-T-201"})
    path = f"/api/v1/enterprises/{world.enterprise.id}/areas"
    first = client.post(path, json=AREA, headers=headers)
    again = client.post(
        path, data=json.dumps(AREA, indent=2), content_type="application/json", headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert (
        again.headers["ETag"] == first.headers["ETag"]
        and again.headers["Location"] == first.headers["Location"]
    )
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert count(app, PlantArea) == 3


def test_a_keyed_request_parses_its_body_once(app, client, factory, monkeypatch):
    """The key's fingerprint and the arguments' load read one parse of the body (safe_json.request_body, issue 14)."""
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"], **{"Idempotency-Key": "area-once"})
    parses = []
    monkeypatch.setattr(
        safe_json, "loads", lambda data, parse=safe_json.loads: parses.append(data) or parse(data)
    )
    resp = client.post(f"/api/v1/enterprises/{world.enterprise.id}/areas", json=AREA, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    assert [json.loads(text) for text in parses] == [AREA]


def test_same_key_other_body_is_a_422_problem(app, client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"], **{"Idempotency-Key": "k-1"})
    path = f"/api/v1/enterprises/{world.enterprise.id}/areas"
    assert client.post(path, json=AREA, headers=headers).status_code == 201
    body = assert_problem(client.post(path, json={**AREA, "max_headcount": 2}, headers=headers), 422)
    assert set(body["errors"]) == {"Idempotency-Key"}
    assert body["message_en"] == "The Idempotency-Key was already used for a different request"
    assert count(app, PlantArea) == 3


def test_a_refused_request_is_not_remembered_under_its_key(app, client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"], **{"Idempotency-Key": "k-2"})
    path = f"/api/v1/enterprises/{world.enterprise.id}/people"
    assert_problem(client.post(path, json={"username": "x"}, headers=headers), 422)
    person = {"username": "li.si", "name": "李四", "password": "Secret-pass-1", "roles": ["guardian"]}
    created = client.post(path, json=person, headers=headers)
    assert created.status_code == 201
    replay = client.post(path, json=person, headers=headers)
    assert replay.get_json() == created.get_json()
    assert count(app, IdempotencyRecord) == 1


def test_keys_belong_to_their_caller(app, client, factory):
    world = factory.world()
    second_admin = factory.person("enterprise_admin", enterprise=world.enterprise)
    path = f"/api/v1/enterprises/{world.enterprise.id}/areas"
    key = {"Idempotency-Key": "shared-key"}
    assert (
        client.post(
            path, json=AREA, headers=factory.headers(world.people["enterprise_admin"], **key)
        ).status_code
        == 201
    )
    # Not a replay of someone else's answer: the second admin's request is processed (and meets the taken code).
    assert_problem(client.post(path, json=AREA, headers=factory.headers(second_admin, **key)), 409)
    assert_problem(client.post(path, json=AREA, headers=key), 401)
    assert count(app, PlantArea) == 3


def test_bad_keys_are_refused(client, factory):
    world = factory.world()
    path = f"/api/v1/enterprises/{world.enterprise.id}/areas"
    for key in ("k" * 201, "tab\tin-key"):
        headers = factory.headers(world.people["enterprise_admin"], **{"Idempotency-Key": key})
        assert_problem(client.post(path, json=AREA, headers=headers), 422, fields={"Idempotency-Key"})


def test_stored_answers_expire_and_are_purged(app, client, factory, clock):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"], **{"Idempotency-Key": "k-3"})
    path = f"/api/v1/enterprises/{world.enterprise.id}/areas"
    assert client.post(path, json=AREA, headers=headers).status_code == 201
    ttl = timedelta(hours=24)
    with peek(app) as session:
        assert purge_expired_idempotency_records(session, clock.now() + ttl - timedelta(seconds=1), ttl) == 0
    clock.advance(timedelta(hours=25))
    # A day later the key is free again: the request is processed anew (and meets the taken code) ...
    assert_problem(client.post(path, json=AREA, headers=headers), 409)
    # ... and another body under the old key is a new request, not a conflict with the old one.
    assert client.post(path, json={**AREA, "code": "T-9"}, headers=headers).status_code == 201
    assert count(app, IdempotencyRecord) == 1
    with peek(app) as session:
        assert purge_expired_idempotency_records(session, clock.now() + ttl, ttl) == 1
        session.commit()


def test_concurrent_retries_with_one_key_create_one_row(app, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"], **{"Idempotency-Key": "race"})
    path = f"/api/v1/enterprises/{world.enterprise.id}/areas"
    barrier = threading.Barrier(4)
    answers: list[tuple[int, dict]] = []

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post(path, json=AREA, headers=headers)
        answers.append((resp.status_code, resp.get_json()))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [201] * 4
    assert len({body["id"] for _, body in answers}) == 1
    assert count(app, PlantArea) == 3


# --- ETag / If-Match -------------------------------------------------------------------------------


def test_if_match_missing_428_stale_412_fresh_200_with_a_new_etag(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    path = f"/api/v1/areas/{world.area.id}"
    etag = client.get(path, headers=headers).headers["ETag"]
    assert_problem(client.patch(path, json={"name": "新名称"}, headers=headers), 428)
    stale = assert_problem(
        client.patch(path, json={"name": "新名称"}, headers={**headers, "If-Match": '"0"'}), 412
    )
    assert stale["current_etag"] == etag
    fresh = client.patch(path, json={"name": "新名称"}, headers={**headers, "If-Match": etag})
    assert fresh.status_code == 200 and fresh.get_json()["name"] == "新名称"
    assert (
        fresh.headers["ETag"] != etag
        and client.get(path, headers=headers).headers["ETag"] == fresh.headers["ETag"]
    )
    assert_problem(client.patch(path, json={"name": "又一个"}, headers={**headers, "If-Match": etag}), 412)
    for junk in ('"abc"', "garbage", '""'):
        assert_problem(client.patch(path, json={"name": "x"}, headers={**headers, "If-Match": junk}), 412)
    listed = client.patch(
        path, json={"name": "列表"}, headers={**headers, "If-Match": f'"99", {fresh.headers["ETag"]}'}
    )
    assert listed.status_code == 200


@pytest.mark.parametrize("if_match", ["*", " * ", '"7", *'])
def test_if_match_star_is_428_it_must_name_a_version(client, factory, if_match):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"], **{"If-Match": if_match})
    path = f"/api/v1/areas/{world.area.id}"
    problem = assert_problem(client.patch(path, json={"name": "新名称"}, headers=headers), 428)
    assert "*" in problem["message_en"]
    assert client.get(path, headers=headers).get_json()["name"] == world.area.name


def test_a_change_that_changes_nothing_keeps_the_etag(client, factory):
    world = factory.world()
    headers = {**factory.headers(world.people["enterprise_admin"]), "If-Match": '"1"'}
    resp = client.patch(f"/api/v1/areas/{world.area.id}", json={"name": world.area.name}, headers=headers)
    assert resp.status_code == 200 and resp.headers["ETag"] == '"1"'


def test_concurrent_changes_with_one_etag_let_exactly_one_through(app, factory):
    world = factory.world()
    headers = {**factory.headers(world.people["enterprise_admin"]), "If-Match": '"1"'}
    barrier = threading.Barrier(3)
    statuses: list[int] = []

    def patch(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.patch(f"/api/v1/areas/{world.area.id}", json={"max_headcount": n}, headers=headers)
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=patch, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 412, 412]


# --- cursor pagination -----------------------------------------------------------------------------


def walk(client, path: str, headers: dict, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        url = f"{path}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_enterprise_pages_do_not_overlap_and_cover_everything(client, factory):
    world = factory.world()
    for _ in range(5):
        factory.enterprise(world.district)
    headers = factory.headers(world.city_regulator)
    pages = walk(client, "/api/v1/enterprises", headers, limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    ids = [i for page in pages for i in page]
    assert len(ids) == len(set(ids)) == 7
    every = client.get("/api/v1/enterprises?limit=200", headers=headers).get_json()
    assert [e["id"] for e in every["items"]] == ids and every["next_cursor"] is None


def test_people_created_in_the_same_instant_page_without_gaps(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    path = f"/api/v1/enterprises/{world.enterprise.id}/people"
    for n in range(3):  # all at the test clock's one instant: pages must break ties by id
        body = {"username": f"crew{n}", "name": f"员工{n}", "password": "Crew-pass-123", "roles": ["worker"]}
        assert client.post(path, json=body, headers=headers).status_code == 201
    pages = walk(client, path, headers, limit=2)
    ids = [i for page in pages for i in page]
    assert len(ids) == len(set(ids)) == 15 + 3
    assert all(len(page) == 2 for page in pages)
    inactive = client.get(f"{path}?active=false", headers=headers).get_json()
    assert inactive == {"items": [], "next_cursor": None}


def test_page_size_is_bounded_and_bad_cursors_are_422(client, factory):
    world = factory.world()
    headers = factory.headers(world.city_regulator)
    for query in ("limit=0", "limit=-1", "limit=201", "limit=5000", "limit=abc", "limit=1.5"):
        assert_problem(client.get(f"/api/v1/enterprises?{query}", headers=headers), 422, fields={"limit"})
    bad_cursors = [
        "zzz",
        "!!!",
        cursor_of({"a": 1}),
        cursor_of(["2026-06-10T02:00:00", "00000000-0000-0000-0000-000000000000"]),  # no offset
        cursor_of(["yesterday", "00000000-0000-0000-0000-000000000000"]),
        cursor_of(["2026-06-10T02:00:00+00:00", "not-a-uuid"]),
        cursor_of([1, 2]),
        "x" * 501,
    ]
    for cursor in bad_cursors:
        assert_problem(
            client.get(f"/api/v1/enterprises?cursor={cursor}", headers=headers), 422, fields={"cursor"}
        )
    path = f"/api/v1/enterprises/{world.enterprise.id}/people"
    assert_problem(
        client.get(f"{path}?limit=500&cursor=zzz", headers=headers), 422, fields={"limit", "cursor"}
    )
    assert_problem(
        client.get("/api/v1/enterprises?risk_grade=purple&region_id=7", headers=headers),
        422,
        fields={"risk_grade", "region_id"},
    )


# --- timestamps ------------------------------------------------------------------------------------


def test_timestamps_are_shown_in_asia_shanghai_with_offset(app, client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    body = {"username": "zhao.liu", "name": "赵六", "password": "Zhao-pass-123", "roles": ["analyst"]}
    created = client.post(
        f"/api/v1/enterprises/{world.enterprise.id}/people", json=body, headers=headers
    ).get_json()
    assert created["created_at"] == "2026-06-10T10:00:00+08:00"
    with peek(app) as session:
        stored = session.get(Person, uuid.UUID(created["id"])).created_at
    assert stored == DEFAULT_NOW and stored.utcoffset() == timedelta(0)
    enterprise = client.get(f"/api/v1/enterprises/{world.enterprise.id}", headers=headers).get_json()
    assert enterprise["created_at"].endswith("+08:00")


# --- malformed input -------------------------------------------------------------------------------


def test_malformed_json_is_a_400_saying_so(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    path = f"/api/v1/enterprises/{world.enterprise.id}/areas"
    for raw in (b'{"code": "A1",', b"{'code': 'A1'}", b"\xff\xfe\x00", b"nul"):
        resp = client.post(path, data=raw, content_type="application/json", headers=headers)
        body = assert_problem(resp, 400, fields={"body"})
        assert body["message_zh"] == "请求体不是合法的 JSON"
        assert body["message_en"] == "The request body is not valid JSON"
    resp = client.post("/api/v1/auth/login", data=b'{"username": ', content_type="application/json")
    assert "line 1 column 14" in assert_problem(resp, 400)["errors"]["body"][0]


def test_bodies_that_are_json_but_not_objects_or_not_storable_are_422(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    path = f"/api/v1/enterprises/{world.enterprise.id}/areas"
    for body in ([AREA], "area", 42, None):
        resp = client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)
        assert resp.status_code == 422, (body, resp.get_json())
        assert_problem(resp, 422)
    for text in ("nul\u0000byte", "\ud800"):
        resp = client.post(
            path,
            data=json.dumps({**AREA, "name": text}),  # json.dumps escapes the lone surrogate as \\ud800
            content_type="application/json",
            headers=headers,
        )
        assert_problem(resp, 422, fields={"name"})
    resp = client.post(
        path, data=json.dumps({**AREA, "\ud800": 1}), content_type="application/json", headers=headers
    )
    assert_problem(resp, 422)


def test_wrong_types_are_422_naming_every_field(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    wrong = {
        "code": 17,
        "name": ["a"],
        "running_unit": "true",
        "flammable": 1,
        "explosive": None,
        "toxic": {"x": 1},
        "max_headcount": "3",
    }
    resp = client.post(f"/api/v1/enterprises/{world.enterprise.id}/areas", json=wrong, headers=headers)
    body = assert_problem(resp, 422, fields=set(wrong))
    assert body["type"] == "/problems/validation"
    assert body["errors"]["code"] == ["须为字符串 / Not a valid string."]
    assert body["errors"]["explosive"] == ["不能为 null / Field may not be null."]
    assert body["errors"]["running_unit"] == ["须为布尔值 true/false / Not a valid boolean."]


def test_oversized_body_is_413_problem(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    huge = {**AREA, "name": "x" * (1024 * 1024 + 1)}
    resp = client.post(f"/api/v1/enterprises/{world.enterprise.id}/areas", json=huge, headers=headers)
    assert_problem(resp, 413)


def test_unknown_paths_and_methods_are_problems(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    assert_problem(client.get("/api/v1/no-such-thing", headers=headers), 404)
    assert_problem(client.get("/api/v1/areas/not-a-uuid", headers=headers), 404)
    resp = client.delete(f"/api/v1/areas/{world.area.id}", headers=headers)
    assert_problem(resp, 405)
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PATCH"}


def test_permit_pages_show_each_permit_as_its_summary_newest_first(client, factory, clock):
    # A page reads the summary's columns only (issue 14): every field of PermitSummary is there and as the permit's
    # own answer has it; pages of a filtered list neither overlap nor skip.
    flow = PermitFlow(client, factory, factory.world())
    filed = []
    for _ in range(5):
        filed.append(flow.another().file("hot_work").permit)
        clock.advance(timedelta(seconds=1))
    headers = flow.headers("work_leader")
    pages = walk(client, "/api/v1/permits", headers, limit=2)
    assert pages == [[p["id"] for p in filed[::-1][i : i + 2]] for i in (0, 2, 4)]
    first = client.get("/api/v1/permits?state=draft&type=hot_work&limit=1", headers=headers).get_json()
    summary = set(PermitSummary().fields)
    assert first["items"] == [{name: filed[-1][name] for name in summary}]
    assert summary == {column.key for column in SUMMARY_COLUMNS}
