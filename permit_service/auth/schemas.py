"""Schemas of the auth endpoints."""

from __future__ import annotations

from marshmallow import fields, validate

from permit_service.api.fields import OPTIONAL_OUTPUT, StrictSchema


class LoginSchema(StrictSchema):
    """Password login."""

    username = fields.String(required=True, validate=validate.Length(min=1, max=100))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))


class PasswordChangeSchema(StrictSchema):
    """Change one's own password: the current one proves it is the person, not just someone holding a token."""

    current_password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))
    new_password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "at least PASSWORD_MIN_LENGTH characters (default 12), not the username"},
    )


class ClientCredentialsSchema(StrictSchema):
    """Client-credentials grant for plant integration accounts."""

    grant_type = fields.String(required=True, validate=validate.OneOf(["client_credentials"]))
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    client_secret = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))


class LogoutSchema(StrictSchema):
    """Logout: the refresh token may be passed to revoke it as well (the access token names it anyway)."""

    refresh_token = fields.String(load_default=None, validate=validate.Length(max=4000))


class TokenSchema(StrictSchema):
    """Issued tokens."""

    access_token = fields.String(required=True)
    refresh_token = fields.String(
        metadata={"description": "login only (not on refresh or client credentials)", OPTIONAL_OUTPUT: True}
    )
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


class MeSchema(StrictSchema):
    """The caller as the service sees it."""

    id = fields.String()
    kind = fields.String()
    name = fields.String()
    roles = fields.List(fields.String())
    enterprise_id = fields.UUID(allow_none=True)
    region_id = fields.UUID(allow_none=True)
