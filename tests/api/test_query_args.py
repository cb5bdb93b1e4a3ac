"""Query strings are parsed strictly: an unknown parameter is a 422 naming it, on every endpoint that takes a query.

A typo such as `?stat=active` used to be dropped and the whole list answered, which reads as "no filter matched
nothing"; the list of endpoints comes from the generated (drift-tested) OpenAPI document, so a new list is covered.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from tests.api.checks import assert_problem

SPEC = yaml.safe_load((Path(__file__).parents[2] / "openapi" / "openapi.yaml").read_text(encoding="utf-8"))
QUERY_ENDPOINTS = sorted(
    path
    for path, operations in SPEC["paths"].items()
    if any(p.get("in") == "query" for p in operations.get("get", {}).get("parameters", []))
)


def test_the_openapi_document_lists_the_query_endpoints():
    assert "/api/v1/permits" in QUERY_ENDPOINTS and len(QUERY_ENDPOINTS) >= 15


@pytest.mark.parametrize("path", QUERY_ENDPOINTS)
def test_an_unknown_query_parameter_is_a_422_naming_it(client, factory, path):
    world = factory.world()
    caller = world.regulator if path.startswith("/api/v1/regulator/") else world.people["enterprise_admin"]
    url = path.format(enterprise_id=world.enterprise.id, permit_id=uuid.uuid4(), subscription_id=uuid.uuid4())
    body = assert_problem(client.get(f"{url}?stat=active", headers=factory.headers(caller)), 422)
    assert body["errors"]["stat"] == ["不允许的字段 / Unknown field."]


def test_known_parameters_and_unknown_headers_still_pass(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"], **{"X-Trace": "1", "If-None-Match": '"1"'})
    resp = client.get("/api/v1/permits?limit=1&state=active&type=hot_work", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"items": [], "next_cursor": None}
