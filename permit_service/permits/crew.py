"""A permit's crew as read: plain rows selected with the permit, in its own statement (issue 14).

The core, the answer and presence read the crew of every permit they look at. Loaded as ORM objects joined to the
permit, each member with their person and the certificates on their record (G-13), it took more than half of a
permit read's CPU: every member's row repeated the permit's columns for the ORM to process again. So a permit read
selects its crew as one JSON value beside the permit (context.read_with_permit) and crew_of gives it as plain rows.
A write that changes the crew (a draft's update, submit recording certificates) loads the ORM collection,
`permit.crew`, and crew_of then reads that instead, so it always answers the crew as this transaction sees it. The
members a filing or a draft's update makes carry their person's name and certificates as that request read them
(held), not ORM objects of the person.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from permit_service.directory.models import Certificate, Person
from permit_service.permits.context import read_with, read_with_permit
from permit_service.permits.models import Permit, PermitCrewMember


class CertificateRow(NamedTuple):
    """A certificate on a crew member's record (the attributes the core reads of Certificate)."""

    kind: str
    number: str
    expires_on: date | None
    issued_by: str | None


class CrewRow(NamedTuple):
    """A crew member as read (the attributes CrewOut dumps, and what the core reads of the person)."""

    person_id: uuid.UUID
    role: str
    position: int
    certificate_kind: str | None
    certificate_number: str | None
    certificate_expires_on: date | None
    name: str
    certificates: tuple[CertificateRow, ...]  # by expiry, those that never expire last


def crew_of(permit: Permit) -> tuple[CrewRow, ...]:
    """The permit's crew in order of position: as read with the permit, or from `permit.crew` once loaded."""
    if "crew" not in permit.__dict__:
        read = read_with(permit)
        if read is not None and "crew_rows" in read:
            # dict.get: not a read of the core's, which context._ReadWith would note
            return _parsed(dict.get(read, "crew_rows"))
    return tuple(_of(member) for member in permit.crew)


class Held(NamedTuple):
    """A person's name and the certificates on their record, by expiry, as read for a new crew member."""

    name: str
    certificates: tuple[CertificateRow, ...]


_HELD = "_crew_member_held"  # a new member's own attribute (not a column): its person as read (held)


def crew_people(rows: Iterable[Sequence[Any]]) -> dict[uuid.UUID, Held]:
    """The people of people_read's rows (id, name, then a certificate on their record, or four nulls), by id."""
    return {person_id: Held(name, certificates) for (person_id, name), certificates in _grouped(rows, 2)}


@functools.cache
def people_read() -> sa.Select:
    """The people whose ids are the parameter `ids`, of the enterprise `enterprise_id`, one row per certificate on
    their record (crew_people's rows). Built once: building it costs more than sending it."""
    return _people(sa.bindparam("ids", expanding=True), sa.bindparam("enterprise_id"), as_json=False)


