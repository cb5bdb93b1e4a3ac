"""A permit's signatures and gas tests: append-only, read as plain rows, kept with the permit (issue 14).

Neither is ever edited, and a permit at work gathers gas tests all its life, so they are not ORM collections loaded
with every permit: each list is read in one statement of plain rows when the core or the answer first needs it,
kept on the permit object for the rest of the request (as a loaded collection would be, and dropped when the permit
is refreshed or expired), and what an action adds is appended to what was read. The core is given only the gas
tests its guards read (workflows.rules.gas_tests.read_by_guards); the answer lists every one, its readings and
findings passed through as the JSON text they are stored as (`gas_test_json`), never decoded.
"""

from __future__ import annotations

import bisect
import functools
import json
import uuid
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, make_transient_to_detached, object_session
from sqlalchemy.orm.attributes import set_committed_value

from permit_service.db import UTCDateTime, is_postgres
from permit_service.permits.context import register_locked_read
from permit_service.permits.models import GasTest, Permit, Signature
from workflows import model as wf
from workflows.rules.gas_tests import read_by_guards

_KEY = "_permit_children"  # the permit object's own attribute (not a column): its Children
# The gas test last written through the permit object: a fact of the request, not a copy of rows, so kept when the
# permit is refreshed (a failed test's suspension, HW-08, reads the permit again in the same transaction).
_RECORDED = "_permit_recorded_gas_test"


class GasTestRow(NamedTuple):
    """A gas test as read: its ids as text, its readings and findings the stored JSON text."""

    id: str
    analyst_id: str
    sampled_at: datetime
    point: str
    readings: str
    passed: bool
    findings: str
    recorded_at: datetime

    @classmethod
    def of(cls, test: GasTest) -> GasTestRow:
        """The row of a test object (one written now, or in a collection loaded with its permit)."""
        return cls(
            str(test.id), str(test.analyst_id), test.sampled_at, test.point, json.dumps(test.readings), test.passed,
            json.dumps(test.findings), test.recorded_at,
        )  # fmt: skip


class SignatureRow(NamedTuple):
    """A signature as read (the attributes SignatureOut dumps)."""

    kind: str
    role: str
    person_id: uuid.UUID | None
    at: datetime
    evidence: dict[str, Any]
    on_site: str | None


def _none(type_: Any) -> sa.ColumnElement[Any]:
    return sa.cast(sa.null(), type_)


# Both lists in one statement, a signature's columns and a gas test's in the same places (the first says which).
_PLACES = (
    "child", "id", "kind", "role", "person", "at", "json", "on_site_or_point", "passed", "findings", "recorded_at"
)  # fmt: skip


def _child(*columns: Any) -> sa.Select:
    return sa.select(*(column.label(name) for column, name in zip(columns, _PLACES, strict=True)))


_SIGNATURE = _child(
    sa.literal(0), _none(sa.Uuid), Signature.kind, Signature.role, Signature.person_id, Signature.at,
    sa.cast(Signature.evidence, sa.Text), Signature.on_site, _none(sa.Boolean), _none(sa.Text), _none(UTCDateTime),
)  # fmt: skip
_GAS_TEST = _child(
    sa.literal(1), GasTest.id, _none(sa.String), _none(sa.String), GasTest.analyst_id, GasTest.sampled_at,
    sa.cast(GasTest.readings, sa.Text), GasTest.point, GasTest.passed, sa.cast(GasTest.findings, sa.Text),
    GasTest.recorded_at,
)  # fmt: skip


def _both(permit_id: Any) -> sa.CompoundSelect:
    return sa.union_all(
        _SIGNATURE.where(Signature.permit_id == permit_id), _GAS_TEST.where(GasTest.permit_id == permit_id)
    )


def _rows(session: Session, permit_id: uuid.UUID) -> list[Sequence[Any]]:
    """Both lists' rows (child, id, kind, role, person, when, JSON, on-site or point, passed, findings, recorded at),
    signatures first, each list in order of time; ids as read (UUID or text)."""
    if not is_postgres(session):
        return session.execute(_both(permit_id).order_by("child", "at", "recorded_at")).all()  # type: ignore[return-value]
    return _json_rows(session.execute(as_json(), {"permit_id": permit_id}).scalar_one())


