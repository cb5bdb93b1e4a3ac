"""Schemathesis against the served OpenAPI document, as two enterprises and a regulator: no server error, no answer
outside the document (status, schema, headers, content type). Bounded for CI; `make fuzz` runs it longer.

It runs on both suites: PostgreSQL refuses values SQLite stores (NUL, non-finite numbers, out-of-range integers).
FUZZ_EXAMPLES sets the cases per operation and identity (CI: 5). The figures are printed in the run's summary.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from sqlalchemy.orm import sessionmaker

from permit_service import create_app
from permit_service.clock import FixedClock
from permit_service.config import Config
from tests.conftest import DEFAULT_NOW, TEST_JWT_SECRET, clean_database
from tests.factories import ENTERPRISE_ROLES, Factory

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
CHECKS = {
    "server error": not_a_server_error,
    "undocumented status code": status_code_conformance,
    "schema violation": response_schema_conformance,
    "undocumented header": response_headers_conformance,
    "undocumented content type": content_type_conformance,
}


@pytest.fixture(scope="module")
def fuzzed_app(database_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One app on one clean database for the whole run (a fresh database per case would dominate the time)."""
    with clean_database(database_template, tmp_path_factory.mktemp("fuzz")) as url:
        app = create_app(Config(env="test", database_url=url, jwt_secret_key=TEST_JWT_SECRET))
        app.extensions["clock"] = FixedClock(DEFAULT_NOW)
        yield app
        app.extensions["db_engine"].dispose()


# Operations that end the token they are sent with: each case of them gets a token of its own.
TOKEN_ENDING = {"logout", "changePassword"}
Headers = Callable[[], dict[str, str]]


@pytest.fixture(scope="module")
def identities(fuzzed_app: Any) -> Iterator[dict[str, tuple[Headers, dict[str, str]]]]:
    """name -> (a fresh Authorization header each call, the ids its paths use): a person holding every role in
    each of two enterprises, and a district regulator."""
    session = sessionmaker(bind=fuzzed_app.extensions["db_engine"], expire_on_commit=False)()
    factory = Factory(fuzzed_app, session)
    world = factory.world()
    found = {}
    for name, enterprise, area in (
        ("enterprise A", world.enterprise, world.area),
        ("enterprise B", world.other_enterprise, world.other_area),
    ):
        everyone = factory.person(*ENTERPRISE_ROLES, enterprise=enterprise)
        ids = {"enterprise_id": str(enterprise.id), "area_id": str(area.id), "person_id": str(everyone.id)}
        found[name] = (functools.partial(factory.headers, everyone), ids)
    found["regulator"] = (
        functools.partial(factory.headers, world.regulator),
        {"enterprise_id": str(world.enterprise.id), "region_id": str(world.district.id)},
    )
    yield found
    session.close()


def fuzz(operation: Any, who: str, token: Headers, ids: dict[str, str], figures: Counter[str]) -> list[str]:
    """Run EXAMPLES cases of one operation as one identity; answers the failures found, counted in `figures`."""
    names = {p.name for p in operation.path_parameters}
    known = {name: value for name, value in ids.items() if name in names}
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known),
        operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=known),
    )
    failures: list[str] = []
    shared = token()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        headers = token() if operation.definition.raw.get("operationId") in TOKEN_ENDING else shared
        response = case.call(headers=headers)
        figures["cases"] += 1
        figures[f"status {response.status_code}"] += 1
        for kind, check in CHECKS.items():
            try:
                case.validate_response(response, checks=[check], headers=headers)
            except (FailureGroup, AssertionError) as exc:
                figures[kind] += 1
                first = str(exc).strip().splitlines()[:3]
                failures.append(
                    f"{kind}: {who}: {case.method} {case.formatted_path} -> {response.status_code}: {' | '.join(first)[:400]}"
                )

    run()
    return failures


def test_the_api_answers_only_what_its_document_says(fuzzed_app, identities, request):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    figures: Counter[str] = Counter()
    failures = [
        failure
        for who, (token, ids) in identities.items()
        for operation in operations
        for failure in fuzz(operation, who, token, ids, figures)
    ]

    line = ", ".join(f"{name} {count}" for name, count in sorted(figures.items()) if name not in CHECKS)
    summary = ", ".join(f"{kind} {figures[kind]}" for kind in CHECKS)
    database = fuzzed_app.extensions["db_engine"].dialect.name
    request.node.user_properties += [
        (
            "figures",
            f"schemathesis on {database}: {len(operations)} operations x {len(identities)} identities: {line}",
        ),
        ("figures", f"schemathesis on {database}: {summary}"),
    ]
    assert figures["cases"] >= len(operations) * len(identities)
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(sorted(set(failures))[:60])
