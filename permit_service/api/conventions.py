"""ETag / If-Match, Idempotency-Key and cursor pagination, the same for every endpoint."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import operator
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Response, current_app, g, request
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_list_header

from permit_service import clock
from permit_service.api import safe_json
from permit_service.api.blueprint import Blueprint
from permit_service.api.fields import StrictSchema
from permit_service.api.models import IdempotencyRecord
from permit_service.auth.principal import Principal, current_principal
from permit_service.db import (
    UTCDateTime,
    is_postgres,
    lasting_transaction,
    reading_session,
    transaction,
)
from permit_service.errors import PreconditionFailed, PreconditionRequired, Problem, ValidationProblem
from workflows.rules import RuleViolation

F = TypeVar("F", bound=Callable[..., Any])


# --- ETag / If-Match ---------------------------------------------------------------------------


def etag_of(version: int) -> str:
    """The strong ETag of a resource version."""
    return f'"{version}"'


def _if_match_tags() -> set[str] | None:
    """The entity tags If-Match names (None without the header); `*` is refused: it would match any version."""
    header = request.headers.get("If-Match")
    if not header:
        return None
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if "*" in tags:
        raise PreconditionRequired(
            "If-Match 须写明上次读取的 ETag，不接受 *",
            "If-Match must name the ETag you last read; * is not accepted",
        )
    return tags


def check_if_match(version: int) -> None:
    """Refuse a change without If-Match naming a version (428) or against a stale version (412)."""
    tags = _if_match_tags()
    if tags is None:
        raise PreconditionRequired(
            "修改须带 If-Match 头（取自上次读取的 ETag）",
            "A change needs an If-Match header with the ETag you last read",
        )
    if etag_of(version) not in tags:
        raise PreconditionFailed(current_etag=etag_of(version))


def if_match_version() -> int | None:
    """The version an optional If-Match names on an action (None when absent); the service compares it."""
    tags = _if_match_tags()
    if tags is None:
        return None
    try:
        (tag,) = tags
        return int(tag.strip('"'))
    except ValueError:
        return -1  # never matches: answered 412 like any stale tag


class WithExtras:
    """A resource read through, plus what its output schema adds (e.g. the caller's allowed_actions)."""

    def __init__(self, resource: Any, **extra: Any) -> None:
        self._resource = resource
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resource, name)


def answer(
    resource: Any, status: int = 200, *, location: str | None = None, **extra: Any
) -> tuple[Any, int, dict[str, str]]:
    """What a view returns for a versioned resource: the resource with `extra` for its schema, its ETag, and the
    Location of a created one."""
    headers = {"ETag": etag_of(resource.version)}
    if location is not None:
        headers["Location"] = location
    return WithExtras(resource, **extra), status, headers


def rendered_answer(
    body: str, version: int, status: int = 200, *, location: str | None = None
) -> tuple[Response, int, dict[str, str]]:
    """What a view returns for a versioned resource whose JSON it rendered itself (see answer())."""
    headers = {"ETag": etag_of(version)}
    if location is not None:
        headers["Location"] = location
    return current_app.response_class(f"{body}\n", mimetype=current_app.json.mimetype), status, headers


# --- Prefer: return=minimal (RFC 7240) ------------------------------------------------------------

MINIMAL = "return=minimal"


def prefers_minimal() -> bool:
    """Whether the request asks for a minimal answer (RFC 7240 `Prefer: return=minimal`): the first `return`
    preference of every Prefer header decides (RFC 7240 section 2); names and values are case-insensitive."""
    header = ", ".join(request.headers.getlist("Prefer"))
    if not header:
        return False
    for preference in parse_list_header(header):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() == "return":
            return value.strip().strip('"').lower() == "minimal"
    return False


def minimal_answer(
    body: Mapping[str, Any], version: int, status: int = 200, *, location: str | None = None
) -> tuple[Response, int, dict[str, str]]:
    """rendered_answer() of a minimal representation, saying the preference was applied (RFC 7240 section 3)."""
    rendered = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response, status, headers = rendered_answer(rendered, version, status, location=location)
    headers["Preference-Applied"] = MINIMAL
    return response, status, headers


