"""Database plumbing: declarative base, engine, request session and the one-transaction-per-request rule."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import logging
import os
import select
import sqlite3
import stat
import struct
import time
import uuid
import weakref
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, Generic, TypeVar, overload

import psycopg
import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context
from psycopg import _queries as queries
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.util import LRUCache

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

log = logging.getLogger(__name__)


class UTCDateTime(sa.types.TypeDecorator):
    """An aware datetime stored in UTC; SQLite, which forgets the offset, gets it back as UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are never stored; attach a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention so that migrations name constraints predictably."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class UUIDPk:
    """A random UUID primary key: object ids reveal nothing about volume or order."""

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


def unique_violated(exc: IntegrityError, table: sa.Table, *columns: str) -> bool:
    """Whether `exc` is a breach of `table`'s unique constraint on `columns`, not any other integrity error.

    PostgreSQL names the constraint (named by NAMING_CONVENTION); SQLite names only its columns.
    """
    constraint = next(
        c
        for c in table.constraints
        if isinstance(c, sa.UniqueConstraint) and tuple(col.name for col in c.columns) == columns
    )
    diag = getattr(exc.orig, "diag", None)
    if diag is not None:
        return diag.constraint_name == constraint.name
    return str(exc.orig) == "UNIQUE constraint failed: " + ", ".join(f"{table.name}.{c}" for c in columns)


class _SQLiteConnection(sqlite3.Connection):
    """pysqlite's connection, holding the writers' queue and the WAL index's file descriptor (None: a database
    without them, in memory)."""

    writers: _WritersQueue | None = None
    wal_index: int | None = None  # opened at its first commit: a new database has no WAL index before


def _writer_queue_path(url: sa.URL) -> str | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database + "-writers"


# How long a waiting writer sleeps at most before trying the queue again without a ring: a writer that died left it
# without ringing.
RECHECK_SECONDS = 0.02
# Without a doorbell, how long a waiting writer sleeps between tries of the queue.
POLL_SECONDS = 0.001