def people_json(ids: sa.BindParameter[Any], enterprise_id: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """people_read's rows as one JSON value beside another read (a filing's area: one statement fewer), for
    people_of; `enterprise_id` may be a column of that read."""
    return sa.cast(_people(ids, enterprise_id, as_json=True).scalar_subquery(), sa.Text)


def people_of(text: str | None) -> dict[uuid.UUID, Held]:
    """The people of people_json's value, by id."""
    return {
        uuid.UUID(person_id): Held(name, certificates)
        for (person_id, name), certificates in _grouped(json.loads(text or "[]"), 2, dates_as_text=True)
    }


def _people(ids: sa.ColumnElement[Any], enterprise_id: sa.ColumnElement[Any], *, as_json: bool) -> sa.Select:
    person = Person.__table__
    columns = (person.c.id, person.c.name, *_certificate_columns())
    return (
        sa.select(*([_json_agg(_json_array(*columns))] if as_json else columns))
        .select_from(_with_certificates(person, person.c.id))
        .where(person.c.id.in_(ids), person.c.enterprise_id == enterprise_id)
    )


def _certificate_columns() -> tuple[sa.Column[Any], ...]:
    certificate = Certificate.__table__
    return certificate.c.kind, certificate.c.number, certificate.c.expires_on, certificate.c.issued_by


def _with_certificates(table: sa.FromClause, person_id: sa.ColumnElement[Any]) -> sa.FromClause:
    """`table`, whose `person_id` names a person, with each certificate on that person's record (none: nulls)."""
    certificate = Certificate.__table__
    return table.outerjoin(certificate, certificate.c.person_id == person_id)


def _grouped(
    rows: Iterable[Sequence[Any]], width: int, *, dates_as_text: bool = False
) -> Iterator[tuple[tuple[Any, ...], tuple[CertificateRow, ...]]]:
    """Rows of `width` values, then a certificate's kind, number, expiry and issuer (a null kind: no certificate),
    grouped by those values: each group's values and its certificates by expiry, groups as first seen. A JSON read
    gives the expiry as text (`dates_as_text`)."""
    groups: dict[tuple[Any, ...], list[CertificateRow]] = {}
    for row in rows:
        certificates = groups.setdefault(tuple(row[:width]), [])
        kind, number, expires_on, issued_by = row[width:]
        if kind is not None:
            expires_on = _date(expires_on) if dates_as_text else expires_on
            certificates.append(CertificateRow(kind, number, expires_on, issued_by))
    return ((values, tuple(sorted(held, key=_expiry))) for values, held in groups.items())


def held(member: PermitCrewMember, person: Held) -> None:
    """Keep on a new crew member its person as read (crew_of reads it instead of loading the person)."""
    member.__dict__[_HELD] = person


def _of(member: PermitCrewMember) -> CrewRow:
    person = member.__dict__.get(_HELD)
    if person is None:
        # a member loaded with its person and their certificates (PermitCrewMember's joined loads)
        certificates = (
            CertificateRow(c.kind, c.number, c.expires_on, c.issued_by) for c in member.certificates_on_record
        )
        person = Held(member.person.name, tuple(sorted(certificates, key=_expiry)))
    return CrewRow(
        member.person_id, member.role, member.position, member.certificate_kind, member.certificate_number,
        member.certificate_expires_on, person.name, person.certificates,
    )  # fmt: skip


def _expiry(certificate: CertificateRow) -> tuple[bool, date | None]:
    return certificate.expires_on is None, certificate.expires_on


@functools.lru_cache(maxsize=1024)
def _parsed(text: str | None) -> tuple[CrewRow, ...]:
    # One element per member and certificate on their record (_crew_json), in no set order: members by position,
    # then person and role, so that a crew reads alike every time. The rows are immutable: a crew read again as the
    # same text shares them.
    crew = (
        CrewRow(uuid.UUID(person_id), role, position, kind, number, _date(expires_on), name, certificates)
        for (person_id, role, position, kind, number, expires_on, name), certificates in _grouped(
            json.loads(text or "[]"), 7, dates_as_text=True
        )
    )
    return tuple(sorted(crew, key=lambda member: (member.position, member.person_id, member.role)))


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


class _JsonFunction(FunctionElement[Any]):
    """A JSON function PostgreSQL and SQLite name differently (`names`: PostgreSQL's, then SQLite's).

    Each subclass sets `inherit_cache` itself: SQLAlchemy reads it from the class's own namespace, and a statement
    with a construct that lacks it is compiled again on every execution (a permit read then cost four times its CPU).
    """

    inherit_cache = True
    names: tuple[str, str]


class _json_array(_JsonFunction):  # noqa: N801 - a SQL function, named as one
    inherit_cache = True
    names = ("json_build_array", "json_array")


class _json_agg(_JsonFunction):  # noqa: N801
    inherit_cache = True
    names = ("json_agg", "json_group_array")


@compiles(_JsonFunction)
def _json_function(element: _JsonFunction, compiler: Any, **kw: Any) -> str:
    name = element.names[compiler.dialect.name != "postgresql"]
    return f"{name}({compiler.process(element.clauses, **kw)})"


def _crew_json() -> sa.ColumnElement[Any]:
    crew, person = PermitCrewMember.__table__, Person.__table__
    element = _json_array(
        crew.c.person_id, crew.c.role, crew.c.position, crew.c.certificate_kind, crew.c.certificate_number,
        crew.c.certificate_expires_on, person.c.name, *_certificate_columns(),
    )  # fmt: skip
    rows = (
        sa.select(_json_agg(element))
        .select_from(_with_certificates(crew.join(person, person.c.id == crew.c.person_id), crew.c.person_id))
        .where(crew.c.permit_id == Permit.__table__.c.id)
    )
    # As text: parsed here once per distinct crew (_parsed), and hashable for the ORM's unique() of the permit's row
    return sa.cast(rows.scalar_subquery(), sa.Text)


read_with_permit("crew_rows", _crew_json())
