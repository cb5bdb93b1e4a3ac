"""G-06: a plant area carries its boundary, a GeoJSON polygon in the positioning platform's coordinates, set by
the enterprise admin, shown to everyone who may see the area, and refused (422) when it is no valid polygon."""

from __future__ import annotations

import pytest

from tests.api.checks import assert_problem
from tests.api.test_directory import AREA, events

# A plant grid in metres: the area is the square 0..100 x 0..50.
SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [100, 0], [100, 50], [0, 50], [0, 0]]]}
TWO_TANKS = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]],
        [[[20, 0], [30, 0], [30, 10], [20, 10], [20, 0]]],
    ],
}


def test_G_06_the_admin_draws_a_boundary_at_registration_and_everyone_in_scope_reads_it(client, factory):
    world = factory.world()
    admin = factory.headers(world.people["enterprise_admin"])
    resp = client.post(
        f"/api/v1/enterprises/{world.enterprise.id}/areas", json={**AREA, "boundary": SQUARE}, headers=admin
    )
    assert resp.status_code == 201, resp.get_json()
    area = resp.get_json()
    assert area["boundary"] == {
        "type": "Polygon",
        "coordinates": [[[0.0, 0.0], [100.0, 0.0], [100.0, 50.0], [0.0, 50.0], [0.0, 0.0]]],
    }
    read = client.get(f"/api/v1/areas/{area['id']}", headers=factory.headers(world.regulator))
    assert read.get_json()["boundary"] == area["boundary"]


def test_G_06_the_admin_redraws_and_clears_a_boundary_and_each_change_is_audited(app, client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    path = f"/api/v1/areas/{world.area.id}"
    version = client.get(path, headers=headers).get_json()["version"]
    resp = client.patch(path, json={"boundary": TWO_TANKS}, headers={**headers, "If-Match": f'"{version}"'})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["boundary"]["type"] == "MultiPolygon"
    resp = client.patch(path, json={"boundary": None}, headers={**headers, "If-Match": resp.headers["ETag"]})
    assert resp.status_code == 200 and resp.get_json()["boundary"] is None
    first, second = events(app, "area.updated")
    assert first.data["changes"]["boundary"]["to"]["type"] == "MultiPolygon"
    assert second.data["changes"]["boundary"]["to"] is None


def test_G_06_only_the_enterprise_admin_draws_a_boundary(client, factory):
    world = factory.world()
    path = f"/api/v1/areas/{world.area.id}"
    for who in (world.people["unit_leader"], world.regulator):
        resp = client.patch(
            path, json={"boundary": SQUARE}, headers={**factory.headers(who), "If-Match": '"1"'}
        )
        assert_problem(resp, 403)


@pytest.mark.parametrize(
    ("boundary", "says"),
    [
        # a bow tie: the ring crosses itself
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]]},
            "invalid geometry",
        ),
        ({"type": "Point", "coordinates": [1, 2]}, "Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, "malformed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [5, 0], [10, 0], [0, 0]]]}, "invalid geometry"),
        ({"type": "Polygon", "coordinates": "square"}, "malformed"),
        ({"type": "MultiPolygon", "coordinates": []}, "no area"),
        # 1e400 or NaN never reaches the schema: the whole body is 400 (tests/api/test_input_limits.py)
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]], "crs": "x"}, "only type"),
        ([[0, 0], [1, 0], [1, 1]], "Polygon or MultiPolygon"),
    ],
)
def test_G_06_a_boundary_that_is_no_valid_polygon_is_refused_and_nothing_changes(
    client, factory, boundary, says
):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    path = f"/api/v1/areas/{world.area.id}"
    before = client.get(path, headers=headers).get_json()
    resp = client.patch(
        path, json={"boundary": boundary}, headers={**headers, "If-Match": f'"{before["version"]}"'}
    )
    body = assert_problem(resp, 422, fields={"boundary"})
    assert says in body["errors"]["boundary"][0]
    assert client.get(path, headers=headers).get_json() == before
