"""AU-03: finished permits kept past the retention period (at least a year) can be listed for archiving."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from click.testing import CliRunner

from permit_service.cli import main
from permit_service.permits.models import Permit
from tests.api.checks import assert_problem
from tests.integration.scheduler_helpers import NOW, arrange


def _due(client, factory, who, query: str = "") -> list[str]:
    resp = client.get(f"/api/v1/retention/due{query}", headers=factory.headers(who))
    assert resp.status_code == 200, resp.get_json()
    return [p["id"] for p in resp.get_json()["items"]]


def test_AU_03_finished_permits_past_a_year_are_listed_for_archiving_and_none_is_deleted(
    client, factory, db_session
):
    world = factory.world()
    old = NOW - timedelta(days=400)
    (due,) = arrange(db_session, world, state="closed", updated_at=old)
    arrange(db_session, world, state="closed", updated_at=NOW - timedelta(days=300))  # kept: within the year
    arrange(db_session, world, state="active", updated_at=old)  # still at work
    (elsewhere,) = arrange(db_session, world, other=True, state="expired", updated_at=old)
    assert _due(client, factory, world.regulator) == [str(due)]
    assert _due(client, factory, world.people["enterprise_admin"]) == [str(due)]
    assert set(_due(client, factory, world.city_regulator)) == {str(due), str(elsewhere)}
    assert _due(client, factory, world.regulator, "?days=500") == []
    assert_problem(
        client.get("/api/v1/retention/due?days=100", headers=factory.headers(world.regulator)), 422
    )
    assert_problem(
        client.get("/api/v1/retention/due", headers=factory.headers(world.people["applicant"])), 403
    )
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Permit)) == 4  # listing deletes nothing


def test_AU_03_the_cli_lists_the_same_permits_for_archiving(app, factory, db_session, cli_env):
    world = factory.world()
    arrange(db_session, world, state="closed", updated_at=NOW - timedelta(days=400))
    arrange(db_session, world, state="closed", updated_at=NOW - timedelta(days=30))
    number = db_session.scalar(sa.select(Permit.number).where(Permit.updated_at < NOW - timedelta(days=365)))
    db_session.commit()  # SQLite: release the lock for the command
    result = CliRunner().invoke(main, ["audit", "retention"])
    assert result.exit_code == 0 and result.output.splitlines()[0].startswith(
        f"{number}\t{world.enterprise.id}\tclosed"
    )
    assert len(result.output.splitlines()) == 1
    assert (
        CliRunner().invoke(main, ["audit", "retention", "--days", "30"]).exit_code == 2
    )  # AU-03: a year at least
