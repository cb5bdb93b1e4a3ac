"""Fixtures of the integration tests: the app served over real HTTP; the bridge tests take the HTTP feed tests' gas
plant (both judge one plant) and the MQTT listeners."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import make_server

from permit_service import db
from tests.api.test_integration_rules import plant  # noqa: F401 - a fixture
from tests.integration.bridge_helpers import listeners  # noqa: F401 - a fixture


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app (test database, test clock) served over real HTTP on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """An engine made as the app makes it (db.make_engine), disposed after the test."""
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()
