"""JWT settings and loaders: issued HS tokens, accepted external RS256 tokens, revocation, problem+json errors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt as pyjwt
import sqlalchemy as sa
from flask import Flask, Response, current_app
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token

from permit_service.auth.models import IntegrationClient, RevokedToken
from permit_service.auth.principal import INTEGRATION_ROLE, Principal
from permit_service.config import Config
from permit_service.db import get_session
from permit_service.directory.models import Person
from permit_service.errors import problem_response
from permit_service.extensions import jwt

EXTERNAL_ALGORITHM = "RS256"


def _load_external_keys(cfg: Config) -> dict[str | None, Any]:
    """The identity provider's public keys by `kid` (None: the single PEM key)."""
    keys: dict[str | None, Any] = {}
    if cfg.external_idp_public_key_file:
        keys[None] = Path(cfg.external_idp_public_key_file).read_bytes()
    if cfg.external_idp_jwks_file:
        jwks = json.loads(Path(cfg.external_idp_jwks_file).read_text())
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") == "RSA" and jwk.get("use", "sig") == "sig":
                keys[jwk.get("kid")] = pyjwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
    return keys


def init_app(app: Flask, cfg: Config) -> None:
    """Pin the algorithms and lifetimes; load the external provider's keys once."""
    external = cfg.external_idp_issuer is not None
    app.config.update(
        JWT_SECRET_KEY=cfg.jwt_secret_key,
        JWT_ALGORITHM=cfg.jwt_algorithm,
        JWT_DECODE_ALGORITHMS=[cfg.jwt_algorithm, *([EXTERNAL_ALGORITHM] if external else [])],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=cfg.jwt_access_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=cfg.jwt_refresh_days),
        JWT_ENCODE_ISSUER=cfg.jwt_issuer,
        JWT_ENCODE_AUDIENCE=cfg.jwt_audience,
        JWT_DECODE_AUDIENCE=cfg.jwt_audience,
        JWT_IDENTITY_CLAIM="sub",
        JWT_ERROR_MESSAGE_KEY="message_en",
    )
    app.extensions["external_idp_keys"] = _load_external_keys(cfg) if external else {}


def _unauthorized(zh: str, en: str) -> Response:
    return problem_response(401, zh=zh, en=en, slug="unauthorized", headers={"WWW-Authenticate": "Bearer"})


@jwt.decode_key_loader
def _decode_key(header: dict[str, Any], payload: dict[str, Any]) -> Any:
    # The key follows the issuer, and each issuer has exactly one algorithm: a token cannot pick HS256
    # and have the provider's public key used as its HMAC secret.
    cfg: Config = current_app.config["PERMIT_CONFIG"]
    alg = header.get("alg")
    if cfg.external_idp_issuer and payload.get("iss") == cfg.external_idp_issuer:
        keys = current_app.extensions["external_idp_keys"]
        if alg != EXTERNAL_ALGORITHM:
            raise pyjwt.InvalidAlgorithmError("algorithm not allowed for this issuer")
        key = keys.get(header.get("kid")) or keys.get(None)
        if key is None:
            raise pyjwt.InvalidSignatureError("unknown key id")
        return key
    if payload.get("iss") != cfg.jwt_issuer or alg != cfg.jwt_algorithm:
        raise pyjwt.InvalidIssuerError("unknown issuer or algorithm")
    return cfg.jwt_secret_key


@jwt.user_identity_loader
def _identity(principal: Principal) -> str:
    return principal.id


@jwt.additional_claims_loader
def _claims(principal: Principal) -> dict[str, Any]:
    return {
        "kind": principal.kind,
        "name": principal.name,
        "roles": sorted(principal.roles),
        "enterprise_id": str(principal.enterprise_id) if principal.enterprise_id else None,
        "region_id": str(principal.region_id) if principal.region_id else None,
    }


def principal_of_person(person: Person) -> Principal:
    """A person as a caller."""
    return Principal(
        id=str(person.id),
        kind="person",
        name=person.name,
        roles=frozenset(person.roles),
        enterprise_id=person.enterprise_id,
        region_id=person.region_id,
    )