def honours_prefer(full: type[Schema], minimal: type[Schema], status: int = 200) -> Callable[[F], F]:
    """Mark a write that answers `minimal` instead of `full` to `Prefer: return=minimal` (its view asks
    prefers_minimal() and skips what only the full answer needs): its answers vary on Prefer, and the OpenAPI
    document offers either schema for `status` and declares the header (api/openapi.py reads the mark)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            response = current_app.make_response(view(*args, **kwargs))
            response.vary.add("Prefer")
            return response

        wrapper.honours_prefer = True  # type: ignore[attr-defined]
        answer = {
            "description": f"{full.__name__}；Prefer: return=minimal 时为 {minimal.__name__} / {full.__name__}, or "
            f"{minimal.__name__} to Prefer: return=minimal",
            "content": {"application/json": {"schema": {"anyOf": [full, minimal]}}},
        }
        return Blueprint.doc(responses={str(status): answer})(wrapper)  # type: ignore[no-any-return]

    return decorator


def act_and_answer(
    use_case: Callable[..., Any], respond: Callable[[Session, Any, Principal], Any], /, **kwargs: Any
) -> Any:
    """Run a service use case in one transaction with the caller and the optional If-Match version, then answer
    with `respond(session, resource, caller)`.

    The answer is worked out once the action has committed, so the rows the action locked (the permit; on SQLite
    the database) are not held while the caller's next actions are judged (issue 14); it reads what the action
    wrote, since the session keeps its objects on commit, and on PostgreSQL outside a transaction (see
    reading_session).
    """
    principal = current_principal()
    with transaction() as session:
        resource = use_case(session, principal=principal, expected_version=if_match_version(), **kwargs)
    reading_session()  # the answer only reads: on PostgreSQL no BEGIN and COMMIT around it
    try:
        return respond(session, resource, principal)
    finally:
        if not g.get("tx_depth") and session.in_transaction():
            session.commit()  # what the answer read ends here, not at teardown (on SQLite: the write lock)


def answer_not_modified(response: Response) -> Response:
    """304 to a read whose If-None-Match names the answer's ETag (the client's copy is current)."""
    etag, _weak = response.get_etag()
    current = request.method in ("GET", "HEAD") and response.status_code == 200 and etag
    if current and request.if_none_match.contains_weak(etag):
        return Response(status=304, headers={"ETag": response.headers["ETag"]})
    return response


def with_etag(response: Response, version: int) -> Response:
    """Attach the ETag of `version` to a response."""
    response.headers["ETag"] = etag_of(version)
    return response


# --- Idempotency-Key ---------------------------------------------------------------------------


def _request_fingerprint() -> str:
    body = request.get_data(cache=True) or b""
    try:
        canonical = json.dumps(
            safe_json.request_body(request), sort_keys=True, separators=(",", ":")
        ).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + canonical
    ).hexdigest()


def _claim(session: Session, principal: str, key: str, fingerprint: str) -> uuid.UUID | None:
    """Claim (caller, key) for this request with a row its answer fills in later: its id, or None if the key has
    an answer already. The key's unique index makes a request claiming a key that another, still running, has
    claimed wait for that one's transaction: the second of two concurrent requests with one key sees the first's
    answer, or claims the key if the first rolled back."""
    return session.execute(
        _CLAIM[is_postgres(session)],
        {
            "id": uuid.uuid4(),
            "principal": principal,
            "key": key,
            "method": request.method,
            "path": request.path,
            "request_hash": fingerprint,
            "created_at": clock.now(),
        },
    ).scalar()


def _claim_statement(postgres: bool) -> sa.Insert:
    insert = pg_insert if postgres else sqlite_insert
    table = IdempotencyRecord.__table__
    # No answer yet: status 0 and an empty body, filled in before the claim commits (nobody else sees them).
    return (
        insert(table)
        .values(status_code=0, response_body="", response_headers={})
        .on_conflict_do_nothing(index_elements=[table.c.principal, table.c.key])
        .returning(table.c.id)
    )


_CLAIM = {postgres: _claim_statement(postgres) for postgres in (False, True)}


def _record(session: Session, principal: str, key: str) -> IdempotencyRecord | None:
    return session.scalar(
        sa.select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
        )
    )


def _expired(record: IdempotencyRecord, ttl: timedelta) -> bool:
    # A retry after the stored answer's time to live is a new request.
    return record.created_at <= clock.now() - ttl


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    """The stored answer again, or 422 when the key came with another body."""
    if record.request_hash != fingerprint:
        raise ValidationProblem(
            {"Idempotency-Key": ["该键已用于另一请求体 / this key was used with another request body"]},
            "Idempotency-Key 已用于不同的请求",
            "The Idempotency-Key was already used for a different request",
        )
    replay = Response(record.response_body, status=record.status_code, headers=record.response_headers)
    replay.headers["Idempotent-Replayed"] = "true"
    return replay


class _Answered(Exception):
    """A request with the same key stored its answer before this one's writes began: that answer wins."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


