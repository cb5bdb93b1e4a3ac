"""A refused action changes nothing; every accepted action bumps the version (ETag); If-Match guards writes;
the catalogue describes every type."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from permit_service.audit.models import Event
from permit_service.permits.models import GasTest, Permit, PermitNumberCounter, Signature
from tests.api.checks import assert_problem
from tests.api.permit_flows import APPROVER, TYPE_FACTS, PermitFlow


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def _rows(session, model, *where) -> list[dict[str, Any]]:
    table = model.__table__
    return [
        dict(r._mapping) for r in session.execute(sa.select(table).where(*where).order_by(*table.primary_key))
    ]


def snapshot(session) -> dict[str, Any]:
    """Every row a permit action may touch: permits, signatures, gas tests, counters, and the event count."""
    found = {
        "permits": _rows(session, Permit),
        "signatures": _rows(session, Signature),
        "gas_tests": _rows(session, GasTest),
        "counters": _rows(session, PermitNumberCounter),
        "events": session.scalar(sa.select(sa.func.count()).select_from(Event)),
    }
    session.commit()  # SQLite: release the read snapshot
    return found


def _unconfirmed_measure(flow):
    flow.file("hot_work").submit(confirm=False)
    return "approve", {"evidence": flow.evidence()}, "safety_dept", "G-02"


def _activate_without_gas(flow):
    flow.file("hot_work").to_briefed()
    return "activate", {}, "work_leader", "HW-04"


def _unknown_gas(flow):
    flow.file("hot_work").submit()
    return "record_gas_test", flow.gas_body([{"gas": "XYZ", "value": 1, "unit": "%vol"}]), "analyst", "HW-05"


def _second_approval_of_briefing(flow):
    flow.file("height").submit().approve().do("brief", by="work_leader")
    return "brief", {}, "work_leader", "G-05"


def _wrong_role_completes(flow):
    flow.file("hot_work").to_active()
    return "complete", {}, "guardian", "ROLE"


@pytest.mark.parametrize(
    "arrange",
    [
        _unconfirmed_measure,
        _activate_without_gas,
        _unknown_gas,
        _second_approval_of_briefing,
        _wrong_role_completes,
    ],
)
def test_a_refused_action_leaves_the_database_exactly_as_it_was(flow, db_session, arrange):
    action, body, who, rule = arrange(flow)
    before = snapshot(db_session)

    resp = flow.attempt(action, body, by=who)

    assert_problem(resp, 403 if rule == "ROLE" else 409)
    assert resp.get_json()["rule"] == rule and isinstance(resp.get_json()["allowed_actions"], list)
    assert snapshot(db_session) == before


def test_a_refused_edit_and_a_refused_reissue_leave_the_database_as_it_was(flow, db_session):
    flow.file("hot_work").submit()
    before = snapshot(db_session)
    etag = flow.client.get(flow.url, headers=flow.headers("applicant")).headers["ETag"]
    patch = flow.client.patch(
        flow.url, json={"title": "x"}, headers=flow.headers("applicant", **{"If-Match": etag})
    )
    assert assert_problem(patch, 409)["rule"] == "G-07"
    assert snapshot(db_session) == before

    draft = flow.another().file("hot_work")
    before = snapshot(db_session)
    reissue = flow.client.post(
        f"{draft.url}/reissue", json={"reason": "改期"}, headers=flow.headers("applicant")
    )
    assert assert_problem(reissue, 409)["rule"] == "STATE"  # a draft is edited, not voided
    assert snapshot(db_session) == before


def test_every_accepted_action_bumps_the_version_and_the_etag(flow):
    flow.file("hot_work")
    versions = [flow.permit["version"]]
    steps = [
        lambda: flow.submit(confirm=False),
        lambda: flow.confirm_line("A1-02"),  # G-02: each confirmation is a change of its own
        lambda: flow.confirm_line("A1-08"),
        lambda: flow.confirm_line("A1-13"),
        lambda: flow.approve(),
        lambda: flow.gas_test(),
        lambda: flow.do("brief", by="work_leader"),  # a signature that leaves the state in place
        lambda: flow.do("brief", by="worker"),
        lambda: flow.shift_check(),
        lambda: flow.activate(),
        lambda: flow.suspend(),
        lambda: flow.resume(),
        lambda: flow.complete(),
        lambda: flow.accept(),
        lambda: flow.close(),
    ]
    for step in steps:
        step()
        versions.append(flow.permit["version"])
        etag = flow.client.get(flow.url, headers=flow.headers("applicant")).headers["ETag"]
        assert etag == f'"{versions[-1]}"'
    assert versions == list(range(1, len(steps) + 2))


def test_a_stale_if_match_on_an_action_is_412_and_a_current_one_passes(flow):
    flow.file("hot_work")
    stale = flow.attempt("submit", by="applicant", **{"If-Match": '"0"'})
    assert_problem(stale, 412)
    assert flow.reload().state == "draft"
    fresh = flow.attempt("submit", by="applicant", **{"If-Match": f'"{flow.permit["version"]}"'})
    assert fresh.status_code == 200 and fresh.headers["ETag"] == '"2"'


def test_patch_needs_if_match(flow):
    flow.file("hot_work")
    missing = flow.client.patch(flow.url, json={"title": "x"}, headers=flow.headers("applicant"))
    assert_problem(missing, 428)
    stale = flow.client.patch(
        flow.url, json={"title": "x"}, headers=flow.headers("applicant", **{"If-Match": '"7"'})
    )
    assert_problem(stale, 412)
    assert flow.reload().permit["title"] != "x"


def test_patch_keeps_the_window_within_the_derived_grade(flow):
    flow.file("hot_work")
    too_long = {"valid_until": flow.at(timedelta(hours=9))}
    patch = flow.client.patch(
        flow.url, json=too_long, headers=flow.headers("applicant", **{"If-Match": '"1"'})
    )
    assert assert_problem(patch, 409)["rule"] == "G-12"


# -- the catalogue ---------------------------------------------------------------------------------------


def test_catalogue_lists_every_type_with_grades_approvers_validities_facts_measures_and_diagram(flow):
    resp = flow.client.get("/api/v1/permit-types", headers=flow.headers("worker"))
    assert resp.status_code == 200
    types = {t["type"]: t for t in resp.get_json()["items"]}
    assert set(types) == set(TYPE_FACTS)
    for name, entry in types.items():
        assert entry["zh"] and entry["en"] and entry["prefix"]
        approvers = {(name, g["code"]): g["approvers"][0] for g in entry["grades"]}
        assert approvers == {k: v for k, v in APPROVER.items() if k[0] == name}
        assert all(g["max_validity_hours"] > 0 for g in entry["grades"])
        assert {f["name"] for f in entry["facts"]} >= set(TYPE_FACTS[name])
        lines = entry["measures"]["lines"]
        assert lines and all(i["code"] and i["zh"] and i["en"] for i in lines)
        diagram = entry["mermaid"]
        assert diagram.startswith("stateDiagram-v2") and "draft --> submitted : submit" in diagram
        assert "completed --> closed : close" in diagram
    assert [g["max_validity_hours"] for g in types["hot_work"]["grades"]] == [72, 8, 8]
    assert types["height"]["grades"][0]["max_validity_hours"] == 168
    assert types["temporary_power"]["grades"][0]["max_validity_hours"] == 360
    assert "submitted --> countersigned : countersign" in types["excavation"]["mermaid"]
    assert "countersign" not in types["hot_work"]["mermaid"]
    assert types["hot_work"]["gas"]["rule"] == "HW-05" and types["confined_space"]["gas"]["rule"] == "CS-02"


def test_catalogue_entry_and_unknown_type(flow):
    one = flow.client.get("/api/v1/permit-types/road_closure", headers=flow.headers("worker")).get_json()
    assert one["prefix"] == "DL" and {f["name"] for f in one["facts"] if f["required"]} == {
        "road",
        "traffic_plan",
    }
    assert_problem(flow.client.get("/api/v1/permit-types/welding", headers=flow.headers("worker")), 404)
    assert_problem(flow.client.get("/api/v1/permit-types"), 401)