class _WritersQueue:
    """Writers of every process on a database file queue here before `BEGIN IMMEDIATE` (issue 14): a file lock beside
    the database (`<file>-writers`), and a doorbell (`<file>-writers.bell`, a FIFO) each writer rings as it leaves.

    SQLite's own busy handler sleeps up to 100 ms between tries, so the lock sat idle for milliseconds after each
    commit while every waiter slept; polling the file lock each millisecond instead cost each waiter ~13 ms of CPU a
    second. Waiters now sleep until a ring (every waiter wakes, one takes the lock) or RECHECK_SECONDS: ~3 ms a
    second, and the lock is taken ~0.2 ms after it is left. After the timeout a writer goes on to BEGIN IMMEDIATE,
    whose busy timeout decides: the queue orders writers, SQLite's lock still excludes them.

    Where the doorbell cannot be made or opened (a filesystem without FIFOs), waiters poll the file lock every
    POLL_SECONDS instead, and a warning says so once per process and database: writes still queue and succeed, at
    that polling's CPU.
    """

    def __init__(self, path: str) -> None:
        self._lock = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._bell = _doorbell(f"{path}.bell")
        self._held = False

    def join(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        waiting = None
        if self._bell is not None:
            waiting = select.poll()
            waiting.register(self._bell, select.POLLIN)
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._held = True
                return
            except BlockingIOError:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if waiting is None:
                time.sleep(min(remaining, POLL_SECONDS))
            elif waiting.poll(min(remaining, RECHECK_SECONDS) * 1000):
                with contextlib.suppress(BlockingIOError):
                    os.read(self._bell, 4096)  # the rings so far: another waiter may have taken them first

    def leave(self) -> None:
        if not self._held:
            return
        self._held = False
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        if self._bell is not None:
            # A bell full of rings nobody waited for refuses another: the next waiter wakes anyway.
            with contextlib.suppress(BlockingIOError):
                os.write(self._bell, b"\0")

    def close(self) -> None:
        self.leave()
        os.close(self._lock)
        if self._bell is not None:
            os.close(self._bell)


def _doorbell(path: str) -> int | None:
    """The doorbell FIFO, opened for reading and writing (never blocks on the other end); None where the filesystem
    cannot make or open one."""
    try:
        with contextlib.suppress(FileExistsError):
            os.mkfifo(path, 0o600)
        bell = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError as exc:
        _without_doorbell(path, str(exc))
        return None
    if not stat.S_ISFIFO(os.fstat(bell).st_mode):  # rings written to a plain file would pile up in it
        os.close(bell)
        _without_doorbell(path, "not a FIFO")
        return None
    return bell


@functools.cache
def _without_doorbell(path: str, reason: str) -> None:
    log.warning(
        "SQLite writers' doorbell %s unusable (%s): waiting writers poll the queue every %s s instead",
        path,
        reason,
        POLL_SECONDS,
    )


def _leave_writer_queue(connection: Any) -> None:
    writers = getattr(getattr(connection, "dbapi_connection", connection), "writers", None)
    if writers is not None:
        writers.leave()


# WAL frames a committer lets wait before it checkpoints them into the database: SQLite's own default.
CHECKPOINT_FRAMES = 1000


def _frames_to_checkpoint(wal_index: int) -> int:
    """The WAL's frames not yet copied into the database, read from its WAL-index header (sqlite.org/walformat.html:
    mxFrame at byte 16, nBackfill at byte 96, native byte order; the count restarts when the WAL does)."""
    header = os.pread(wal_index, 100, 0)
    if len(header) < 100:
        return 0
    (frames,) = struct.unpack_from("=I", header, 16)
    (copied,) = struct.unpack_from("=I", header, 96)
    return frames - copied if frames >= copied else frames


def _checkpoint_if_due(dbapi_conn: _SQLiteConnection, index_path: str) -> None:
    if dbapi_conn.wal_index is None:
        try:
            dbapi_conn.wal_index = os.open(index_path, os.O_RDONLY)
        except FileNotFoundError:  # not in WAL mode: nothing to checkpoint
            return
    if _frames_to_checkpoint(dbapi_conn.wal_index) >= CHECKPOINT_FRAMES:
        dbapi_conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _sqlite_setup(engine: Engine, busy_timeout_ms: int) -> None:
    queue_path = _writer_queue_path(engine.url)
    index_path = f"{engine.url.database}-shm"

    # pysqlite's own transaction handling defeats BEGIN IMMEDIATE and savepoints; take it over.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        if queue_path is not None:
            cur.execute("PRAGMA wal_autocheckpoint=0")  # see do_commit below
            dbapi_conn.writers = _WritersQueue(queue_path)
        cur.close()

    @event.listens_for(engine, "close")
    def _on_close(dbapi_conn: Any, _record: Any) -> None:
        if dbapi_conn.writers is not None:
            dbapi_conn.writers.close()
            dbapi_conn.writers = None
        if dbapi_conn.wal_index is not None:
            os.close(dbapi_conn.wal_index)
            dbapi_conn.wal_index = None

    # Writers take the lock up front so two requests never deadlock upgrading a read lock. A request's reads
    # outside `transaction()` (a GET, the caller's lookup, an action's answer after its commit) never write: in WAL
    # mode they read a snapshot beside the writer instead of queueing for its lock (issue 14). Writers of every
    # process on the file queue beside it first (_WritersQueue), which hands over the moment a writer ends.
    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        if has_request_context() and not g.get("tx_depth"):
            conn.exec_driver_sql("BEGIN")
            return
        writers = conn.connection.dbapi_connection.writers
        if writers is not None:
            writers.join(busy_timeout_ms / 1000)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _leave_writer_queue(conn.connection)
            raise

    # The queue is left once the transaction has ended (the engine's commit and rollback events come before it).
    # SQLite's automatic checkpoint would copy the WAL into the database inside the committing statement, with the
    # queue still held (a few milliseconds every few dozen creates, issue 14): the committer checkpoints once it
    # has left the queue instead, at SQLite's own threshold. A passive checkpoint never blocks a writer.
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(connection: Any) -> None:
        try:
            commit(connection)
        finally:
            _leave_writer_queue(connection)
        if queue_path is not None:
            _checkpoint_if_due(getattr(connection, "dbapi_connection", connection), index_path)

    def do_rollback(connection: Any) -> None:
        try:
            rollback(connection)
        finally:
            _leave_writer_queue(connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


# Compiled statements a process keeps (SQLAlchemy's default 500, pruned only at 750). A permit's load with its area,
# crew, links and their joins compiles to 0.6-0.8 MiB, most statements to 10-60 KiB: the benchmark's requests and
# a permit walked from draft to active use 57 (4 MiB), the whole test suite some 800. This bound keeps every
# statement a worker repeats and lets a long-running worker that has seen every endpoint stay below 300 (issue 14).
QUERY_CACHE_SIZE = 200
# A statement with more parameters is compiled for its request and not kept: its shape follows a batch's size (the
# feed's INSERT ... SELECT has a CASE arm per event), so every size is another entry, and the one of a sighting that
# suspended 300 permits held 20 MiB. The app's own statements have at most 30, the feed's for an action's events
# up to ~80 (the test suite's largest).
MAX_CACHED_PARAMETERS = 100


class StatementCache(LRUCache[Any, Any]):
    """SQLAlchemy's cache of compiled statements, holding none with more than MAX_CACHED_PARAMETERS parameters."""

    def __setitem__(self, key: Any, compiled: Any) -> None:
        if len(getattr(compiled, "binds", ())) <= MAX_CACHED_PARAMETERS:
            super().__setitem__(key, compiled)


# psycopg turns a statement's %(name)s placeholders into $n once per text (an LRU of 128 texts), but only for texts
# of at most 4,096 characters and 50 parameters: a longer one is parsed with regular expressions on every run. The
# app's statements are built once, in a few fixed shapes; an action's writes with the children its whole answer lists
# run to ~4,300 characters, a filing's rows to 49 parameters (issue 14). The bounds are psycopg's module constants, read on each run.
PSYCOPG_CACHED_STATEMENT_LENGTH = 16_384


def _convert_statements_once() -> None:
    """Let psycopg keep the conversion of every statement the app repeats (PSYCOPG_CACHED_STATEMENT_LENGTH,
    MAX_CACHED_PARAMETERS); its cache's size stays its own."""
    queries.MAX_CACHED_STATEMENT_LENGTH = max(
        queries.MAX_CACHED_STATEMENT_LENGTH, PSYCOPG_CACHED_STATEMENT_LENGTH
    )
    queries.MAX_CACHED_STATEMENT_PARAMS = max(queries.MAX_CACHED_STATEMENT_PARAMS, MAX_CACHED_PARAMETERS)


def make_engine(url: str, *, pool_size: int = 5, sqlite_busy_timeout_ms: int = 5000) -> Engine:
    """Create the engine for `url` with the settings each backend needs."""
    # query_cache_size=0: the engine's own cache is never used, every connection compiles through StatementCache.
    caching: dict[str, Any] = {
        "query_cache_size": 0,
        "execution_options": {"compiled_cache": StatementCache(QUERY_CACHE_SIZE)},
    }
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "factory": _SQLiteConnection},
            **caching,
        )
        _sqlite_setup(engine, sqlite_busy_timeout_ms)
        return engine
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"cursor_factory": _Cursor},
        **caching,
    )
    _utc_sessions(engine)
    _ping_after_idle(engine, PING_AFTER_IDLE_SECONDS)
    _convert_statements_once()
    return engine


