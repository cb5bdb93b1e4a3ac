"""permit-service: the HTTP shell around the `workflows` core. `create_app()` builds the Flask app."""

from __future__ import annotations

from typing import Any

from flask import Flask

from permit_service.config import Config


def create_app(config: Config | None = None, **overrides: Any) -> Flask:
    """Build the app from `config` (default: the environment, see `permit_service.config`)."""
    from permit_service import db, observability, routes
    from permit_service.api import conventions
    from permit_service.api.safe_json import SafeJSONProvider
    from permit_service.auth import principal, tokens
    from permit_service.errors import register_error_handlers
    from permit_service.extensions import Api, jwt

    cfg = config or Config.from_env()
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(
        PERMIT_CONFIG=cfg,
        MAX_CONTENT_LENGTH=cfg.max_content_length,
        PAGE_SIZE_DEFAULT=cfg.page_size_default,
        PAGE_SIZE_MAX=cfg.page_size_max,
        IDEMPOTENCY_TTL_HOURS=cfg.idempotency_ttl_hours,
        DISPLAY_TIMEZONE=cfg.display_timezone,
        JSON_SORT_KEYS=False,
        API_TITLE="permit-service 作业票证审批服务",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "危险化学品企业特殊作业票证审批服务（GB 30871-2022）。"
                    " Permit-to-work service for hazardous-chemical enterprises and their regulators."
                ),
                "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            },
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            },
            "security": [{"bearerAuth": []}],
        },
    )
    app.json = SafeJSONProvider(app)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.update(overrides)

    observability.init_app(app, cfg)
    engine = overrides.get("ENGINE") or db.make_engine(
        cfg.database_url, pool_size=cfg.database_pool_size, sqlite_busy_timeout_ms=cfg.sqlite_busy_timeout_ms
    )
    db.init_app(app, engine)
    tokens.init_app(app, cfg)
    jwt.init_app(app)
    principal.init_app(app)
    api = Api(app)
    app.extensions["permit_api"] = api
    register_error_handlers(app)
    app.after_request(conventions.answer_not_modified)
    routes.register(app, api)
    return app
