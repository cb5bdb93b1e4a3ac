"""Alembic migrations build exactly the schema the models describe, on SQLite and on PostgreSQL, both ways."""

from __future__ import annotations

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
