"""Serves the Swagger UI 5 assets from the installed package: plant networks are often cut off from the internet.

Swagger UI 5 reads OpenAPI 3.1, which the service publishes; flask-swagger-ui ships its dist files (the package's
version is the Swagger UI version it carries).
"""

from __future__ import annotations

from importlib.resources import files

from flask import Flask, Response, send_from_directory

SWAGGER_UI_DIST = str(files("flask_swagger_ui") / "dist")


def register(app: Flask) -> None:
    """Serve /docs/assets/<file> from the Swagger UI 5 dist files flask-swagger-ui ships."""

    @app.get("/docs/assets/<path:filename>")
    def swagger_assets(filename: str) -> Response:
        return send_from_directory(SWAGGER_UI_DIST, filename, max_age=86400)
