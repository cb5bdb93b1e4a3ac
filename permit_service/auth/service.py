"""Auth use cases: check credentials, revoke tokens, purge revocations that can no longer matter."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.audit import service as audit
from permit_service.auth.models import IntegrationClient, RevokedToken
from permit_service.auth.passwords import hash_secret, needs_rehash, verify_secret
from permit_service.auth.principal import Principal
from permit_service.auth.tokens import is_external, token_key
from permit_service.db import is_postgres
from permit_service.directory.models import Person
from permit_service.errors import Forbidden, Unauthorized, ValidationProblem

# Latest instant a revocation must be kept (datetime's own limit is year 9999; real tokens end far sooner).
_FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)


def authenticate_person(session: Session, *, username: str, password: str) -> Person:
    """The active person with these credentials (401 otherwise, the same answer whatever was wrong)."""
    person = session.scalar(sa.select(Person).where(Person.username == username))
    stored = person.password_hash if person else None
    if not verify_secret(stored, password) or person is None or not person.active:
        raise Unauthorized("用户名或密码错误", "Wrong username or password")
    if stored is not None and needs_rehash(stored):
        person.password_hash = hash_secret(password)
        session.flush()
    return person


def change_password(
    session: Session, *, principal: Principal, current_password: str, new_password: str, min_length: int
) -> Person:
    """Set a person's new password (Argon2id) after checking the current one; raising the token generation
    refuses every token issued before, on every device (the caller gets new ones)."""
    # Locked, so that of two changes at once the second is judged against the password the first set (403),
    # not failed by the version check (a 412 the caller never asked for: it sent no If-Match).
    person = session.get(Person, uuid.UUID(principal.id), with_for_update=True, populate_existing=True)
    if person is None or not verify_secret(person.password_hash, current_password):
        raise Forbidden("当前密码错误", "The current password is wrong")
    problems = []
    if len(new_password) < min_length:
        problems.append(f"至少{min_length}个字符 / at least {min_length} characters")
    if new_password.casefold() == person.username.casefold():
        problems.append("不得与用户名相同 / must not be the username")
    if new_password == current_password:
        problems.append("须与当前密码不同 / must differ from the current password")
    if problems:
        raise ValidationProblem({"new_password": problems})
    person.password_hash = hash_secret(new_password)
    person.token_generation += 1
    session.flush()
    audit.record(  # AU-01: who changed which account's password, when (never the password itself)
        session,
        kind="person.password_changed",
        actor=principal,
        subject_type="person",
        subject_id=person.id,
        enterprise_id=person.enterprise_id,
        region_id=person.region_id,
    )
    return person


def authenticate_client(session: Session, *, client_id: str, client_secret: str) -> IntegrationClient:
    """The active integration client with these credentials (401 otherwise)."""
    client = session.scalar(sa.select(IntegrationClient).where(IntegrationClient.client_id == client_id))
    stored = client.secret_hash if client else None
    if not verify_secret(stored, client_secret) or client is None or not client.active:
        raise Unauthorized("客户端凭据错误", "Wrong client credentials")
    if stored is not None and needs_rehash(stored):
        client.secret_hash = hash_secret(client_secret)
        session.flush()
    return client


def _at(timestamp: Any) -> datetime:
    try:
        return min(datetime.fromtimestamp(float(timestamp), UTC), _FAR_FUTURE)
    except (OverflowError, OSError, ValueError, TypeError):
        return _FAR_FUTURE


def revocations_of(payload: dict[str, Any], *, refresh_lifetime: timedelta) -> dict[str, datetime]:
    """What revoking a decoded token means: its own id, and the refresh token an access token names, each with
    the time after which it would be refused anyway."""
    found: dict[str, datetime] = {}
    key = token_key(payload)
    if key is not None:
        found[key] = _at(payload.get("exp"))
    rjti = payload.get("rjti")
    if isinstance(rjti, str) and 0 < len(rjti) <= 64 and not is_external(payload):
        # The refresh token was issued no later than this access token.
        found[rjti] = _at(payload.get("iat", payload.get("exp"))) + refresh_lifetime
    return found


def revoke_tokens(
    session: Session, *, payloads: Iterable[dict[str, Any]], refresh_lifetime: timedelta
) -> int:
    """Persist the revocation of decoded tokens (and of the refresh tokens they name); revoking twice is fine."""
    rows: dict[str, datetime] = {}
    for payload in payloads:
        for key, until in revocations_of(payload, refresh_lifetime=refresh_lifetime).items():
            rows[key] = max(until, rows.get(key, until))
    if not rows:
        return 0
    # Two logouts of one token at once must not collide on the primary key.
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    stmt = insert(RevokedToken).on_conflict_do_nothing(index_elements=["jti"])
    revoked_at = clock.now()
    session.execute(stmt, [{"jti": k, "expires_at": v, "revoked_at": revoked_at} for k, v in rows.items()])
    return len(rows)


def purge_expired_revocations(session: Session, now: datetime) -> int:
    """Delete revocations of tokens that have expired by `now` (they are refused as expired); returns how many."""
    result = session.execute(sa.delete(RevokedToken).where(RevokedToken.expires_at <= now))
    return result.rowcount or 0
