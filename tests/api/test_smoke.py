"""The app answers and enforces tenancy (foundation smoke test)."""

from __future__ import annotations


def test_enterprise_staff_get_404_for_another_enterprise(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["applicant"])
    own = client.get(f"/api/v1/enterprises/{world.enterprise.id}", headers=headers)
    other = client.get(f"/api/v1/enterprises/{world.other_enterprise.id}", headers=headers)
    assert own.status_code == 200
    assert own.get_json()["name"] == world.enterprise.name
    assert other.status_code == 404
    assert other.content_type == "application/problem+json"


def test_district_regulator_sees_only_its_district(client, factory):
    world = factory.world()
    headers = factory.headers(world.regulator)
    assert client.get(f"/api/v1/enterprises/{world.enterprise.id}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/enterprises/{world.other_enterprise.id}", headers=headers).status_code == 404
    city = factory.headers(world.city_regulator)
    listed = client.get("/api/v1/enterprises", headers=city).get_json()["items"]
    assert {e["id"] for e in listed} == {str(world.enterprise.id), str(world.other_enterprise.id)}
