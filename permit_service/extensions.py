"""Extension objects: the flask-smorest Api (answering problem+json), the JWT manager and metrics."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, json
from flask_jwt_extended import JWTManager
from flask_smorest import Api as _Api
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from permit_service.errors import PROBLEM_MIME, http_exception_response


class ProblemSchema(Schema):
    """RFC 9457 problem details, with the rule that refused the request and bilingual messages."""

    type = fields.String(metadata={"description": "problem type URI reference"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String(metadata={"description": "中文 / English"})
    message_zh = fields.String()
    message_en = fields.String()
    instance = fields.String()
    rule = fields.String(metadata={"description": "ID of the rule in rules.md that refused the request"})
    request_id = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "field -> messages"},
    )
    violations = fields.List(fields.Dict())
    allowed_actions = fields.List(fields.String())
    current_etag = fields.String(metadata={"description": "412: the ETag of the current version"})


class Api(_Api):
    """flask-smorest Api whose every error answer is problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        """Answer every HTTP error, including validation errors, as problem+json."""
        return http_exception_response(error)

    def openapi_document(self) -> dict[str, Any]:
        """The OpenAPI document with the API's shared conventions spelt out (permit_service.api.openapi)."""
        from permit_service.api.openapi import complete

        return complete(self.spec.to_dict(), self._app)

    def _openapi_json(self) -> Response:
        # flask-smorest's own view serves spec.to_dict(); /openapi.json serves the completed document.
        return current_app.response_class(
            json.dumps(self.openapi_document(), indent=2, sort_keys=False), mimetype="application/json"
        )

    def _register_responses(self) -> None:
        # The shared error responses are problem+json; success responses keep application/json.
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_MIME
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE


jwt = JWTManager()
