"""Auth use cases: check credentials, throttle password guesses, revoke tokens, purge revocations that can no
longer matter."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.audit import service as audit
from permit_service.auth.models import IntegrationClient, PasswordAttempts, RevokedToken
from permit_service.auth.passwords import hash_secret, needs_rehash, verify_secret
from permit_service.auth.principal import Principal
from permit_service.auth.tokens import is_external, token_key
from permit_service.db import is_postgres
from permit_service.directory.models import Person
from permit_service.errors import Forbidden, TooManyRequests, Unauthorized, ValidationProblem

# Latest instant a revocation must be kept (datetime's own limit is year 9999; real tokens end far sooner).
_FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)


def count_password_attempt(session: Session, *, account: str, limit: int, window: timedelta) -> None:
    """Count one password attempt on `account` before the password is checked; 429 (with Retry-After, the
    count unchanged) once `limit` attempts of the window have not been cleared by a success.

    Commit it in a transaction of its own, before the one that checks the password: the count then survives
    the 401 or 403 that rolls a wrong password's request back, and attempts sent at once each take their own
    place in the count (the upsert is atomic), so a burst cannot slip more than `limit` guesses under it.
    """
    now = clock.now()
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    stmt = insert(PasswordAttempts).values(account=account, attempts=1, window_started_at=now)
    window_over = PasswordAttempts.window_started_at <= now - window
    stmt = stmt.on_conflict_do_update(
        index_elements=["account"],
        set_={
            "attempts": sa.case((window_over, 1), else_=PasswordAttempts.attempts + 1),
            "window_started_at": sa.case(
                (window_over, stmt.excluded.window_started_at), else_=PasswordAttempts.window_started_at
            ),
        },
    ).returning(PasswordAttempts.attempts, PasswordAttempts.window_started_at)
    attempts, started = session.execute(stmt).one()
    if attempts > limit:
        wait = max(1, math.ceil((started + window - now).total_seconds()))
        minutes = math.ceil(wait / 60)
        raise TooManyRequests(
            f"密码错误次数过多，请{minutes}分钟后再试",
            f"Too many wrong passwords for this account; try again in {minutes} min",
            headers={"Retry-After": str(wait)},
        )


def clear_password_attempts(session: Session, *, account: str) -> None:
    """Forget the attempts on `account`: its password was just proven."""
    session.execute(sa.delete(PasswordAttempts).where(PasswordAttempts.account == account))


def authenticate_person(session: Session, *, username: str, password: str) -> Person:
    """The active person with these credentials (401 otherwise, the same answer whatever was wrong).

    Count the attempt first with `count_password_attempt(account=username)`; a success clears the count.
    """
    person = session.scalar(sa.select(Person).where(Person.username == username))
    stored = person.password_hash if person else None
    if not verify_secret(stored, password) or person is None or not person.active:
        raise Unauthorized("用户名或密码错误", "Wrong username or password")
    clear_password_attempts(session, account=username)
    if stored is not None and needs_rehash(stored):
        person.password_hash = hash_secret(password)
        session.flush()
    return person


def check_new_password(*, username: str, current_password: str, new_password: str, min_length: int) -> None:
    """422 naming every way `new_password` breaks the policy; it needs no stored hash, so it runs before the
    attempt is counted (a right current password with a weak new one must not cost an attempt)."""
    problems = []
    if len(new_password) < min_length:
        problems.append(f"至少{min_length}个字符 / at least {min_length} characters")
    if new_password.casefold() == username.casefold():
        problems.append("不得与用户名相同 / must not be the username")
    if new_password == current_password:
        problems.append("须与当前密码不同 / must differ from the current password")
    if problems:
        raise ValidationProblem({"new_password": problems})


def change_password(
    session: Session, *, principal: Principal, current_password: str, new_password: str
) -> Person:
    """Set a person's new password (Argon2id) after checking the current one; raising the token generation
    refuses every token issued before, on every device (the caller gets new ones).

    Before it, in a transaction of its own: `check_new_password`, then `count_password_attempt` on
    `username_of(principal)`. A right current password clears the count.
    """
    # Locked, so that of two changes at once the second is judged against the password the first set (403),
    # not failed by the version check (a 412 the caller never asked for: it sent no If-Match).
    person = session.get(Person, uuid.UUID(principal.id), with_for_update=True, populate_existing=True)
    if person is None or not verify_secret(person.password_hash, current_password):
        raise Forbidden("当前密码错误", "The current password is wrong")
    clear_password_attempts(session, account=person.username)
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


def username_of(session: Session, principal: Principal) -> str:
    """The username of a person caller: the account their password attempts are counted on."""
    return session.scalar(sa.select(Person.username).where(Person.id == uuid.UUID(principal.id))) or ""


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


def purge_ended_password_attempts(session: Session, now: datetime, window: timedelta) -> int:
    """Delete the attempt counts whose window has ended by `now` (the next attempt opens a new one anyway)."""
    result = session.execute(
        sa.delete(PasswordAttempts).where(PasswordAttempts.window_started_at <= now - window)
    )
    return result.rowcount or 0


def purge_expired_revocations(session: Session, now: datetime) -> int:
    """Delete revocations of tokens that have expired by `now` (they are refused as expired); returns how many."""
    result = session.execute(sa.delete(RevokedToken).where(RevokedToken.expires_at <= now))
    return result.rowcount or 0
