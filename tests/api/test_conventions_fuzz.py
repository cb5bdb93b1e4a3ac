"""No input makes the directory and auth endpoints answer 500: random JSON, bytes, queries and headers."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.checks import PROBLEM

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def near(fields: list[str]) -> st.SearchStrategy:
    """Objects with the endpoint's own field names holding arbitrary values, plus strangers."""
    return st.fixed_dictionaries({}, optional={name: json_values for name in fields}).flatmap(
        lambda body: st.dictionaries(st.text(max_size=12), json_values, max_size=2).map(
            lambda extra: {**extra, **body}
        )
    )


AREA_FIELDS = [
    "code",
    "name",
    "running_unit",
    "flammable",
    "explosive",
    "toxic",
    "fire_explosion_area",
    "max_headcount",
]
PERSON_FIELDS = [
    "username",
    "name",
    "password",
    "roles",
    "positioning_card_id",
    "phone",
    "certificates",
    "active",
]
latin1_header = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)


def assert_no_500(resp) -> None:
    assert resp.status_code < 500, resp.get_data(as_text=True)
    if resp.status_code >= 400:
        assert resp.content_type == PROBLEM


def test_no_input_makes_a_500(app, client, factory):
    world = factory.world()
    admin = factory.headers(world.people["enterprise_admin"])
    ent = world.enterprise.id
    worker = world.people["worker"].id

    @FUZZ
    @given(
        area=st.one_of(json_values, near(AREA_FIELDS)),
        person=st.one_of(json_values, near(PERSON_FIELDS)),
        if_match=latin1_header,
        key=latin1_header,
    )
    def bodies(area, person, if_match, key) -> None:
        data = {"data": json.dumps(person), "content_type": "application/json"}
        assert_no_500(
            client.post(
                f"/api/v1/enterprises/{ent}/areas", json=area, headers={**admin, "Idempotency-Key": key}
            )
        )
        assert_no_500(client.post(f"/api/v1/enterprises/{ent}/people", **data, headers=admin))
        assert_no_500(
            client.patch(f"/api/v1/areas/{world.area.id}", json=area, headers={**admin, "If-Match": if_match})
        )
        assert_no_500(
            client.patch(f"/api/v1/people/{worker}", **data, headers={**admin, "If-Match": if_match})
        )
        assert_no_500(
            client.post("/api/v1/auth/logout", json=area, headers=factory.headers(world.people["guardian"]))
        )
        assert_no_500(client.post("/api/v1/auth/token", json=person))

    @FUZZ
    @given(
        raw=st.binary(max_size=200),
        query=st.dictionaries(
            st.sampled_from(["limit", "cursor", "active", "risk_grade", "region_id", "other"]),
            st.text(max_size=40),
        ),
    )
    def raw_and_queries(raw, query) -> None:
        assert_no_500(
            client.post(
                f"/api/v1/enterprises/{ent}/areas", data=raw, content_type="application/json", headers=admin
            )
        )
        assert_no_500(client.get(f"/api/v1/enterprises?{urlencode(query)}", headers=admin))
        assert_no_500(client.get(f"/api/v1/enterprises/{ent}/people?{urlencode(query)}", headers=admin))
        assert_no_500(
            client.get(
                "/api/v1/auth/me",
                headers={"Authorization": raw.decode("latin-1").replace("\r", "").replace("\n", "")},
            )
        )

    bodies()
    raw_and_queries()
