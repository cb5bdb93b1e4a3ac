"""Fixtures of the integration tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli_env(config, monkeypatch):
    """`permit-service` on the command line pointed at the test database."""
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    monkeypatch.setenv("JWT_SECRET_KEY", config.jwt_secret_key)
