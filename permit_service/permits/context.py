"""Context providers: other areas (freezes, high-risk jobs, presence) add what they know about a permit."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from permit_service.permits.models import ContextGeneration, Permit

# A provider returns extra PermitData / Context fields for one permit, e.g. {"freezes": (...)}.
ContextProvider = Callable[[Session, Permit], dict[str, Any]]
_providers: list[ContextProvider] = []
_by_state: set[ContextProvider] = set()
# The fields a deferred provider answers: it is asked only when a guard first reads one of them.
_deferred: dict[ContextProvider, tuple[str, ...]] = {}
# Which provider answers each field (a deferred one's, as registered; another's, as it answered).
_provider_of: dict[str, ContextProvider] = {}
# A request's session memoises each provider's answer for a permit under this key (see provided_fields).
MEMO = "provided_fields"


# Values other areas read in the permit's own statement rather than one of their own (issue 14): scalar
# expressions correlated to the permit row, selected by every get_permit and kept with the permit object.
_WITH_PERMIT: dict[str, sa.ColumnElement[Any]] = {}
# Those whose writers change them holding the permit's row lock (a grading locks the open permits it judges): a
# statement that locks the permit reads other rows as of its start, possibly before the lock was free, so a locking
# read leaves these out and their area reads them after the lock (read_with has no such name).
_GUARDED: set[str] = set()
_READ = "_read_with_permit"  # the permit object's own attribute (not a column)


def read_with_permit(name: str, expression: sa.ColumnElement[Any], *, guarded: bool = False) -> None:
    """Select `expression`, a scalar subquery correlated to `permits`, with each permit get_permit loads, as `name`
    (see read_with); `guarded`: its writers hold the permit's row lock, so a locking read leaves it out. At import
    time of the area that reads it."""
    _WITH_PERMIT[name] = expression
    if guarded:
        _GUARDED.add(name)


def with_permit_columns(*, locking: bool = False) -> list[sa.ColumnElement[Any]]:
    """The expressions to select beside a permit, labelled (`locking`: in a statement that locks it)."""
    return [e.label(name) for name, e in _WITH_PERMIT.items() if not (locking and name in _GUARDED)]


def guarded_values(permit_id: sa.BindParameter[Any]) -> sa.Select:
    """The guarded expressions, labelled, of the permit whose id is `permit_id`: what a locking read leaves out, to
    read after the lock."""
    guarded = [e.label(name) for name, e in _WITH_PERMIT.items() if name in _GUARDED]
    return sa.select(*guarded).where(Permit.__table__.c.id == permit_id)


def guarded_names() -> frozenset[str]:
    """The names of the guarded values (see read_with_permit)."""
    return frozenset(_GUARDED)


class _ReadWith(dict[str, Any]):
    """What was read with a permit; the names looked up while `reads()` records are recorded too."""

    def __getitem__(self, name: str) -> Any:
        _note(name)
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        _note(name)
        return super().get(name, default)


def note_read_with(permit: Permit, values: Any, *, locking: bool = False) -> None:
    """Keep with the permit what its statement read of with_permit_columns(locking=...), in their order."""
    names = [name for name in _WITH_PERMIT if not (locking and name in _GUARDED)]
    permit.__dict__[_READ] = _ReadWith(zip(names, values, strict=True))


def keep_read_with(permit: Permit, values: dict[str, Any]) -> None:
    """Keep `values`, by name, as what was read with the permit (read again holding its lock)."""
    permit.__dict__[_READ] = _ReadWith(values)


def read_with(permit: Permit) -> dict[str, Any] | None:
    """What was read with the permit, by name (None: it was not read through get_permit; ask the database, as for
    a name it lacks)."""
    return permit.__dict__.get(_READ)


@event.listens_for(Permit, "refresh")
@event.listens_for(Permit, "expire")
def _forget(permit: Permit, *_args: Any) -> None:
    permit.__dict__.pop(_READ, None)


# The context generation (0027): a process's copies of the freezes and calendars read at the generation a permit
# was read with are current for it (freezes.service.freeze_context, calendar.calendar_at). No row reads as 0.
GENERATION = sa.func.coalesce(
    sa.select(ContextGeneration.generation).where(ContextGeneration.id == 1).scalar_subquery(), 0
)
read_with_permit("context_generation", GENERATION)


def note_generation(permit: Permit, generation: int) -> None:
    """Keep with a permit not read through get_permit (a new draft) the context generation read beside it: its
    context then comes from the process's copies at it, as a read permit's does."""
    permit.__dict__.setdefault(_READ, _ReadWith())["context_generation"] = generation


def generation_of(permit: Permit) -> int | None:
    """The context generation read with the permit (None: not read with it, so read its context afresh)."""
    return (read_with(permit) or {}).get("context_generation")


# A read of one permit's rows made holding its lock: its one-row statement and parameters (None: nothing to read now,
# e.g. read already), and what keeps the row's values (in the select's column order) where the core's data reads them.
LockedStatement = Callable[[Session, Permit], tuple[sa.Select, dict[str, Any]] | None]
LockedKeep = Callable[[Session, Permit, Sequence[Any]], None]


class LockedRead(NamedTuple):
    """A read an area makes of a permit holding its lock, which read_holding_lock sends with the others."""

    fields: frozenset[str]  # the fields of the core's data it answers
    statement: LockedStatement
    keep: LockedKeep


_locked_reads: list[LockedRead] = []


def register_locked_read(fields: Iterable[str], statement: LockedStatement, keep: LockedKeep) -> None:
    """Offer a read of a permit's rows for read_holding_lock, at import time of the area that makes it. Its
    parameters join the others' in one statement: a name means one value in all of them (`permit_id`: the permit's)."""
    _locked_reads.append(LockedRead(frozenset(fields), statement, keep))


def register_provider(
    provider: ContextProvider | None = None,
    *,
    by_state: bool = False,
    deferred: tuple[str, ...] = (),
    locked: tuple[LockedStatement, Callable[[Permit, Sequence[Any]], dict[str, Any]]] | None = None,
) -> Any:
    """Register a provider (idempotent); usable as a decorator at import time of a service module.

    `by_state`: its answer depends on the permit's state, so an action's answer asks it again.
    `deferred`: the fields it always answers; it is asked (its statement sent) only when the core first reads
    one of them, so an action none of whose guards reads them costs nothing (issue 14).
    `locked`: its statement and its answer from that statement's row, for read_holding_lock (a deferred provider).
    """

    def register(fn: ContextProvider) -> ContextProvider:
        if fn not in _providers:
            _providers.append(fn)
            if locked is not None:
                statement, answer = locked

                def keep(session: Session, permit: Permit, row: Sequence[Any]) -> None:
                    session.info[MEMO].setdefault(_key(fn, permit), answer(permit, row))

                def memoised(session: Session, permit: Permit) -> tuple[sa.Select, dict[str, Any]] | None:
                    memo = session.info.get(MEMO)
                    return None if memo is None or _key(fn, permit) in memo else statement(session, permit)

                register_locked_read(deferred, memoised, keep)
        if by_state:
            _by_state.add(fn)
        if deferred:
            _deferred[fn] = deferred
            _provider_of.update(dict.fromkeys(deferred, fn))
        return fn

    return register(provider) if provider is not None else register


def read_holding_lock(session: Session, permit: Permit, fields: Iterable[str]) -> None:
    """Read, holding the permit's lock, what the registered locked reads answer of `fields` (the core's fields an
    action's guards are expected to read) in one statement, where more than one has something to read: each would
    otherwise send its own as a guard first reads its fields (issue 14). PostgreSQL."""
    wanted = frozenset(fields)
    chosen = [
        (read, asked)
        for read in _locked_reads
        if read.fields & wanted and (asked := read.statement(session, permit)) is not None
    ]
    if len(chosen) < 2:
        return
    parameters = {name: value for _, (_, given) in chosen for name, value in given.items()}
    row = session.execute(_together(tuple(select for _, (select, _) in chosen)), parameters).one()
    start = 0
    for read, (select, _) in chosen:
        width = len(select.selected_columns)
        read.keep(session, permit, row[start : start + width])
        start += width


@functools.cache
def _together(selects: tuple[sa.Select, ...]) -> sa.Select:
    """One statement of one-row selects side by side, their columns in their order. Built once per combination."""
    parts = [select.subquery(f"locked_{i}") for i, select in enumerate(selects)]
    joined: sa.FromClause = parts[0]
    for part in parts[1:]:
        joined = joined.join(part, sa.true())
    return sa.select(*(column for part in parts for column in part.c)).select_from(joined)


def _key(provider: ContextProvider, permit: Permit) -> tuple[Any, ...]:
    # What providers read of the permit itself; the state only for those that declared it.
    return (
        provider, permit.id, permit.enterprise_id, permit.area_id, permit.type, permit.valid_from,
        permit.valid_until, permit.high_risk_kind, permit.contractor,
        permit.state if provider in _by_state else None,
    )  # fmt: skip


def provided_fields(session: Session, permit: Permit) -> dict[str, Any]:
    """Merge what every registered provider says about `permit`.

    In a request's transaction each provider is asked once per permit: an action and its answer's
    allowed_actions share the answers (issue 14), except those that depend on the state the action changed.
    """
    memo: dict[tuple[Any, ...], dict[str, Any]] | None = session.info.get(MEMO)
    merged: dict[str, Any] = {}
    for provider in _providers:
        answer = _answer_of(session, permit, provider, memo)
        if provider in _deferred:
            merged.update({name: Deferred(_field(answer, name)) for name in _deferred[provider]})
        else:
            answered = answer()
            _provider_of.update(dict.fromkeys(answered, provider))
            merged.update(answered)
    return merged


def provided_again(session: Session, permit: Permit, names: Iterable[str]) -> dict[str, Any]:
    """The provided fields `names` of the permit, asked again of the providers that answer them (once each in a
    transaction, see provided_fields)."""
    memo: dict[tuple[Any, ...], dict[str, Any]] | None = session.info.get(MEMO)
    wanted = list(names)
    answers: dict[str, Any] = {}
    for provider in {_provider_of[name] for name in wanted}:
        answers.update(_answer_of(session, permit, provider, memo)())
    return {name: answers[name] for name in wanted}


def _answer_of(
    session: Session,
    permit: Permit,
    provider: ContextProvider,
    memo: dict[tuple[Any, ...], dict[str, Any]] | None,
) -> Callable[[], dict[str, Any]]:
    """The provider's answer for the permit, asked on the call (once per transaction where memoised)."""
    # The key is taken now: what the provider reads of the permit as the action found it.
    key = _key(provider, permit)
    local: dict[tuple[Any, ...], dict[str, Any]] = {} if memo is None else memo

    def answer() -> dict[str, Any]:
        if key not in local:
            local[key] = provider(session, permit)
        return local[key]

    return answer