def principal_of_client(client: IntegrationClient) -> Principal:
    """An integration client as a caller."""
    return Principal(
        id=str(client.id),
        kind="integration",
        name=client.name,
        roles=frozenset({INTEGRATION_ROLE}),
        enterprise_id=client.enterprise_id,
    )


@jwt.user_lookup_loader
def _lookup(_header: dict[str, Any], payload: dict[str, Any]) -> Principal | None:
    # Roles and tenant come from the database on every request: a deactivated person or a changed
    # role takes effect at once, and an external provider cannot grant roles.
    session = get_session()
    cfg: Config = current_app.config["PERMIT_CONFIG"]
    sub = payload.get("sub")
    if not isinstance(sub, str):
        return None
    if cfg.external_idp_issuer and payload.get("iss") == cfg.external_idp_issuer:
        person = session.scalar(sa.select(Person).where(Person.username == sub, Person.active.is_(True)))
        return principal_of_person(person) if person else None
    try:
        ident = uuid.UUID(sub)
    except ValueError:
        return None
    if payload.get("kind") == "integration":
        client = session.get(IntegrationClient, ident)
        return principal_of_client(client) if client and client.active else None
    person = session.get(Person, ident)
    return principal_of_person(person) if person and person.active else None


@jwt.token_in_blocklist_loader
def _revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    jti = payload.get("jti")
    if jti is None:
        return False
    return get_session().get(RevokedToken, jti) is not None


@jwt.unauthorized_loader
def _missing(_reason: str) -> Response:
    return _unauthorized(
        "缺少访问令牌（Authorization: Bearer …）", "Missing access token (Authorization: Bearer …)"
    )


@jwt.invalid_token_loader
def _invalid(_reason: str) -> Response:
    return _unauthorized("访问令牌无效", "The access token is invalid")


@jwt.expired_token_loader
def _expired(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized(
        "访问令牌已过期，请刷新或重新登录", "The token has expired; refresh it or log in again"
    )


@jwt.revoked_token_loader
def _revoked_answer(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("令牌已注销", "The token has been revoked")


@jwt.user_lookup_error_loader
def _unknown_user(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized(
        "令牌对应的账户不存在或已停用", "The account of this token does not exist or is disabled"
    )


@jwt.needs_fresh_token_loader
def _not_fresh(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("需要重新登录", "This needs a fresh login")


@jwt.token_verification_failed_loader
def _verification_failed(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("令牌声明校验失败", "The token's claims failed verification")


def issue_tokens(
    principal: Principal, *, with_refresh: bool = True, refresh_jti: str | None = None
) -> dict[str, Any]:
    """Access (and refresh) tokens for `principal`; the access token names its refresh token for logout."""
    body: dict[str, Any] = {"token_type": "Bearer"}
    claims: dict[str, Any] = {}
    if with_refresh:
        refresh_jti = str(uuid.uuid4())
        body["refresh_token"] = create_refresh_token(
            identity=principal, additional_claims={"jti": refresh_jti}
        )
    if refresh_jti:
        claims["rjti"] = refresh_jti
    body["access_token"] = create_access_token(identity=principal, additional_claims=claims)
    body["expires_in"] = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())
    return body


def revoke(payload: dict[str, Any]) -> None:
    """Persist the revocation of a token and of the refresh token it names."""
    session = get_session()
    expires = datetime.fromtimestamp(payload["exp"], UTC)
    refresh_expires = datetime.now(UTC) + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    for jti, until in ((payload.get("jti"), expires), (payload.get("rjti"), refresh_expires)):
        if jti and session.get(RevokedToken, jti) is None:
            session.add(RevokedToken(jti=jti, expires_at=until))


def decode_refresh(token: str) -> dict[str, Any]:
    """Decode a refresh token passed in a body (for logout of both tokens)."""
    return decode_token(token)
