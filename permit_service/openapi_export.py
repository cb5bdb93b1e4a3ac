"""The OpenAPI document as the code generates it, serialised deterministically for `openapi/openapi.yaml`."""

from __future__ import annotations

import yaml

from permit_service.config import Config


def generate() -> dict:
    """Build an app with a throwaway in-memory database and return its OpenAPI spec."""
    from permit_service import create_app

    app = create_app(Config(database_url="sqlite://", env="development"))
    with app.app_context():
        return app.extensions["permit_api"].openapi_document()


def generate_yaml() -> str:
    """The spec as YAML with stable key order and Unicode kept as text."""
    return yaml.safe_dump(generate(), allow_unicode=True, sort_keys=True, width=120)
