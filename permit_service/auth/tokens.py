"""JWT settings and loaders: issued HS tokens, accepted external RS256 tokens, revocation, problem+json errors."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt as pyjwt
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import Flask, Response, current_app, g
from flask_jwt_extended import create_access_token, create_refresh_token

from permit_service.auth.cache import AuthCache, Verdict
from permit_service.auth.models import IntegrationClient, RevokedToken
from permit_service.auth.principal import INTEGRATION_ROLE, REGULATOR_PLATFORM_ROLE, Principal
from permit_service.config import Config, ConfigError
from permit_service.db import get_session
from permit_service.directory.models import Enterprise, Person
from permit_service.errors import problem_response
from permit_service.extensions import jwt

EXTERNAL_ALGORITHM = "RS256"


def _rsa_public(key: Any, source: str) -> RSAPublicKey:
    if isinstance(key, RSAPrivateKey):
        key = key.public_key()
    if not isinstance(key, RSAPublicKey):
        raise ConfigError(f"{source}: only RSA keys are accepted for RS256")
    return key


def _load_external_keys(cfg: Config) -> dict[str | None, RSAPublicKey]:
    """The identity provider's public keys by `kid` (None: the PEM key, or a JWKS key without a kid)."""
    keys: dict[str | None, RSAPublicKey] = {}
    if cfg.external_idp_public_key_file:
        source = f"EXTERNAL_IDP_PUBLIC_KEY_FILE {cfg.external_idp_public_key_file}"
        try:
            key = load_pem_public_key(Path(cfg.external_idp_public_key_file).read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{source}: not a readable PEM public key ({exc})") from exc
        keys[None] = _rsa_public(key, source)
    if cfg.external_idp_jwks_file:
        source = f"EXTERNAL_IDP_JWKS_FILE {cfg.external_idp_jwks_file}"
        try:
            jwks = json.loads(Path(cfg.external_idp_jwks_file).read_text())
            entries = jwks["keys"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{source}: not a readable JWKS document ({exc})") from exc
        for jwk in entries:
            usable = jwk.get("kty") == "RSA" and jwk.get("use", "sig") == "sig"
            if usable and jwk.get("alg", EXTERNAL_ALGORITHM) == EXTERNAL_ALGORITHM:
                try:
                    key = pyjwt.algorithms.RSAAlgorithm.from_jwk(jwk)
                except pyjwt.PyJWTError as exc:
                    raise ConfigError(f"{source}: bad key {jwk.get('kid')!r} ({exc})") from exc
                keys[jwk.get("kid")] = _rsa_public(key, source)
    if not keys:
        raise ConfigError(
            "EXTERNAL_IDP_ISSUER needs EXTERNAL_IDP_PUBLIC_KEY_FILE or EXTERNAL_IDP_JWKS_FILE with an RSA signing key"
        )
    return keys


def init_app(app: Flask, cfg: Config) -> None:
    """Pin the algorithms and lifetimes; load the external provider's keys once (refuse to start if unusable)."""
    external = cfg.external_idp_issuer is not None
    if external and cfg.external_idp_issuer == cfg.jwt_issuer:
        raise ConfigError("EXTERNAL_IDP_ISSUER must differ from JWT_ISSUER: the issuer selects the key")
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
        JWT_VERIFY_SUB=True,
        # Tokens travel in the Authorization header only, so the cookie CSRF claim is noise.
        JWT_CSRF_IN_COOKIES=False,
        JWT_COOKIE_CSRF_PROTECT=False,
    )
    app.extensions["external_idp_keys"] = _load_external_keys(cfg) if external else {}
    app.extensions["auth_cache"] = AuthCache(cfg.auth_cache_seconds)


def is_external(payload: dict[str, Any]) -> bool:
    """Whether a (decoded) token was issued by the configured enterprise identity provider."""
    issuer = current_app.config["PERMIT_CONFIG"].external_idp_issuer
    return issuer is not None and payload.get("iss") == issuer


def token_key(payload: dict[str, Any]) -> str | None:
    """The id a token is revoked under: its `jti`, or for an external token without one a digest of its claims."""
    jti = payload.get("jti")
    if isinstance(jti, str) and 0 < len(jti) <= 64:
        return jti
    if is_external(payload):
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()
    return None


def _unauthorized(zh: str, en: str) -> Response:
    return problem_response(401, zh=zh, en=en, slug="unauthorized", headers={"WWW-Authenticate": "Bearer"})


def _check_lifetime(payload: dict[str, Any]) -> None:
    # Every accepted token expires, and not absurdly late: a token without `exp` would be valid for ever and
    # could never be purged from the revocation list. Token times are wall-clock (PyJWT checks them against
    # the real time), so this compares against the real time too, not the service clock.
    exp = payload.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise pyjwt.MissingRequiredClaimError("exp")
    longest = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"].total_seconds()
    if exp > time.time() + longest + 60:
        raise pyjwt.InvalidTokenError("token lifetime longer than this service accepts")


def _external_key(kid: Any) -> RSAPublicKey:
    # A JWKS key named by the token's kid; otherwise the PEM key (which has no kid), or the only key there is
    # for a token naming none. The signature is still checked against whichever key this returns.
    keys: dict[str | None, RSAPublicKey] = current_app.extensions["external_idp_keys"]
    if isinstance(kid, str) and kid in keys:
        return keys[kid]
    if None in keys:
        return keys[None]
    if kid is None and len(keys) == 1:
        return next(iter(keys.values()))
    raise pyjwt.InvalidSignatureError("unknown key id")


@jwt.decode_key_loader
def _decode_key(header: dict[str, Any], payload: dict[str, Any]) -> Any:
    # The key follows the issuer, and each issuer has exactly one algorithm: a token cannot pick HS256 and
    # have the provider's public key used as its HMAC secret, nor pick `none`.
    cfg: Config = current_app.config["PERMIT_CONFIG"]
    alg = header.get("alg")
    _check_lifetime(payload)
    if is_external(payload):
        if alg != EXTERNAL_ALGORITHM:
            raise pyjwt.InvalidAlgorithmError("algorithm not allowed for this issuer")
        if payload.get("type", "access") != "access":
            raise pyjwt.InvalidTokenError("the identity provider issues access tokens only")
        return _external_key(header.get("kid"))
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
        "gen": principal.token_generation,
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
        token_generation=person.token_generation,
        card_id=person.positioning_card_id,
        departments=frozenset(person.departments or ()),
    )