def idempotent(view: F) -> F:
    """Make a creating POST answer the same to a retried `Idempotency-Key` (422 if the body differs).

    Keys belong to the authenticated caller: one caller's key never replays another caller's answer. The view's
    write transaction begins by claiming the key (a row its answer fills in before the commit, _claim) and lasts
    until the answer is stored (db.lasting_transaction), so what the view reads and checks before its writes holds
    no lock (issue 14). A retry of an answered request finds the answer when it claims the key (SQLite: before the
    view, without the write lock), or, refused by its checks before its writes, by claiming the key then: a retry
    racing its original waits for the original's transaction and gets its answer.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key")
        if not key:
            return view(*args, **kwargs)
        if len(key) > 200 or not key.isprintable():
            raise ValidationProblem(
                {"Idempotency-Key": ["最长 200 个可打印字符 / at most 200 printable characters"]}
            )
        principal = current_principal().id
        fingerprint = _request_fingerprint()
        ttl = timedelta(hours=current_app.config.get("IDEMPOTENCY_TTL_HOURS", 24))
        if not is_postgres(session := reading_session()):
            # Claiming the key needs SQLite's database-wide write lock: an answered request's retry looks first.
            record = _record(session, principal, key)
            if record is not None and not _expired(record, ttl):
                return _replay(record, fingerprint)
        claimed: uuid.UUID | None = None

        def answered_before(session: Session) -> IdempotencyRecord | None:
            """Claim the key (noting its row in `claimed`) or answer the record that holds it; an expired answer
            makes way for this request (a retry after it is a new request)."""
            nonlocal claimed
            claimed = _claim(session, principal, key, fingerprint)
            if claimed is not None:
                return None
            record = _record(session, principal, key)
            if record is not None and not _expired(record, ttl):
                return record
            if record is not None:
                session.delete(record)
                session.flush()
            claimed = _claim(session, principal, key, fingerprint)
            # None: claimed again meanwhile (after a purge), and answered: that request's answer
            return None if claimed is not None else _record(session, principal, key)

        def opening(session: Session) -> None:
            record = answered_before(session)
            if record is not None:
                raise _Answered(_replay(record, fingerprint))

        try:
            with lasting_transaction(opening):
                response = current_app.make_response(view(*args, **kwargs))
                with transaction() as session:
                    if response.status_code < 500:
                        session.execute(_STORE, {"claim": claimed, **_stored(response)})
                    else:  # not remembered: a retry is a new request
                        session.execute(_FORGET, {"claim": claimed})
        except _Answered as answered:
            return answered.response
        except (Problem, RuleViolation, HTTPException):
            if claimed is not None:
                raise
            # Refused before its writes began, maybe while the request it retries was running: the claim waits
            # for that request's transaction, whose stored answer wins; a claim of our own is rolled back.
            with transaction() as session:
                record = answered_before(session)
                if record is None:
                    raise
            return _replay(record, fingerprint)
        return response

    wrapper.idempotent = True  # type: ignore[attr-defined]  # the OpenAPI document declares the header from it
    return wrapper  # type: ignore[return-value]


# What a replay answers besides the body: a minimal answer's Preference-Applied and Vary with it (RFC 7240).
_REPLAYED_HEADERS = ("Content-Type", "ETag", "Location", "Preference-Applied", "Vary")
# The answer fills in the key's claim by one Core statement: nothing reads it back in its transaction (issue 14).
_RECORDS = IdempotencyRecord.__table__
_STORE = _RECORDS.update().where(_RECORDS.c.id == sa.bindparam("claim"))
_FORGET = _RECORDS.delete().where(_RECORDS.c.id == sa.bindparam("claim"))


def _stored(response: Response) -> dict[str, Any]:
    return {
        "status_code": response.status_code,
        "response_body": response.get_data(as_text=True),
        "response_headers": {k: v for k, v in response.headers.items() if k in _REPLAYED_HEADERS},
    }


def purge_expired_idempotency_records(session: Session, now: datetime, ttl: timedelta) -> int:
    """Delete stored answers older than `ttl` (a retry after that is a new request); returns how many."""
    result = session.execute(sa.delete(IdempotencyRecord).where(IdempotencyRecord.created_at <= now - ttl))
    return result.rowcount or 0


# --- Cursor pagination -------------------------------------------------------------------------


def _encode_cursor(created_at: datetime, ident: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(ident)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Cursor(fields.String):
    """The opaque cursor of the next page, loaded as the (created_at, id) the page continues after."""

    default_error_messages = {"cursor": "无效的游标 / invalid cursor"}  # noqa: RUF012

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[datetime, uuid.UUID]:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            if len(text) > 500:
                raise ValueError("too long")
            padded = text + "=" * (-len(text) % 4)
            created, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
            at, key = datetime.fromisoformat(created), uuid.UUID(ident)
        except (ValueError, TypeError, binascii.Error) as exc:
            raise self.make_error("cursor") from exc
        if at.tzinfo is None:
            raise self.make_error("cursor")
        return at, key


def _within_page_size_max(limit: int) -> None:
    largest = current_app.config["PAGE_SIZE_MAX"]
    if limit > largest:
        raise ValidationError(f"最大 {largest} / at most {largest}")


class PageArgs(StrictSchema):
    """Query arguments of every list: page size and the opaque cursor from the previous page."""

    limit = fields.Integer(
        load_default=None,
        validate=[validate.Range(min=1), _within_page_size_max],
        metadata={"description": "page size, at most PAGE_SIZE_MAX (default 200)"},
    )
    cursor = Cursor(load_default=None, metadata={"description": "next_cursor of the previous page"})


class PageSchema(StrictSchema):
    """The envelope of a list: items and the cursor of the next page (null on the last page)."""

    next_cursor = fields.String(allow_none=True)


def paginate(
    session: Session, stmt: sa.Select, created_col: Any, id_col: Any, args: dict[str, Any]
) -> tuple[Sequence[Any], str | None]:
    """Newest first, keyed on (created_at, id); returns one page and the next cursor (`args` from PageArgs).

    A statement of one entity pages its objects; one of columns pages its rows as mappings, which a schema dumps
    by key (the columns must include `created_col` and `id_col`)."""
    limit = args.get("limit") or current_app.config["PAGE_SIZE_DEFAULT"]
    if args.get("cursor"):
        created, ident = args["cursor"]
        stmt = stmt.where(
            sa.tuple_(created_col, id_col)
            < sa.tuple_(sa.literal(created, UTCDateTime()), sa.literal(ident, sa.Uuid()))
        )
    result = session.execute(stmt.order_by(created_col.desc(), id_col.desc()).limit(limit + 1))
    if len(stmt.column_descriptions) == 1:
        rows: Sequence[Any] = result.scalars().unique().all()
        key = operator.attrgetter(created_col.key, id_col.key)
    else:
        rows = result.mappings().all()
        key = operator.itemgetter(created_col.key, id_col.key)
    page = rows[:limit]
    next_cursor = _encode_cursor(*key(page[-1])) if len(rows) > limit else None
    return page, next_cursor
