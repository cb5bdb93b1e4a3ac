"""The OpenAPI document: the committed file equals what the code generates, and the service serves it and its docs."""

from __future__ import annotations

import difflib
import itertools
import re
from pathlib import Path

import pytest
import yaml

from permit_service.openapi_export import generate_yaml
from workflows import WORKFLOWS

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml"


def test_committed_openapi_yaml_matches_the_code():
    generated = generate_yaml()
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    if generated != committed:
        diff = difflib.unified_diff(
            committed.splitlines(), generated.splitlines(), "committed", "generated", lineterm="", n=2
        )
        pytest.fail(
            "openapi/openapi.yaml differs from what the code generates: run `make openapi` and commit it.\n"
            + "\n".join(itertools.islice(diff, 60)),
            pytrace=False,
        )


def test_openapi_json_is_served(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert any(path.startswith("/api/v1/") for path in spec["paths"])


def test_docs_use_only_assets_served_by_the_service(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    referenced = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert "/docs/assets/swagger-ui-bundle.js" in referenced
    # plant networks are often cut off from the internet: nothing may come from elsewhere
    assert all(url.startswith("/docs/assets/") for url in referenced), referenced
    for url in referenced:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.data) > 1000, url


# --- the document is complete: what a generated client needs is declared ---------------------------------


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def parameter_names(document: dict, operation: dict) -> dict[str, dict]:
    found = {}
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        found[parameter["name"]] = parameter
    return found


def test_every_operation_has_a_stable_readable_operation_id(document):
    ids = [operation["operationId"] for _path, _method, operation in operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", i) for i in ids), ids
    by_route = {(method, path): op["operationId"] for path, method, op in operations(document)}
    assert by_route["get", "/api/v1/permits"] == "listPermits"
    assert by_route["post", "/api/v1/permits"] == "createPermit"
    assert by_route["post", "/api/v1/permits/{permit_id}/approve"] == "approvePermit"
    assert by_route["get", "/api/v1/enterprises/{enterprise_id}/areas"] == "listEnterpriseAreas"
    assert by_route["post", "/api/v1/auth/login"] == "login"


def test_every_error_an_operation_gives_is_declared_as_problem_json(document):
    responses = document["components"]["responses"]
    for path, method, operation in operations(document):
        declared = operation["responses"]
        where = f"{method.upper()} {path}"
        assert "default" not in declared, where
        if operation.get("security") != []:
            assert {"401", "403"} <= set(declared), where
        if "{" in path:
            assert "404" in declared, where
        if "requestBody" in operation:
            assert {"400", "422"} <= set(declared), where
        assert "503" in declared, where
        for code, response in declared.items():
            if code.startswith(("4", "5")):
                body = responses[response["$ref"].rsplit("/", 1)[1]]
                assert list(body["content"]) == ["application/problem+json"], (where, code)
    assert "Retry-After" in responses["TooManyRequests"]["headers"]
    assert "Retry-After" in responses["ServiceUnavailable"]["headers"]


def test_if_match_idempotency_key_and_response_headers_are_declared_where_taken(document):
    ops = {(method, path): op for path, method, op in operations(document)}
    patch = ops["patch", "/api/v1/permits/{permit_id}"]
    assert parameter_names(document, patch)["If-Match"]["required"] is True
    assert {"412", "428"} <= set(patch["responses"])
    approve = ops["post", "/api/v1/permits/{permit_id}/approve"]
    assert parameter_names(document, approve)["If-Match"]["required"] is False
    assert {"412", "428"} <= set(approve["responses"])  # stale, or an If-Match naming no version
    create = ops["post", "/api/v1/permits"]
    assert "Idempotency-Key" in parameter_names(document, create)
    assert set(create["responses"]["201"]["headers"]) == {
        "ETag",
        "Location",
        "Idempotent-Replayed",
        "Preference-Applied",
        "Vary",
    }
    read = ops["get", "/api/v1/permits/{permit_id}"]
    assert "If-None-Match" in parameter_names(document, read)
    assert "304" in read["responses"] and "ETag" in read["responses"]["200"]["headers"]
    assert "Prefer" not in parameter_names(document, read)


def test_permit_writes_declare_prefer_and_their_minimal_answer(document):
    ops = {(method, path): op for path, method, op in operations(document)}
    writes = {
        ("post", "/api/v1/permits"): ("201", "PermitMinimalOut"),
        ("patch", "/api/v1/permits/{permit_id}"): ("200", "PermitMinimalOut"),
        ("post", "/api/v1/permits/{permit_id}/reissue"): ("201", "PermitMinimalOut"),
        ("post", "/api/v1/permits/{permit_id}/gas-tests"): ("200", "GasTestMinimalOut"),
        **{
            ("post", path): ("200", "PermitMinimalOut")
            for method, path in ops
            if method == "post" and ops[method, path].get("x-permit-types") and "gas-tests" not in path
        },
    }
    assert ("post", "/api/v1/permits/{permit_id}/suspend") in writes
    for (method, path), (status, minimal) in writes.items():
        operation = ops[method, path]
        assert "Prefer" in parameter_names(document, operation), path
        answer = operation["responses"][status]
        assert answer["content"]["application/json"]["schema"]["anyOf"] == [
            {"$ref": "#/components/schemas/PermitOut"},
            {"$ref": f"#/components/schemas/{minimal}"},
        ], path
        assert {"ETag", "Preference-Applied", "Vary"} <= set(answer["headers"]), path
    schemas = document["components"]["schemas"]
    assert set(schemas["PermitMinimalOut"]["required"]) == {
        "id",
        "number",
        "type",
        "state",
        "version",
        "updated_at",
    }
    assert schemas["GasTestMinimalOut"]["properties"]["gas_test"] == {
        "$ref": "#/components/schemas/GasVerdictOut"
    }


def test_output_schemas_list_every_field_and_stay_open(document):
    schemas = document["components"]["schemas"]
    permit = schemas["PermitOut"]
    assert set(permit["required"]) == set(permit["properties"])
    assert "additionalProperties" not in permit
    assert (
        schemas["HotWorkPermitCreate"]["additionalProperties"] is False
    )  # inputs stay strict: unknown is 422
    assert permit["properties"]["state"] == {"$ref": "#/components/schemas/PermitState"}
    assert permit["properties"]["type"] == {"$ref": "#/components/schemas/PermitType"}
    assert permit["properties"]["grade"]["anyOf"] == [
        {"$ref": "#/components/schemas/PermitGrade"},
        {"type": "null"},
    ]
    enums = [tuple(s["enum"]) for s in schemas.values() if "enum" in s]
    assert len(enums) == len(set(enums)), "one named schema per enum"


def test_actions_name_the_roles_and_rules_of_the_catalogue(document):
    approve = document["paths"]["/api/v1/permits/{permit_id}/approve"]["post"]["x-permit-types"]
    assert set(approve) == set(WORKFLOWS)
    hot_work_approvers = {
        r for grade in WORKFLOWS["hot_work"].catalogue()["grades"] for r in grade["approvers"]
    }
    assert hot_work_approvers <= set(approve["hot_work"]["roles"])
    assert {"G-02", "G-06", "SD-02"} <= set(approve["hot_work"]["rules"])
    countersign = document["paths"]["/api/v1/permits/{permit_id}/countersign"]["post"]["x-permit-types"]
    assert set(countersign) == {t for t, wf in WORKFLOWS.items() if "countersign" in wf.catalogue()["events"]}
    assert "EX-01" in countersign["excavation"]["rules"]
    close = document["paths"]["/api/v1/permits/{permit_id}/close"]["post"]["x-permit-types"]
    assert "BP-04" in close["blind_plate"]["rules"]


def test_facts_are_typed_per_permit_type_from_the_catalogue(document):
    schemas = document["components"]["schemas"]
    create = schemas["PermitCreate"]
    assert create["discriminator"]["propertyName"] == "type"
    assert set(create["discriminator"]["mapping"]) == set(WORKFLOWS)
    for permit_type, workflow in WORKFLOWS.items():
        variant = schemas[create["discriminator"]["mapping"][permit_type].rsplit("/", 1)[1]]
        assert variant["properties"]["type"]["const"] == permit_type
        facts = schemas[variant["properties"]["facts"]["$ref"].rsplit("/", 1)[1]]
        catalogue = {fact["name"]: fact for fact in workflow.catalogue()["facts"]}
        assert set(facts["properties"]) == set(catalogue)
        assert facts["additionalProperties"] is False  # G-14: an undeclared fact is refused
        kinds = {
            "bool": "boolean",
            "integer": "integer",
            "number": "number",
            "text": "string",
            "list": "array",
        }
        for name, fact in catalogue.items():
            published = {k: v for k, v in facts["properties"][name].items() if k != "description"}
            assert published == fact["schema"], (permit_type, name)
            assert published["type"][0] == kinds.get(fact["kind"], published["type"][0]), (permit_type, name)


def test_a_read_answers_304_to_the_etag_it_gave(client, factory):
    world = factory.world()
    headers = factory.headers(world.people["enterprise_admin"])
    url = f"/api/v1/areas/{world.area.id}"
    first = client.get(url, headers=headers)
    assert first.status_code == 200

    again = client.get(url, headers={**headers, "If-None-Match": first.headers["ETag"]})
    stale = client.get(url, headers={**headers, "If-None-Match": '"0"'})

    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert stale.status_code == 200 and stale.get_json() == first.get_json()


def test_outputs_carrying_an_inputs_enum_reference_it_and_optional_fields_are_not_required(document):
    schemas = document["components"]["schemas"]
    assert schemas["JobOut"]["properties"]["state"] == {"$ref": "#/components/schemas/JobState"}
    assert schemas["FreezeOut"]["properties"]["state"] == {"$ref": "#/components/schemas/FreezeState"}
    assert schemas["NotifiedPermitOut"]["properties"]["state"] == {"$ref": "#/components/schemas/PermitState"}
    # HR-01: the answer, null on permits filed before it was asked
    for owner in ("PermitOut", "CarriedPermitOut"):
        assert schemas[owner]["properties"]["high_risk_kind"]["anyOf"] == [
            {"$ref": "#/components/schemas/PermitHighRiskKind"},
            {"type": "null"},
        ]
    assert schemas["DeliveryOut"]["properties"]["status"]["$ref"] == "#/components/schemas/WebhookStatus"
    token = schemas["TokenSchema"] if "TokenSchema" in schemas else schemas["Token"]
    assert "refresh_token" in token["properties"] and "refresh_token" not in token["required"]  # login only
    assert all(not key.startswith("x-optional") for prop in token["properties"].values() for key in prop)