def _json_rows(text: str | None) -> list[Sequence[Any]]:
    rows = json.loads(text or "[]")
    for row in rows:
        row[5] = datetime.fromisoformat(row[5]).astimezone(UTC)
        if row[10] is not None:
            row[10] = datetime.fromisoformat(row[10]).astimezone(UTC)
    return rows  # type: ignore[no-any-return]


@functools.cache
def as_json(permit_id: str = "permit_id") -> sa.Select:
    """PostgreSQL: both lists' rows of the permit whose id is the parameter `permit_id` as one JSON array of arrays,
    in their order: one value to read, where each row read apart cost its columns' conversions by psycopg and
    SQLAlchemy (issue 14: four fifths of the read of a permit with 2,700 gas tests). Built once per name."""
    both = _both(sa.bindparam(permit_id, type_=sa.Uuid)).subquery("both")
    ordered = aggregate_order_by(
        sa.func.json_build_array(*both.c), both.c.child, both.c.at, both.c.recorded_at
    )
    return sa.select(sa.cast(sa.func.json_agg(ordered), sa.Text))


def _uuid(value: uuid.UUID | str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if isinstance(value, str) else value


class Children:
    """One permit's signatures (oldest first) and gas tests (in sampling order, ties in recording order)."""

    def __init__(self, permit: Permit) -> None:
        # Kept in the permit's __dict__, so a strong reference back would make every loaded permit a reference
        # cycle, freed only by the cyclic GC; collecting such cycles of ORM objects crashed CPython 3.11.7
        # (a segfault in `permit-service documents rebuild` over 100k permits, none on 3.12).
        self._permit_ref = weakref.ref(permit)
        self._signatures: list[Any] | None = None
        self._gas_tests: list[GasTestRow] | None = None
        self._core_signatures: tuple[wf.Signature, ...] | None = None
        self._core_gas_tests: tuple[wf.GasTest, ...] | None = None

    @property
    def _permit(self) -> Permit:
        permit = self._permit_ref()
        assert permit is not None, "a permit's children live in its __dict__, so never outlive it"
        return permit

    @property
    def signatures(self) -> list[Any]:
        """Rows with kind, role, person_id, at, evidence and on_site, as SignatureOut reads them."""
        if self._signatures is None:
            self._read()
        assert self._signatures is not None
        return self._signatures

    @property
    def gas_tests(self) -> list[GasTestRow]:
        """Every gas test as read."""
        if self._gas_tests is None:
            self._read()
        assert self._gas_tests is not None
        return self._gas_tests

    def _read(self) -> None:
        """Both lists: the one statement reads what the permit was not loaded with (a batch of permits, a new
        draft)."""
        loaded = self._permit.__dict__
        if "signatures" in loaded:
            self._signatures = list(self._permit.signatures)
        if "gas_tests" in loaded:
            tests = sorted(self._permit.gas_tests, key=_in_sampling_order)
            self._gas_tests = [GasTestRow.of(t) for t in tests]
        if self._signatures is not None and self._gas_tests is not None:
            return
        session = object_session(self._permit)
        assert session is not None, "a permit's children are read through its session"
        # Rows an action added but has not flushed yet are part of what it reads (the session does not autoflush).
        if any(isinstance(obj, Signature | GasTest) for obj in session.new):
            session.flush()
        self._keep(_rows(session, self._permit.id))

    @property
    def read(self) -> bool:
        """Whether both lists have been read."""
        return self._signatures is not None and self._gas_tests is not None

    def read_as_json(self, text: str | None) -> None:
        """Keep what `as_json` answered for the permit as the lists read, where not read yet."""
        self._keep(_json_rows(text))

    def _keep(self, rows: Sequence[Sequence[Any]]) -> None:
        if self._signatures is None:
            self._signatures = [
                SignatureRow(r[2], r[3], _uuid(r[4]), r[5], json.loads(r[6]) if r[6] else {}, r[7])
                for r in rows
                if r[0] == 0
            ]
        if self._gas_tests is None:
            self._gas_tests = [
                GasTestRow(str(r[1]), str(r[4]), r[5], r[7], r[6], r[8], r[9], r[10])
                for r in rows
                if r[0] == 1
            ]

    def core_signatures(self) -> tuple[wf.Signature, ...]:
        """The signatures as the core reads them."""
        if self._core_signatures is None:
            self._core_signatures = tuple(
                wf.Signature(
                    kind=s.kind,
                    role=s.role,
                    person_id=str(s.person_id) if s.person_id else wf.Actor.SYSTEM_ID,
                    at=s.at,
                    evidence=s.evidence or {},
                )
                for s in self.signatures
            )
        return self._core_signatures

    def core_gas_tests(self) -> tuple[wf.GasTest, ...]:
        """The gas tests the core's guards read, as it reads them."""
        if self._core_gas_tests is None:
            self._core_gas_tests = tuple(
                wf.GasTest(
                    sampled_at=t.sampled_at,
                    analyst_id=str(t.analyst_id),
                    passed=t.passed,
                    readings=tuple(
                        wf.GasReading(r["gas"], r["value"], r["unit"]) for r in json.loads(t.readings)
                    ),
                    point=t.point,
                )
                for t in read_by_guards(self.gas_tests, lambda t: t.passed)
            )
        return self._core_gas_tests

    def add(self, row: Signature | GasTest, *, written: bool = False) -> None:
        """Make a new signature or gas test the permit's, counted as read: a signature is the latest, a written gas
        test takes its place in sampling order (one sampled before it may be recorded later; one the unit of work
        inserts is read again with the others).

        The unit of work inserts it; or, `written`, the caller's own statement has (permits.service, PostgreSQL): the
        row, holding every column's value, joins the session as loaded.
        """
        permit = self._permit
        if isinstance(row, Signature):
            collection = "signatures"
            if self._signatures is not None:
                self._signatures.append(row)
            self._core_signatures = None
        else:
            collection = "gas_tests"
            if written and self._gas_tests is not None:  # the row holds its id and times
                bisect.insort(self._gas_tests, GasTestRow.of(row), key=_in_sampling_order)
            else:
                self._gas_tests = None
            self._core_gas_tests = None
            permit.__dict__[_RECORDED] = row  # recorded_gas_test
        session = object_session(permit)
        assert session is not None, "a permit's children are written through its session"
        loaded = collection in permit.__dict__
        if written:
            make_transient_to_detached(row)
            session.add(row)
            if loaded:  # a loaded collection stays current
                set_committed_value(permit, collection, [*getattr(permit, collection), row])
        elif loaded:
            getattr(permit, collection).append(row)
        else:
            row.permit_id = permit.id
            session.add(row)


def _in_sampling_order(test: GasTest | GasTestRow) -> tuple[datetime, datetime]:
    return test.sampled_at, test.recorded_at


def recorded_gas_test(permit: Permit) -> GasTest | None:
    """The gas test this request recorded on the permit (None if none): the verdict a minimal answer gives."""
    return permit.__dict__.get(_RECORDED)


def of(permit: Permit) -> Children:
    """The permit's children, read on first use."""
    found = permit.__dict__.get(_KEY)
    if found is None:
        found = permit.__dict__[_KEY] = Children(permit)
    return found


@event.listens_for(Permit, "refresh")
@event.listens_for(Permit, "expire")
def forget(permit: Permit, *_args: Any) -> None:
    """Drop what was read of the permit's children: they are read again when next needed."""
    permit.__dict__.pop(_KEY, None)


def gas_tests_json(rows: Sequence[GasTestRow], tz: tzinfo) -> str:
    """The gas tests as the answer lists them (GasTestOut, timestamps in `tz`), a JSON array."""
    return "[" + ",".join(gas_test_json(row, tz) for row in rows) + "]"


def gas_test_json(row: GasTestRow, tz: tzinfo) -> str:
    """One gas test as GasTestOut dumps it, its readings and findings the stored JSON text as they are."""
    return (
        f'{{"id":"{row.id}","analyst_id":"{row.analyst_id}",'
        f'"sampled_at":"{row.sampled_at.astimezone(tz).isoformat()}","point":{json.dumps(row.point, ensure_ascii=False)},'
        f'"readings":{row.readings or "null"},"passed":{"true" if row.passed else "false"},'
        f'"findings":{row.findings or "null"},"recorded_at":"{row.recorded_at.astimezone(tz).isoformat()}"}}'
    )


def _locked_read(session: Session, permit: Permit) -> tuple[sa.Select, dict[str, Any]] | None:
    """PostgreSQL: as_json of a permit whose lists are not read yet, for context.read_holding_lock."""
    if of(permit).read or not is_postgres(session):
        return None
    return as_json(), {"permit_id": permit.id}


def _keep_locked_read(_session: Session, permit: Permit, row: Sequence[Any]) -> None:
    of(permit).read_as_json(row[0])


register_locked_read(("signatures", "gas_tests"), _locked_read, _keep_locked_read)