def _field(answer: Callable[[], dict[str, Any]], name: str) -> Callable[[], Any]:
    return lambda: answer()[name]


class Deferred:
    """A field of the core's data read on first use (see `Resolving`): a deferred provider's, a permit's children."""

    __slots__ = ("get",)

    def __init__(self, get: Callable[[], Any]) -> None:
        self.get = get


# The names the core reads of the PermitData and Context being judged, while `reads()` records them.
_reading: ContextVar[set[str] | None] = ContextVar("reading", default=None)


def _note(name: str) -> None:
    read = _reading.get()
    if read is not None:
        read.add(name)


class Resolving:
    """Mixed into the core's PermitData and Context by the shell: a Deferred field reads as its value."""

    def __getattribute__(self, name: str) -> Any:
        _note(name)
        value = object.__getattribute__(self, name)
        return value.get() if type(value) is Deferred else value


@contextmanager
def reads() -> Iterator[set[str]]:
    """Within the block, the names of the fields read of the shell's PermitData and Context (a copy made with
    dataclasses.replace reads every field of the original) and of what was read with a permit (read_with)."""
    read: set[str] = set()
    token = _reading.set(read)
    try:
        yield read
    finally:
        _reading.reset(token)


T = TypeVar("T")


class LazySequence(Sequence[T]):
    """A sequence loaded on first use: context a guard reads only in some states costs nothing in the others."""

    def __init__(self, load: Callable[[], tuple[T, ...]]) -> None:
        self._load = load
        self._loaded: tuple[T, ...] | None = None

    def _items(self) -> tuple[T, ...]:
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def __getitem__(self, index: Any) -> Any:
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[T]:
        return iter(self._items())