def principal_of_client(client: IntegrationClient) -> Principal:
    """An integration client as a caller: a plant's (its enterprise) or a regulator's platform (its region)."""
    return Principal(
        id=str(client.id),
        kind="integration",
        name=client.name,
        roles=frozenset({REGULATOR_PLATFORM_ROLE if client.region_id else INTEGRATION_ROLE}),
        enterprise_id=client.enterprise_id,
        region_id=client.region_id,
    )


def _external_person(sub: str) -> Person | None:
    # An enterprise's provider vouches only for that enterprise's staff when EXTERNAL_IDP_ENTERPRISE is set;
    # it never grants roles (they come from our directory).
    cfg: Config = current_app.config["PERMIT_CONFIG"]
    stmt = sa.select(Person).where(Person.username == sub, Person.active.is_(True))
    if cfg.external_idp_enterprise:
        stmt = stmt.join(Enterprise, Enterprise.id == Person.enterprise_id).where(
            Enterprise.credit_code == cfg.external_idp_enterprise
        )
    return get_session().scalar(stmt)


def _read_verdict(payload: dict[str, Any], key: str | None) -> Verdict:
    session = get_session()
    sub = payload.get("sub")
    if is_external(payload):
        revoked = key is not None and session.get(RevokedToken, key) is not None
        person = _external_person(sub) if isinstance(sub, str) and sub else None
        principal = principal_of_person(person) if person else None
        owner = principal.id if principal else None
        return Verdict(principal, active=principal is not None, revoked=revoked, owner=owner, username=sub)
    kind = payload.get("kind")
    try:
        ident = uuid.UUID(str(sub))
    except ValueError:
        ident = None
    if ident is None or kind not in ("person", "integration"):
        return Verdict(None, active=False, revoked=False, owner=None)  # the user lookup refuses it
    # The token's person or client and its revocation in ONE statement.
    model = IntegrationClient if kind == "integration" else Person
    listed = sa.exists().where(RevokedToken.jti == key) if key is not None else sa.false()
    row = session.execute(sa.select(model, listed).where(model.id == ident)).one_or_none()
    if row is None:
        return Verdict(None, active=False, revoked=False, owner=str(ident))
    found, revoked = row
    principal = (
        principal_of_client(found) if isinstance(found, IntegrationClient) else principal_of_person(found)
    )
    return Verdict(principal, active=found.active, revoked=bool(revoked), owner=str(ident))


def _verdict(payload: dict[str, Any]) -> Verdict:
    """What the database says of this token: read once a request, and served from the process's cache for
    AUTH_CACHE_SECONDS (auth.cache: a change committed in this process drops it at once)."""
    key = token_key(payload)
    seen: dict[str | None, Verdict] = g.setdefault("token_verdicts", {})
    if key in seen:
        return seen[key]
    cache: AuthCache = current_app.extensions["auth_cache"]
    verdict = cache.get(key) if key is not None else None
    if verdict is None:
        epoch = cache.epoch
        verdict = _read_verdict(payload, key)
        if key is not None:
            cache.put(key, verdict, epoch)
    seen[key] = verdict
    return verdict


@jwt.user_lookup_loader
def _lookup(_header: dict[str, Any], payload: dict[str, Any]) -> Principal | None:
    # Roles and tenant come from our directory (an external provider cannot grant roles), at most
    # AUTH_CACHE_SECONDS old; a deactivated person or client is refused.
    verdict = _verdict(payload)
    return verdict.caller if verdict.active else None


@jwt.token_in_blocklist_loader
def _revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    # Revoked by logout, or older than the person's last password change (their generation): every token issued
    # before it, on any device, is dead.
    verdict = _verdict(payload)
    caller = verdict.caller
    superseded = (
        caller is not None
        and caller.kind == "person"
        and not is_external(payload)
        and payload.get("gen", 0) != caller.token_generation
    )
    return verdict.revoked or superseded


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
