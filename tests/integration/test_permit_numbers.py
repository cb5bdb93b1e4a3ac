"""Human-readable permit numbers: per enterprise, type and year, consecutive, unique under concurrent filing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from tests.api.permit_flows import PermitFlow


def _numbers(flow: PermitFlow, permit_type: str, n: int, **kw) -> list[str]:
    return [flow.file(permit_type, **kw).number for _ in range(n)]


def test_numbers_increase_per_enterprise_and_type(client, factory):
    world = factory.world()
    flow = PermitFlow(client, factory, world)

    assert _numbers(flow, "hot_work", 3) == ["DH-2026-000001", "DH-2026-000002", "DH-2026-000003"]
    assert _numbers(flow, "height", 2) == ["GC-2026-000001", "GC-2026-000002"]
    assert _numbers(flow, "confined_space", 1) == ["SX-2026-000001"]
    assert _numbers(flow, "hot_work", 1) == ["DH-2026-000004"]

    theirs = replace(
        world, enterprise=world.other_enterprise, people=world.other_people, area=world.other_area
    )
    other = PermitFlow(client, factory, theirs)
    assert _numbers(other, "hot_work", 1) == ["DH-2026-000001"]  # another enterprise counts on its own


def test_the_year_is_the_window_start_in_shanghai(client, factory):
    flow = PermitFlow(client, factory, factory.world())
    new_year = {"valid_from": "2027-01-01T00:30:00+08:00", "valid_until": "2027-01-01T06:00:00+08:00"}
    assert flow.file("height", **new_year).number == "GC-2027-000001"  # 2026-12-31 16:30 UTC
    assert flow.file("height").number == "GC-2026-000001"


@pytest.mark.postgres_only
def test_concurrent_filings_get_distinct_consecutive_numbers(app, factory):
    world = factory.world()
    flow = PermitFlow(app.test_client(), factory, world)
    body = flow.body("hot_work")
    headers = flow.headers("applicant")
    start = threading.Barrier(20)

    def file(_: int) -> tuple[int, str]:
        client = app.test_client()
        start.wait()
        resp = client.post("/api/v1/permits", json=body, headers=headers)
        return resp.status_code, (resp.get_json() or {}).get("number", "")

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(file, range(20)))

    assert {status for status, _ in answers} == {201}, answers
    assert sorted(number for _, number in answers) == [f"DH-2026-{i:06d}" for i in range(1, 21)]
