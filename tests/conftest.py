"""Test harness: a migrated database per test (SQLite file copy, or PostgreSQL truncated after each test).

Set TEST_DATABASE_URL=postgresql+psycopg://... to run the suite on PostgreSQL. Every test commits for real,
through the same transaction code as production, so row locks and concurrency can be tested; isolation
comes from a fresh copy of a migrated template (SQLite) or TRUNCATE after the test (PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from permit_service import create_app
from permit_service.clock import FixedClock
from permit_service.config import Config
from permit_service.migrate import upgrade
from permit_service.models import Base
from tests.factories import Factory

TEST_JWT_SECRET = "test-secret-for-the-suite-only-0123456789abcdef"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = PG_URL.startswith("postgresql")
# A fixed "now" that is a plain working day in Asia/Shanghai (Wed 2026-06-10 10:00 +08:00).
DEFAULT_NOW = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {'PostgreSQL ' + PG_URL.split('@')[-1] if ON_POSTGRES else 'SQLite (file per test)'}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures tests leave in their user_properties (e.g. schemathesis's counts): under pytest-xdist
    nothing a test writes reaches the terminal, its report's properties do."""
    lines = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        for name, value in getattr(report, "user_properties", ())
        if name == "figures" and getattr(report, "when", "call") == "call"
    ]
    if lines:
        terminalreporter.write_sep("-", "figures")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


def _pg_admin_url() -> sa.URL:
    return sa.make_url(PG_URL)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database built once per test process: a SQLite file, or a PostgreSQL database."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if ON_POSTGRES:
        admin = _pg_admin_url()
        # The pid keeps two runs on one machine (two engineers, or CI beside a session) apart.
        name = f"permit_test_{worker}_{os.getpid()}"
        engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = admin.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    yield str(path)


@contextmanager
def clean_database(database_template: str, directory: Path) -> Iterator[str]:
    """A clean migrated database while the block runs: a copy of the SQLite template in `directory`, or the
    worker's PostgreSQL database, emptied afterwards."""
    if not ON_POSTGRES:
        target = directory / "test.db"
        shutil.copyfile(database_template, target)
        yield f"sqlite:///{target}"
        return
    try:
        yield database_template
    finally:
        engine = sa.create_engine(database_template)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        engine.dispose()


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> Iterator[str]:
    """A clean migrated database for one test."""
    with clean_database(database_template, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> FixedClock:
    """The clock the app reads; move it with `clock.advance(...)`."""
    return FixedClock(DEFAULT_NOW)


@pytest.fixture
def config(database_url: str) -> Config:
    """The app's configuration for a test."""
    return Config(env="test", database_url=database_url, jwt_secret_key=TEST_JWT_SECRET)


@pytest.fixture
def app(config: Config, clock: FixedClock) -> Iterator[Flask]:
    """The app under test, on its own database, with the test clock."""
    application = create_app(config)
    application.testing = True
    application.extensions["clock"] = clock
    yield application
    application.extensions["db_engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An HTTP client for the app."""
    return app.test_client()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A session on the test database for arranging data and checking results (commit what you arrange)."""
    session = sessionmaker(bind=app.extensions["db_engine"], expire_on_commit=False)()
    yield session
    session.close()


@pytest.fixture
def factory(app: Flask, db_session: Session) -> Factory:
    """Builds regions, enterprises, areas, people and their tokens."""
    return Factory(app, db_session)


@pytest.fixture
def cli_env(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """`permit-service` on the command line pointed at the test database."""
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    monkeypatch.setenv("JWT_SECRET_KEY", config.jwt_secret_key)
