"""Finished permits read in one statement: their answer rendered once, when they finish (issue 14).

A closed, cancelled, rejected, expired or voided permit never changes again, and no step leaves its state, so
its answer is the same for every reader but for two parts: the linked permits' states (they live on) and the
calendar notice (a regulator may confirm a year later). The rest is rendered into `permit_documents` in the
transaction that finishes the permit, or, for an action over HTTP, once it has committed (`later`: rendering does
not hold the permit's lock), and a read of a finished permit is one statement: the permit's scope, state and
version with its document.

A document is served only while it is current: its version is the permit's own (the ORM bumps it with every
change of the row, and the ETag promises as much) and its format is this service's (the answer's shape and the
display timezone). Anything else, a live permit among them and a finished one whose document is not written yet,
is read the long way, so a stale document is never shown; `permit-service documents rebuild` renders the finished
permits a live database already holds.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, fields
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, SessionTransaction

from permit_service.api.conventions import WithExtras
from permit_service.api.dumping import compiled
from permit_service.api.fields import display_tz
from permit_service.auth.principal import Principal, enterprise_scope, own_enterprise
from permit_service.calendar import calendar_at
from permit_service.db import is_postgres, transaction
from permit_service.directory.models import Enterprise
from permit_service.measures.lines import lines as measure_lines
from permit_service.permits import children
from permit_service.permits import schemas as s
from permit_service.permits.context import GENERATION
from permit_service.permits.crew import crew_of
from permit_service.permits.models import Permit, PermitDocument, PermitLink
from workflows.states import TERMINAL

# The parts of PermitOut that are not the permit's own: the caller's next actions and the day's calendar notice.
PER_READ = ("allowed_actions", "blocked_actions", "calendar_notice")
# Bump when the rendering changes without the answer's shape changing (the shape is in the format already).
RENDERING = 1
_TERMINAL = frozenset(str(state) for state in TERMINAL)
_DUE = "permit_documents_due"
_LATER = "permit_documents_later"  # set: the session's commits leave the documents due to `later`'s caller
_COMMITTED = "permit_documents_committed"  # those, once committed
log = logging.getLogger(__name__)


_document = s.PermitOut(exclude=PER_READ)
_per_read = s.PermitOut(only=PER_READ)
# PermitOut compiled (api.dumping) for an answer and for a document: everything but the gas tests (see permit_json).
_answer_dump = compiled(s.PermitOut(exclude=("gas_tests",)))
_document_dump = compiled(s.PermitOut(exclude=(*PER_READ, "gas_tests")))
_FIELDS = list(s.PermitOut().dump_fields)
_BEFORE_GAS_TESTS = frozenset(_FIELDS[: _FIELDS.index("gas_tests")])


def _shape(schema: Schema) -> list[Any]:
    """The answer's fields, nested ones included: a new, removed or retyped field is a new format."""
    shape: list[Any] = []
    for name, field in sorted(schema.fields.items()):
        inner = field.inner if isinstance(field, fields.List) else field
        nested = inner.schema if isinstance(inner, fields.Nested) else None
        shape.append([name, type(field).__name__, type(inner).__name__, _shape(nested) if nested else None])
    return shape


def current_format() -> str:
    """The format documents are rendered in now: the answer's shape, the display timezone and RENDERING."""
    return _format_in(str(display_tz()))


