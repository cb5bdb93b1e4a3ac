"""Serves the Swagger UI assets from the installed package: plant networks are often cut off from the internet."""

from __future__ import annotations

from flask import Flask, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path


def register(app: Flask) -> None:
    """Serve /docs/assets/<file> from the swagger-ui-bundle package."""

    @app.get("/docs/assets/<path:filename>")
    def swagger_assets(filename: str) -> Response:
        return send_from_directory(swagger_ui_path, filename, max_age=86400)
