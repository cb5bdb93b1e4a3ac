"""Enterprise risk grades through the HTTP API: set by regulators with a reason, kept as a history (RG-01)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.test_jobs import events_of


def grade(client, factory, who, enterprise, grade: str, reason: str = "动态评估结果"):
    """POST a grading as `who`."""
    return client.post(
        f"/api/v1/enterprises/{enterprise.id}/risk-grade",
        json={"grade": grade, "reason": reason},
        headers=factory.headers(who),
    )


def test_RG_01_regulator_grades_an_enterprise_with_a_reason(client, factory, db_session):
    world = factory.world()
    resp = grade(client, factory, world.regulator, world.enterprise, "orange", "重大隐患未整改")
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["grade"] == "orange"
    assert body["previous_grade"] == "blue"
    assert body["reason"] == "重大隐患未整改"
    assert body["set_by_id"] == str(world.regulator.id)
    assert body["created_at"] == "2026-06-10T10:00:00+08:00"
    enterprise = client.get(
        f"/api/v1/enterprises/{world.enterprise.id}", headers=factory.headers(world.regulator)
    )
    assert enterprise.get_json()["risk_grade"] == "orange"
    assert events_of(db_session, world.enterprise.id) == ["enterprise.risk_grade_changed"]


def test_RG_01_grades_change_any_time_and_the_history_is_kept(client, factory, clock):
    world = factory.world()
    for g in ("orange", "red", "yellow"):
        assert grade(client, factory, world.regulator, world.enterprise, g).status_code == 201
        clock.advance(timedelta(days=1))
    headers = factory.headers(world.people["enterprise_admin"])
    history = client.get(f"/api/v1/enterprises/{world.enterprise.id}/risk-grades", headers=headers).get_json()
    assert [(h["previous_grade"], h["grade"]) for h in history["items"]] == [
        ("red", "yellow"),
        ("orange", "red"),
        ("blue", "orange"),
    ]
    page = client.get(
        f"/api/v1/enterprises/{world.enterprise.id}/risk-grades?limit=2", headers=headers
    ).get_json()
    assert len(page["items"]) == 2
    rest = client.get(
        f"/api/v1/enterprises/{world.enterprise.id}/risk-grades?limit=2&cursor={page['next_cursor']}",
        headers=headers,
    ).get_json()
    assert [h["grade"] for h in rest["items"]] == ["orange"]
    assert rest["next_cursor"] is None


def test_RG_01_city_regulator_grades_any_district(client, factory):
    world = factory.world()
    assert grade(client, factory, world.city_regulator, world.other_enterprise, "red").status_code == 201


def test_RG_01_regulator_of_another_district_gets_404(client, factory):
    world = factory.world()
    resp = grade(client, factory, world.other_regulator, world.enterprise, "red")
    assert resp.status_code == 404
    history = client.get(
        f"/api/v1/enterprises/{world.enterprise.id}/risk-grades",
        headers=factory.headers(world.other_regulator),
    )
    assert history.status_code == 404


@pytest.mark.parametrize("role", ["enterprise_admin", "principal", "safety_dept"])
def test_RG_01_enterprises_do_not_grade_themselves(client, factory, role):
    world = factory.world()
    assert grade(client, factory, world.people[role], world.enterprise, "blue").status_code == 403


def test_RG_01_grade_and_reason_are_checked(client, factory):
    world = factory.world()
    resp = client.post(
        f"/api/v1/enterprises/{world.enterprise.id}/risk-grade",
        json={"grade": "purple", "reason": ""},
        headers=factory.headers(world.regulator),
    )
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"grade", "reason"}


def test_other_enterprises_history_is_404_for_enterprise_staff(client, factory):
    world = factory.world()
    resp = client.get(
        f"/api/v1/enterprises/{world.other_enterprise.id}/risk-grades",
        headers=factory.headers(world.people["enterprise_admin"]),
    )
    assert resp.status_code == 404