@functools.cache
def _format_in(timezone: str) -> str:
    key = json.dumps([RENDERING, timezone, _shape(_document)])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def permit_json(permit: Permit, per_read: Mapping[str, Any] | None = None) -> str:
    """PermitOut of the permit as JSON: its answer with `per_read` (the caller's next actions and the day's notice),
    its document without.

    The gas tests, which a permit at work gathers all its life, are not dumped with the rest: each is rendered from
    its row with its readings as stored (permits.children.gas_test_json), in the place PermitOut gives them.
    """
    kids = children.of(permit)
    extras = {
        "measures": measure_lines(permit.type, permit.measure_list_version, permit.measures),  # G-02: worded
        "signatures": kids.signatures,
        "crew": crew_of(permit),
        **(per_read or {}),
    }
    dumped = (_document_dump if per_read is None else _answer_dump)(WithExtras(permit, **extras))
    gas_tests = children.gas_tests_json(kids.gas_tests, display_tz())
    before = {k: v for k, v in dumped.items() if k in _BEFORE_GAS_TESTS}
    after = {k: v for k, v in dumped.items() if k not in _BEFORE_GAS_TESTS}
    parts = [_compact(before)[:-1], f',"gas_tests":{gas_tests}']
    parts.append("," + _compact(after)[1:] if after else "}")
    return "".join(parts)


def _compact(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def render(permit: Permit) -> str:
    """The permit's document: its answer without the per-read parts, as JSON."""
    return permit_json(permit)


def save(session: Session, permits: Iterable[Permit]) -> int:
    """Render and store the documents of the finished ones of `permits` (replacing older ones); how many."""
    return _store(session, _rows(permits))


def _rows(permits: Iterable[Permit]) -> list[dict[str, Any]]:
    return [
        {"permit_id": p.id, "version": p.version, "format": current_format(), "body": render(p)}
        for p in permits
        if p.state in _TERMINAL
    ]


def _store(session: Session, rows: list[dict[str, Any]]) -> int:
    if rows:
        insert = pg_insert if is_postgres(session) else sqlite_insert
        stmt = insert(PermitDocument)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[PermitDocument.permit_id],
                set_={name: stmt.excluded[name] for name in ("version", "format", "body")},
            ),
            rows,
        )
    return len(rows)


@contextmanager
def later(session: Session) -> Iterator[Callable[[], None]]:
    """Within the block, the permits the session's transactions finish get their documents when the returned
    function is called after the commit: rendered holding no lock, then stored in a transaction of their own
    (issue 14). Until then, and if storing fails, their reads take the long way (a document is current or unused)."""
    session.info[_LATER] = True
    try:
        yield lambda: _save_committed(session)
    finally:
        session.info.pop(_LATER, None)
        session.info.pop(_COMMITTED, None)


def _save_committed(session: Session) -> None:
    due = session.info.pop(_COMMITTED, None)
    if not due:
        return
    rows = _rows(due.values())
    try:
        with transaction() as writing:
            _store(writing, rows)
    except sa.exc.DBAPIError:
        # The action has committed and is answered; its permit's reads take the long way until a rebuild.
        log.warning("documents of finished permits not stored", exc_info=True)


@sa_event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    note_finished(session, *(obj for obj in (*session.new, *session.dirty) if isinstance(obj, Permit)))


def note_finished(session: Session, *permits: Permit) -> None:
    """Render the document of each of `permits` that is finished, at commit (or for `later`'s caller after it):
    called for the permits each flush writes, and by a caller who wrote a permit without the unit of work."""
    due = [permit for permit in permits if permit.state in _TERMINAL]
    if due:
        session.info.setdefault(_DUE, {}).update((permit.id, permit) for permit in due)


@sa_event.listens_for(Session, "before_commit")
def _render_finished(session: Session) -> None:
    if not session.info.get(_DUE) or session.info.get(_LATER):
        return
    session.flush()  # the permits' final versions
    save(session, session.info.pop(_DUE).values())


@sa_event.listens_for(Session, "after_commit")
def _keep_for_later(session: Session) -> None:
    if session.info.get(_LATER) and _DUE in session.info:
        session.info.setdefault(_COMMITTED, {}).update(session.info.pop(_DUE))


@sa_event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # ended without commit: nothing of it is kept
        session.info.pop(_DUE, None)


