"""Password and client-secret hashing with Argon2id."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified when the user does not exist, so that a wrong username costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("no-such-user")


def hash_secret(secret: str) -> str:
    """Hash a password or client secret (Argon2id with the library's current parameters)."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """Whether `secret` matches `stored_hash`, in constant time whether or not the hash exists."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether a verified hash was made with weaker parameters than today's (rehash it at the next login)."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
