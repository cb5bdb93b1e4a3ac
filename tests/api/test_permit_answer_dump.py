"""A permit's answer is dumped compiled (permit_service.api.dumping): on real permits of every type, through their
life, it is what marshmallow dumps of PermitOut (issue 14)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from permit_service.api.conventions import WithExtras
from permit_service.api.dumping import compiled
from permit_service.measures.lines import lines as measure_lines
from permit_service.permits import children, documents, service
from permit_service.permits import schemas as s
from permit_service.permits.models import Permit
from tests.api.permit_flows import PermitFlow
from workflows import WORKFLOWS

_PER_READ = {
    "allowed_actions": ["suspend", "complete"],
    "blocked_actions": [
        {
            "action": "complete",
            "violations": [{"rule": "G-02", "message_zh": "未确认", "message_en": "unconfirmed"}],
        }
    ],
    "calendar_notice": None,
}


@pytest.fixture
def flow(client, factory):
    return PermitFlow(client, factory, factory.world())


def _dumps_agree(app, db_session, permit_id: str) -> None:
    """The permit loaded as a batch loads it (signatures and gas tests as ORM rows), dumped both ways."""
    with app.test_request_context():
        permit = (
            db_session.scalars(
                sa.select(Permit).where(Permit.id == uuid.UUID(permit_id)).options(*service.load_options())
            )
            .unique()
            .one()
        )
        answer = WithExtras(
            permit,
            measures=measure_lines(permit.type, permit.measure_list_version, permit.measures),
            signatures=children.of(permit).signatures,
            **_PER_READ,
        )
        schema = s.PermitOut()
        expected = schema.dump(answer)
        assert compiled(schema)(answer) == expected
        assert expected["signatures"] or expected["state"] == "draft"
        # What the service dumps: without the gas tests (rendered from their rows, permit_json)
        assert documents._answer_dump(answer) == s.PermitOut(exclude=("gas_tests",)).dump(answer)
    db_session.commit()  # SQLite: release the lock for the app


@pytest.mark.parametrize("permit_type", sorted(WORKFLOWS))
def test_every_type_dumps_as_marshmallow_dumps_it_from_draft_to_closed(flow, app, db_session, permit_type):
    flow.file(permit_type)
    _dumps_agree(app, db_session, flow.id)
    flow.to_active()
    _dumps_agree(app, db_session, flow.id)
    flow.complete().accept().close()
    _dumps_agree(app, db_session, flow.id)


def test_linked_permits_and_gas_tests_dump_as_marshmallow_dumps_them(flow, app, db_session):
    parent, power = flow.hot_work_with_its_power()
    parent.suspend().gas_test()
    for permit in (parent, power):
        _dumps_agree(app, db_session, permit.id)
