"""Extension objects: the flask-smorest Api (answering problem+json) and the JWT manager."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from flask import Flask, Response, current_app, json
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config as jwt_config
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


# Verified tokens an app keeps (see JWT): a worker sees a few hundred callers in their tokens' lifetime.
VERIFIED_TOKENS = 1024


class VerifiedTokens:
    """The claims of tokens whose signature and claims were verified, by the token's text, each until its `exp`;
    at most `size`, the least recently used going first. Safe across threads."""

    def __init__(self, size: int = VERIFIED_TOKENS) -> None:
        self.size = size
        self._claims: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> dict[str, Any] | None:
        """A copy of the token's claims while it has not expired (PyJWT's test, with the app's leeway)."""
        with self._lock:
            claims = self._claims.get(token)
            if claims is None:
                return None
            if claims["exp"] <= time.time() - jwt_config.leeway:
                del self._claims[token]
                return None
            self._claims.move_to_end(token)
            return dict(claims)

    def put(self, token: str, claims: dict[str, Any]) -> None:
        """Keep the verified claims of `token` (one without a numeric `exp` is not kept)."""
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            return
        with self._lock:
            self._claims[token] = dict(claims)
            self._claims.move_to_end(token)
            while len(self._claims) > self.size:
                self._claims.popitem(last=False)


class JWT(JWTManager):
    """flask-jwt-extended's manager, verifying a token's signature and claims once while it is valid (issue 14).

    The library decodes a request's token three times (its claims and header unverified for the key loader, then
    verified), a tenth of a cached read's CPU, and a client sends the same token for its whole life. The same text
    gets the same verdict on its signature, key, algorithm, issuer and audience (the app's settings are fixed at
    start), and its not-before, issued-at and lifetime checks (auth.tokens) only pass the more as time goes on: so
    the verified claims are kept by the app and served to the same text until its `exp`, when it is decoded again
    and refused as expired. Revocation and the caller are checked on every request as before (auth.tokens).
    """

    def init_app(self, app: Flask, add_context_processor: bool = False) -> None:
        """Register with `app`, with an empty store of verified tokens of its own."""
        super().init_app(app, add_context_processor)
        app.extensions["verified_tokens"] = VerifiedTokens()

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        if csrf_value is not None or allow_expired:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        verified: VerifiedTokens = current_app.extensions["verified_tokens"]
        claims = verified.get(encoded_token)
        if claims is None:
            claims = super()._decode_jwt_from_config(encoded_token)
            verified.put(encoded_token, claims)
        return claims


jwt = JWT()