# A finished permit's read with its document, but for the caller's scope; `links`: whether it has linked permits.
_FINISHED = (
    sa.select(
        PermitDocument.body,
        Permit.version,
        Permit.valid_from,
        Permit.valid_until,
        Enterprise.region_id,
        GENERATION.label("context_generation"),
        sa.exists().where(PermitLink.permit_id == PermitDocument.permit_id).label("links"),
    )
    .join(Permit, Permit.id == PermitDocument.permit_id)
    .join(Enterprise, Enterprise.id == Permit.enterprise_id)
    .where(
        PermitDocument.permit_id == sa.bindparam("permit_id"),
        PermitDocument.version == Permit.version,
        PermitDocument.format == sa.bindparam("format"),
        # a bound parameter each: an expanding IN list would be rendered into the statement again at every read
        Permit.state.in_([sa.bindparam(f"terminal_{i}", state) for i, state in enumerate(sorted(_TERMINAL))]),
    )
)


@functools.lru_cache(maxsize=64)
def _finished_in(enterprise_id: uuid.UUID) -> sa.Select[Any]:
    # Built once per enterprise (issue 14): building the statement and its cache key was a tenth of a read's CPU.
    return _FINISHED.where(Permit.enterprise_id == enterprise_id)


def _finished_for(session: Session, principal: Principal) -> sa.Select[Any]:
    enterprise_id = own_enterprise(principal)
    if enterprise_id is not None:
        return _finished_in(enterprise_id)
    return _FINISHED.where(enterprise_scope(session, principal, Permit.enterprise_id))


def read_finished(session: Session, principal: Principal, permit_id: uuid.UUID) -> tuple[str, int] | None:
    """The answer to GET of a finished permit the caller may see, as JSON, and its version, from its current
    document; None otherwise."""
    # On the session's connection: the columns need none of the ORM's result handling (a twentieth of a read's CPU)
    row = (
        session.connection()
        .execute(_finished_for(session, principal), {"permit_id": permit_id, "format": current_format()})
        .one_or_none()
    )
    if row is None:
        return None
    body = row.body
    if row.links:  # G-03: the linked permits live on after this one finished
        body = _links_now(session, permit_id, body)
    calendar = calendar_at(session, row.region_id, row.context_generation)
    notice = calendar.window_notice(row.valid_from, row.valid_until)
    # The document is served as stored, the per-read parts written after its last member (issue 14: decoding and
    # encoding it again was a tenth of a read's CPU).
    return f"{body.rstrip()[:-1]},{_per_read_json(notice)}}}", row.version


def _links_now(session: Session, permit_id: uuid.UUID, body: str) -> str:
    answer = json.loads(body)
    if not answer["links"]:
        return body
    states = dict(
        session.execute(
            sa.select(Permit.id, Permit.state)
            .join(PermitLink, PermitLink.linked_id == Permit.id)
            .where(PermitLink.permit_id == permit_id)
        ).all()
    )
    for link in answer["links"]:
        link["state"] = states.get(uuid.UUID(link["id"]), link["state"])
    return _compact(answer)


def _per_read_members(notice: Any) -> str:
    """A finished permit's per-read parts, as JSON members: no next actions, none blocked, the calendar notice."""
    return _compact(
        _per_read.dump({"allowed_actions": [], "blocked_actions": [], "calendar_notice": notice})
    )[1:-1]


_NO_NOTICE = _per_read_members(None)  # most days' answer, dumped once


def _per_read_json(notice: Any) -> str:
    return _NO_NOTICE if notice is None else _per_read_members(notice)


def rebuild(session: Session, *, batch: int = 500) -> int:
    """Render every finished permit whose document is missing or not current; how many were rendered."""
    from permit_service.permits.service import load_options

    done = 0
    current = sa.and_(
        PermitDocument.permit_id == Permit.id,
        PermitDocument.version == Permit.version,
        PermitDocument.format == current_format(),
    )
    while True:
        ids = session.scalars(
            sa.select(Permit.id).where(Permit.state.in_(_TERMINAL), ~sa.exists().where(current)).limit(batch)
        ).all()
        if not ids:
            return done
        permits = session.scalars(sa.select(Permit).where(Permit.id.in_(ids)).options(*load_options()))
        done += save(session, permits.unique().all())
        session.commit()
        session.expunge_all()