class _Description(Sequence[psycopg.Column]):
    """A result's cursor.description whose columns are built where read.

    SQLAlchemy asks every result for its description, and psycopg builds a Column per field to answer; a statement
    SQLAlchemy has run before keeps its result's metadata with its compiled form and reads none of them (a permit's
    read has ~120 fields: 7 % of a minimal suspend or resume's instructions, issue 14). The columns are built from the result as it was
    when the description was asked for, so a cursor that has moved on does not change them.
    """

    def __init__(self, cursor: psycopg.Cursor[Any], result: Any) -> None:
        self._as_asked = SimpleNamespace(
            pgresult=result, _encoding=cursor._encoding, adapters=cursor.adapters
        )
        self._columns: dict[int, psycopg.Column] = {}

    def __len__(self) -> int:
        return int(self._as_asked.pgresult.nfields)

    @overload
    def __getitem__(self, index: int) -> psycopg.Column: ...
    @overload
    def __getitem__(self, index: slice) -> list[psycopg.Column]: ...
    def __getitem__(self, index: int | slice) -> psycopg.Column | list[psycopg.Column]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        if index not in self._columns:
            self._columns[index] = psycopg.Column(self._as_asked, index)
        return self._columns[index]


class _Cursor(psycopg.Cursor[Any]):
    """psycopg's cursor with a description built where read (_Description)."""

    @property
    def description(self) -> Sequence[psycopg.Column] | None:
        result = self.pgresult
        if result is None or not result.nfields:
            return super().description
        return _Description(self, result)


