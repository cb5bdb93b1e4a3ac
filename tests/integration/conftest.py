"""Fixtures of the integration tests (the bridge tests take the HTTP feed tests' gas plant: both judge one plant)."""

from __future__ import annotations

import pytest

from tests.api.test_integration_rules import plant  # noqa: F401 - a fixture
from tests.integration.bridge_helpers import listeners  # noqa: F401 - a fixture


@pytest.fixture
def cli_env(config, monkeypatch):
    """`permit-service` on the command line pointed at the test database."""
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    monkeypatch.setenv("JWT_SECRET_KEY", config.jwt_secret_key)
