"""Assertions on problem+json answers and hand-made JWTs shared by the auth, convention and directory tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import jwt as pyjwt
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from permit_service.db import get_engine

PROBLEM = "application/problem+json"
# Transaction control is not counted: SQLite's BEGIN IMMEDIATE is a statement, PostgreSQL's is implicit.
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def assert_problem(resp: TestResponse, status: int, *, fields: set[str] | None = None) -> dict[str, Any]:
    """The answer is an RFC 9457 problem with `status`, bilingual messages and, if given, exactly these
    fields listed in `errors`; returns the body."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type == PROBLEM
    body = resp.get_json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    assert body["message_zh"] and body["message_en"]
    assert body["detail"] == f"{body['message_zh']} / {body['message_en']}"
    if fields is not None:
        assert set(body.get("errors", {})) == fields, body.get("errors")
    return body


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs encode their parts."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a token, without checking it."""
    return pyjwt.decode(token, options={"verify_signature": False})


def hand_made(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes | None = None) -> str:
    """A JWT assembled by hand: signed with HMAC-SHA256 under `hmac_key`, or unsigned (`alg: none`)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    if hmac_key is None:
        return f"{signing_input}."
    signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def peek(app: Flask) -> Iterator[Session]:
    """A short-lived session for checking what the app stored; closing it releases SQLite's lock, and the
    factory's objects (in the test's own session) stay loaded."""
    with Session(app.extensions["db_engine"]) as session:
        yield session


def url_of(rule: Rule, **given: Any) -> str:
    """A URL of an app's rule, its path parameters taken from `given` or made up (a new UUID, an allowed value)."""
    values = {}
    for name, converter in rule._converters.items():
        if name in given:
            values[name] = given[name]
        elif hasattr(converter, "items"):  # any(a, b): one of the values it allows
            values[name] = sorted(converter.items)[0]
        else:
            kind = type(converter).__name__
            values[name] = uuid.uuid4() if "UUID" in kind else 2027 if "Integer" in kind else "hot_work"
    return rule.build(values)[1]


@contextmanager
def listening(app: Flask, name: str, listener: Callable[..., None]) -> Iterator[None]:
    """`listener` on the app engine's event `name` (e.g. before_cursor_execute) while the block runs."""
    with app.app_context():
        engine = get_engine()
    sa.event.listen(engine, name, listener)
    try:
        yield
    finally:
        sa.event.remove(engine, name, listener)


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    """The statements the app sends while the block runs."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:
        if not statement.lstrip().upper().startswith(_CONTROL):
            statements.append(statement)

    with listening(app, "before_cursor_execute", count):
        yield statements


# A statement SQLAlchemy has no cache key for is compiled on every execution, the ORM's loading plan with it: a
# custom construct without `inherit_cache = True` makes every statement it is part of one (a permit read then cost
# four times its CPU, issue 14).
_NOT_CACHED = (CacheStats.NO_CACHE_KEY, CacheStats.CACHING_DISABLED)


@contextmanager
def compiled_uncached(app: Flask) -> Iterator[list[str]]:
    """The statements the app sends while the block runs that SQLAlchemy compiles without its cache."""
    statements: list[str] = []

    def note(_conn, _cursor, statement, _params, context, _many) -> None:
        if context is not None and context.compiled is not None and context.cache_hit in _NOT_CACHED:
            statements.append(statement)

    with listening(app, "before_cursor_execute", note):
        yield statements