def _utc_sessions(engine: Engine) -> None:
    """Every PostgreSQL session in UTC, whatever the server's TimeZone: psycopg then gives each timestamptz read as
    a datetime in `datetime.UTC`, which UTCDateTime keeps as it is, instead of one in the server's zone (a ZoneInfo,
    even for Etc/UTC) converted twice per value (issue 14: a tenth to a sixth of the CPU of a permit answer listing
    2,700 gas tests)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
        dbapi_conn.commit()


# A connection back in the pool for longer than this is tested before a request gets it (issue 14: a ping on
# every checkout was one more round trip per request). One in steady use is not: if the server dropped it, the
# request fails as "database unavailable" (503, Retry-After), SQLAlchemy discards the pool's connections of
# before the drop, and the client's retry gets a fresh one.
PING_AFTER_IDLE_SECONDS = 10.0


def _ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get("checked_in")
        if checked_in is None or time.monotonic() - checked_in <= idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DisconnectionError(str(exc)) from exc  # the pool replaces it and tries again


def _keep_loaded(session: Session, instance: Any) -> None:
    # The identity map holds objects weakly: a row read by one step of a request (the enterprise, say) and
    # dropped would be fetched again by the next. A request's session keeps what it loaded until it closes
    # (not the scheduler's, whose sweeps may read many rows).
    kept = session.info.get("loaded")
    if kept is not None:
        kept.append(instance)


def mark_written(session: Session, *objects: Any) -> None:
    """The objects' current values as the database now holds them: a statement of the caller's wrote them.

    The unit of work then has nothing of theirs to write, and its next flush skips them without comparing each
    attribute (skipping that flush saved 9.5 % of a minimal suspend or resume's instructions, issue 14). It is what the unit of
    work itself does to an object it has flushed; SQLAlchemy offers no public call for it (pinned in the lock file).
    """
    for obj in objects:
        state = sa.inspect(obj)
        state._commit_all(state.dict, session.identity_map)


def init_app(app: Flask, engine: Engine) -> None:
    """Bind the engine to the app and close the request session at teardown."""
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = maker = sessionmaker(
        bind=engine, expire_on_commit=False, autoflush=False
    )
    event.listen(maker, "loaded_as_persistent", _keep_loaded)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def reading_session() -> Session:
    """The request's session for a view that only reads: on PostgreSQL its statements run in autocommit.

    Under READ COMMITTED each statement sees its own snapshot inside a transaction too, so a reader loses nothing;
    it saves the BEGIN and the closing ROLLBACK, two of a finished permit's three round trips (issue 14). A session
    already in a transaction (the caller was read first) stays in it; SQLite reads as before.
    """
    session = get_session()
    if not session.in_transaction() and is_postgres(session):
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return session


def get_engine() -> Engine:
    """The app's engine."""
    return current_app.extensions["db_engine"]


def get_session() -> Session:
    """The request's session (one per request, closed at teardown)."""
    if "db_session" not in g:
        # "provided_fields": the permits' context providers memoise their answers per transaction (permits.context).
        g.db_session = current_app.extensions["db_sessionmaker"](info={"loaded": [], "provided_fields": {}})
    return g.db_session


@contextmanager
def transaction() -> Iterator[Session]:
    """The one transaction of a request: commit on success, roll back on any exception.

    Nested calls (a decorator and its view) join the outer transaction instead of opening another. Inside
    `lasting_transaction`, the first one runs that block's opening step and stays open after its own block.
    """
    session = get_session()
    if g.get("tx_depth", 0):
        g.tx_depth += 1
        try:
            yield session
        finally:
            g.tx_depth -= 1
        return
    if session.in_transaction():
        session.rollback()
    opening = g.pop("tx_opening", None)
    g.tx_depth = 1
    session.info.get("provided_fields", {}).clear()  # what providers answered belongs to one transaction
    if opening is None:
        try:
            with session.begin():
                yield session
        finally:
            g.tx_depth = 0
        return
    session.begin()
    try:
        opening(session)
        yield session
    except BaseException:
        g.tx_depth = 0
        session.rollback()
        raise


@contextmanager
def lasting_transaction(opening: Callable[[Session], None]) -> Iterator[None]:
    """Within the block, the request's write transaction begins with `opening(session)` and lasts to its end.

    Its first `transaction()` stays open after its own `with` block, so that what the request does after it
    (storing its answer under an Idempotency-Key, say) commits with its writes, or rolls back with them on an
    exception. What comes before it (reading, checking, judging the answer) holds no lock (issue 14).
    """
    g.tx_opening = opening
    session = get_session()
    try:
        yield
        if g.get("tx_depth"):
            session.commit()
    except BaseException:
        if session.in_transaction():
            session.rollback()
        raise
    finally:
        g.pop("tx_opening", None)
        g.tx_depth = 0


def is_postgres(session: Session) -> bool:
    """Whether the session talks to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def advisory_xact_lock(session: Session, name: str, *, wait: bool = True) -> bool:
    """Take the transaction-scoped PostgreSQL advisory lock called `name` (released at commit or rollback).

    With `wait=False` it answers False at once when another transaction holds it. On SQLite it is always True:
    BEGIN IMMEDIATE already made this transaction the only writer.
    """
    if not is_postgres(session):
        return True
    key = int.from_bytes(hashlib.sha256(f"permit-service:{name}".encode()).digest()[:8], "big", signed=True)
    if wait:
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        return True
    return bool(session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(key))))


V = TypeVar("V")


class PerGeneration(Generic[V]):
    """Values per database and key, kept while the generation they were read at is current: a process's copy of
    data that a trigger-moved generation counter says has not changed (the context generation of 0027)."""

    def __init__(self) -> None:
        self._kept: weakref.WeakKeyDictionary[Any, tuple[int, dict[Hashable, V]]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, session: Session, generation: int, key: Hashable, read: Callable[[], V]) -> V:
        """The value of `key` read at `generation`: the kept copy, or `read()` now and kept."""
        engine = session.get_bind()
        kept, values = self._kept.get(engine) or (None, {})
        if kept != generation:
            values = {}
            self._kept[engine] = (generation, values)
        if key not in values:
            values[key] = read()
        return values[key]
