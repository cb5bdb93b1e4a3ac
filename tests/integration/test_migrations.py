"""Alembic migrations build exactly the schema the models describe, on SQLite and on PostgreSQL, both ways."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from permit_service.migrate import alembic_config, schema_drift, upgrade
from permit_service.models import Base
from tests.conftest import ON_POSTGRES, PG_URL


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's kind: a new SQLite file, or a PostgreSQL database of this worker's own."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    # the pid too: other runs on the same server (another checkout, another engineer) must not collide
    name = f"permit_migrations_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _inspect(url: str) -> tuple[set[str], str | None, list]:
    """The tables, the Alembic revision and the autogenerate drift of the database at `url`."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            revision = MigrationContext.configure(conn).get_current_revision()
            drift = schema_drift(conn) if revision else []
    finally:
        engine.dispose()
    return tables, revision, drift


def test_upgrade_from_empty_builds_exactly_the_models_schema(empty_database_url):
    upgrade(empty_database_url)
    tables, revision, drift = _inspect(empty_database_url)
    assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert set(Base.metadata.tables) <= tables
    assert drift == [], "the models changed without a migration: run `make migration`"


def test_downgrade_to_base_and_upgrade_again(empty_database_url):
    upgrade(empty_database_url)
    command.downgrade(alembic_config(empty_database_url), "base")
    tables, revision, _ = _inspect(empty_database_url)
    assert revision is None
    assert tables <= {"alembic_version"}

    upgrade(empty_database_url)
    tables, revision, drift = _inspect(empty_database_url)
    assert revision is not None
    assert set(Base.metadata.tables) <= tables
    assert drift == []


def test_G_02_permits_filed_before_the_measure_lists_are_marked_list_version_0(empty_database_url):
    upgrade(empty_database_url, "0001")
    engine = sa.create_engine(empty_database_url)
    columns = (
        "id, enterprise_id, area_id, applicant_id, number, type, state, version, title, location, work_content,"
        " valid_from, valid_until, facts, risk_analysis, measures, work_unit, contractor, created_at, updated_at,"
        " gas_alarm"
    )
    try:
        with engine.begin() as conn:
            if ON_POSTGRES:  # the permit's enterprise, area and applicant are beside the point here
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.execute(
                sa.text(
                    f"INSERT INTO permits ({columns}) VALUES (:id, :id, :id, :id, 'DH-2026-000001', 'hot_work',"
                    " 'submitted', 2, 'old', '', '', '2026-06-10 02:00:00', '2026-06-10 06:00:00', '{}', 'x',"
                    " :measures, '', false, '2026-06-10 01:00:00', '2026-06-10 01:00:00', false)"
                ),
                {
                    "id": "0f0e0d0c-0b0a-4908-8706-050403020100",
                    "measures": '[{"code": "M1", "text": "置换合格"}]',
                },
            )
        upgrade(empty_database_url)
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT measure_list_version, measures FROM permits")).one()
    finally:
        engine.dispose()

    assert stored[0] == 0
    assert "置换合格" in str(stored[1])


def test_EX_01_RC_01_permits_submitted_before_keep_their_countersigning_departments(empty_database_url):
    """A road closure submitted before the configured departments keeps fire, safety and those it listed."""
    upgrade(empty_database_url, "0018_crew_certificates")
    engine = sa.create_engine(empty_database_url)
    columns = (
        "id, enterprise_id, area_id, applicant_id, number, type, state, version, title, location, work_content,"
        " valid_from, valid_until, facts, risk_analysis, measures, work_unit, contractor, created_at, updated_at,"
        " gas_alarm"
    )
    try:
        with engine.begin() as conn:
            if ON_POSTGRES:  # the permit's enterprise, area and applicant are beside the point here
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.execute(
                sa.text(
                    f"INSERT INTO permits ({columns}) VALUES (:id, :id, :id, :id, 'DL-2026-000001', 'road_closure',"
                    " 'submitted', 2, 'old', '', '', '2026-06-10 02:00:00', '2026-06-10 06:00:00', :facts, 'x',"
                    " '[]', '', false, '2026-06-10 01:00:00', '2026-06-10 01:00:00', false)"
                ),
                {
                    "id": "0f0e0d0c-0b0a-4908-8706-050403020101",
                    "facts": '{"countersign_departments": ["telecom", "fire"]}',
                },
            )
        upgrade(empty_database_url)
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT countersign_departments FROM permits")).scalar_one()
    finally:
        engine.dispose()

    assert (json.loads(stored) if isinstance(stored, str) else stored) == ["fire", "safety", "telecom"]
