"""The process's cache of what the database says of a token: whether it is revoked, and its caller.

A token's verdict is read from the database once and then served from memory for `AUTH_CACHE_SECONDS`, so most
requests send no statement for their caller (issue 14). Within the process a change takes effect at once: the
commit of any session that wrote a person, an integration client or a revocation drops what it touched. Other
processes (workers, instances) hear nothing of it: there the bound is what holds.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from permit_service.auth.models import IntegrationClient, RevokedToken
from permit_service.auth.principal import Principal
from permit_service.directory.models import Person

# Tokens remembered per process; the least recently used goes first (a worker sees far fewer in a few seconds).
DEFAULT_SIZE = 4096


@dataclass(frozen=True)
class Verdict:
    """A token as the database saw it: its caller (None: no such person or client), whether that caller is
    active, whether the token is revoked; `owner` and `username` name what a change must drop it for."""

    caller: Principal | None
    active: bool
    revoked: bool
    owner: str | None  # the person's or client's id
    username: str | None = None  # an external token's subject: whoever takes or leaves that username


@dataclass
class Changes:
    """What a committed transaction wrote that verdicts depend on."""

    tokens: set[str] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)
    usernames: set[str] = field(default_factory=set)
    everything: bool = False


class AuthCache:
    """Token verdicts kept for `seconds` (0: none kept), at most `size` of them; safe across threads."""

    def __init__(self, seconds: float, size: int = DEFAULT_SIZE, timer: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.size = size
        self.timer = timer  # monotonic; tests inject their own
        self.epoch = 0  # raised by every drop: a verdict read before it may be stale and is not kept
        self._entries: OrderedDict[str, tuple[float, Verdict]] = OrderedDict()
        self._lock = threading.Lock()
        _LIVE.add(self)

    def get(self, key: str) -> Verdict | None:
        """The verdict on token `key` if it is still fresh."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self.timer():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, verdict: Verdict, epoch: int) -> None:
        """Keep `verdict`, read when the cache's epoch was `epoch` (dropped if anything was dropped since)."""
        if self.seconds <= 0:
            return
        with self._lock:
            if epoch != self.epoch:
                return
            now = self.timer()
            self._entries[key] = (now + self.seconds, verdict)
            self._entries.move_to_end(key)
            # The least recently used go first: beyond `size`, and once expired (issue 14: a worker that saw
            # thousands of tokens would otherwise keep their verdicts until as many others pushed them out).
            while len(self._entries) > self.size or next(iter(self._entries.values()))[0] <= now:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def drop(self, changes: Changes) -> None:
        """Forget every verdict a committed change may have made wrong."""
        with self._lock:
            self.epoch += 1
            if changes.everything:
                self._entries.clear()
                return
            for key in changes.tokens:
                self._entries.pop(key, None)
            if changes.owners or changes.usernames:
                stale = [
                    key
                    for key, (_, v) in self._entries.items()
                    if v.owner in changes.owners or v.username in changes.usernames
                ]
                for key in stale:
                    del self._entries[key]


_LIVE: weakref.WeakSet[AuthCache] = weakref.WeakSet()
_CHANGES = "auth_cache_changes"
_TABLES = {Person.__tablename__, IntegrationClient.__tablename__}


def _changes(session: Session) -> Changes:
    return session.info.setdefault(_CHANGES, Changes())


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    objects: Iterable[Any] = chain(session.new, session.dirty, session.deleted)
    for obj in objects:
        if not isinstance(obj, Person | IntegrationClient | RevokedToken):
            continue
        state = sa.inspect(obj)
        changes = _changes(session)
        if isinstance(obj, RevokedToken):
            changes.tokens.add(obj.jti)
            continue
        if state.identity:
            changes.owners.add(str(state.identity[0]))
        username = state.dict.get("username")  # only set when given or changed; never loaded from here
        if username:
            changes.usernames.add(username)


@event.listens_for(Session, "do_orm_execute")
def _statement(orm_state: ORMExecuteState) -> None:
    # INSERT / UPDATE / DELETE sent as statements, not flushed objects.
    if not (orm_state.is_insert or orm_state.is_update or orm_state.is_delete):
        return
    table = getattr(getattr(orm_state.statement, "table", None), "name", None)
    if table == RevokedToken.__tablename__:
        if orm_state.is_delete:
            return  # purging revocations of expired tokens: those are refused as expired
        params = orm_state.parameters
        rows = params if isinstance(params, list) else [params or {}]
        jtis = [row.get("jti") for row in rows]
        if orm_state.is_insert and all(isinstance(jti, str) for jti in jtis):
            _changes(orm_state.session).tokens.update(jtis)
        else:
            _changes(orm_state.session).everything = True
    elif table in _TABLES:
        _changes(orm_state.session).everything = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    changes = session.info.pop(_CHANGES, None)
    if changes is not None:
        for cache in list(_LIVE):
            cache.drop(changes)
