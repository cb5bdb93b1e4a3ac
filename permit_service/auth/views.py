"""Auth endpoints: login, refresh, logout, client credentials, who am I."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from flask_jwt_extended import decode_token, get_jwt
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import ExpiredSignatureError, InvalidTokenError
from sqlalchemy.orm import Session

from permit_service.api.blueprint import Blueprint
from permit_service.auth import service
from permit_service.auth.principal import Principal, authenticates_itself, current_principal
from permit_service.auth.schemas import (
    ClientCredentialsSchema,
    LoginSchema,
    LogoutSchema,
    MeSchema,
    PasswordChangeSchema,
    TokenSchema,
)
from permit_service.auth.tokens import issue_tokens, principal_of_client, principal_of_person
from permit_service.db import transaction
from permit_service.errors import Forbidden, ValidationProblem

blp = Blueprint("auth", __name__, url_prefix="/auth", description="登录与令牌 / Login and tokens")


def _count_password_attempt(session: Session, account: str) -> None:
    """Count a password attempt on `account` under the configured limit (429 past it)."""
    cfg = current_app.config["PERMIT_CONFIG"]
    window = timedelta(minutes=cfg.auth_failure_window_minutes)
    service.count_password_attempt(
        session, account=account, limit=cfg.auth_max_failed_attempts, window=window
    )


@blp.post("/login")
@authenticates_itself
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
@blp.doc(security=[])
def login(body: dict[str, Any]) -> dict[str, Any]:
    """Log in with username and password; returns access and refresh tokens."""
    # The attempt is counted and committed first, so a wrong password's 401 cannot roll it back. Unknown
    # usernames are counted like known ones: the 429 says nothing about whether the account exists.
    with transaction() as session:
        _count_password_attempt(session, body["username"])
    with transaction() as session:
        person = service.authenticate_person(session, username=body["username"], password=body["password"])
        return issue_tokens(principal_of_person(person))


@blp.post("/token")
@authenticates_itself
@blp.arguments(ClientCredentialsSchema)
@blp.response(200, TokenSchema)
@blp.doc(security=[])
def client_token(body: dict[str, Any]) -> dict[str, Any]:
    """Client-credentials grant for a plant integration account (access token only)."""
    with transaction() as session:
        client = service.authenticate_client(
            session, client_id=body["client_id"], client_secret=body["client_secret"]
        )
        return issue_tokens(principal_of_client(client), with_refresh=False)


@blp.post("/refresh")
@authenticates_itself
@blp.response(200, TokenSchema)
def refresh() -> dict[str, Any]:
    """Exchange a refresh token (sent as the bearer token) for a new access token."""
    principal = current_principal(refresh=True)
    return issue_tokens(principal, with_refresh=False, refresh_jti=get_jwt()["jti"])


def _refresh_payload(token: str, subject: str) -> dict[str, Any] | None:
    """The refresh token named in a logout body, if it still needs revoking (422 if it is not the caller's)."""
    try:
        payload = decode_token(token)
    except ExpiredSignatureError:
        return None
    except (InvalidTokenError, JWTExtendedException) as exc:
        raise ValidationProblem({"refresh_token": ["令牌无效 / not a valid token"]}) from exc
    if payload.get("sub") != subject or payload.get("type") != "refresh":
        raise ValidationProblem(
            {"refresh_token": ["不是本账户的刷新令牌 / not a refresh token of this account"]}
        )
    return payload


@blp.post("/logout")
@blp.arguments(LogoutSchema)
@blp.response(204)
def logout(body: dict[str, Any]) -> None:
    """Revoke the access token and its refresh token (persisted, so every worker refuses them)."""
    current_principal()
    payloads = [get_jwt()]
    if body.get("refresh_token"):
        refresh_payload = _refresh_payload(body["refresh_token"], payloads[0]["sub"])
        if refresh_payload is not None:
            payloads.append(refresh_payload)
    with transaction() as session:
        service.revoke_tokens(
            session, payloads=payloads, refresh_lifetime=current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
        )


@blp.post("/password")
@blp.arguments(PasswordChangeSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
def change_password(body: dict[str, Any]) -> dict[str, Any]:
    """Change one's own password (current one required); earlier tokens stop working, new ones are returned."""
    principal = current_principal()
    if principal.kind != "person":
        raise Forbidden("只有人员账户有密码", "Only a person's account has a password")
    # A stolen token must not buy unlimited guesses: the attempt counts against the account, as a login's does,
    # committed before the current password is checked (its 403 rolls the second transaction back).
    with transaction() as session:
        account = service.username_of(session, principal)
        service.check_new_password(
            username=account,
            current_password=body["current_password"],
            new_password=body["new_password"],
            min_length=current_app.config["PERMIT_CONFIG"].password_min_length,
        )
        _count_password_attempt(session, account)
    with transaction() as session:
        person = service.change_password(
            session,
            principal=principal,
            current_password=body["current_password"],
            new_password=body["new_password"],
        )
        return issue_tokens(principal_of_person(person))


@blp.get("/me")
@blp.response(200, MeSchema)
def me() -> Principal:
    """The caller: id, roles and tenant."""
    return current_principal()
