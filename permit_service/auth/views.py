"""Auth endpoints: login, refresh, logout, client credentials, who am I."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_jwt_extended import get_jwt, jwt_required
from flask_smorest import Blueprint
from jwt import InvalidTokenError

from permit_service.auth.models import IntegrationClient
from permit_service.auth.passwords import verify_secret
from permit_service.auth.principal import Principal, current_principal
from permit_service.auth.schemas import (
    ClientCredentialsSchema,
    LoginSchema,
    LogoutSchema,
    MeSchema,
    TokenSchema,
)
from permit_service.auth.tokens import (
    decode_refresh,
    issue_tokens,
    principal_of_client,
    principal_of_person,
    revoke,
)
from permit_service.db import get_session, transaction
from permit_service.directory.models import Person
from permit_service.errors import Unauthorized

blp = Blueprint("auth", __name__, url_prefix="/auth", description="登录与令牌 / Login and tokens")

_BAD_LOGIN = ("用户名或密码错误", "Wrong username or password")


@blp.post("/login")
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@blp.doc(security=[])
def login(body: dict[str, Any]) -> dict[str, Any]:
    """Log in with username and password; returns access and refresh tokens."""
    person = get_session().scalar(sa.select(Person).where(Person.username == body["username"]))
    ok = verify_secret(person.password_hash if person else None, body["password"])
    if not ok or person is None or not person.active:
        raise Unauthorized(*_BAD_LOGIN)
    return issue_tokens(principal_of_person(person))


@blp.post("/token")
@blp.arguments(ClientCredentialsSchema)
@blp.response(200, TokenSchema)
@blp.doc(security=[])
def client_token(body: dict[str, Any]) -> dict[str, Any]:
    """Client-credentials grant for a plant integration account (access token only)."""
    client = get_session().scalar(
        sa.select(IntegrationClient).where(IntegrationClient.client_id == body["client_id"])
    )
    ok = verify_secret(client.secret_hash if client else None, body["client_secret"])
    if not ok or client is None or not client.active:
        raise Unauthorized("客户端凭据错误", "Wrong client credentials")
    return issue_tokens(principal_of_client(client), with_refresh=False)


@blp.post("/refresh")
@blp.response(200, TokenSchema)
@jwt_required(refresh=True)
def refresh() -> dict[str, Any]:
    """Exchange a refresh token (as the bearer token) for a new access token."""
    return issue_tokens(current_principal(), with_refresh=False, refresh_jti=get_jwt()["jti"])


@blp.post("/logout")
@blp.arguments(LogoutSchema)
@blp.response(204)
def logout(body: dict[str, Any]) -> None:
    """Revoke the access token and its refresh token (persisted, so every worker refuses them)."""
    current_principal()
    payload = get_jwt()
    with transaction():
        revoke(payload)
        if body.get("refresh_token"):
            try:
                refresh_payload = decode_refresh(body["refresh_token"])
            except InvalidTokenError as exc:
                raise Unauthorized("刷新令牌无效", "The refresh token is invalid") from exc
            if refresh_payload.get("sub") == payload.get("sub"):
                revoke(refresh_payload)


@blp.get("/me")
@blp.response(200, MeSchema)
def me() -> Principal:
    """The caller: id, roles and tenant."""
    return current_principal()
