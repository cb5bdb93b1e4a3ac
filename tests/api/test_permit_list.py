"""The permit list's page is made from its rows without marshmallow (issue 14): it must be what PermitPage dumps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from permit_service.api.conventions import paginate
from permit_service.auth.tokens import principal_of_person
from permit_service.db import reading_session
from permit_service.permits import service
from permit_service.permits.models import Permit
from permit_service.permits.schemas import PermitPage
from permit_service.permits.views import page
from tests.api.permit_flows import PermitFlow


def test_a_page_of_permits_is_what_PermitPage_dumps_of_its_rows(app, client, factory):
    flow = PermitFlow(client, factory, factory.world())
    flow.file("hot_work").submit()
    flow.another().file("confined_space")
    flow.another().file("hot_work")
    headers = flow.headers("work_leader")
    first = client.get("/api/v1/permits?limit=2", headers=headers)
    assert first.status_code == 200
    assert len(first.get_json()["items"]) == 2 and first.get_json()["next_cursor"]

    with app.test_request_context():
        session = reading_session()
        principal = principal_of_person(flow.person("work_leader"))
        stmt = service.list_permits(session, principal=principal, filters={})
        items, cursor = paginate(session, stmt, Permit.created_at, Permit.id, {"limit": 2})
        assert first.get_json() == PermitPage().dump({"items": items, "next_cursor": cursor})

        none_graded = {
            **dict(items[0]),
            "grade": None,
            "valid_until": datetime(2026, 6, 10, 23, 59, tzinfo=UTC),
        }
        rows = [none_graded, {**dict(items[1]), "id": uuid.uuid4()}]
        assert page(rows, None) == PermitPage().dump({"items": rows, "next_cursor": None})
