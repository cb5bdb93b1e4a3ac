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
from collections.abc import Iterable, Sequence
from datetime import date
from itertools import groupby
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
    """The people of rows (id, name, certificate kind, number, expiry, issuer; one per certificate on the person's
    record, or one with a null certificate), by id."""
    people: dict[uuid.UUID, tuple[str, list[CertificateRow]]] = {}
    for person_id, name, kind, number, expires_on, issued_by in rows:
        certificates = people.setdefault(person_id, (name, []))[1]
        if kind is not None:
            certificates.append(CertificateRow(kind, number, expires_on, issued_by))
    return {
        person_id: Held(name, tuple(sorted(certificates, key=_expiry)))
        for person_id, (name, certificates) in people.items()
    }


def people_json(ids: sa.BindParameter[Any], enterprise_id: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The people whose ids are `ids`, of the enterprise `enterprise_id`, as one JSON value beside another read (a
    filing's area: one statement fewer): crew_people's rows, for people_of."""
    person, certificate = Person.__table__, Certificate.__table__
    element = _json_array(
        person.c.id, person.c.name, certificate.c.kind, certificate.c.number, certificate.c.expires_on,
        certificate.c.issued_by,
    )  # fmt: skip
    rows = (
        sa.select(_json_agg(element))
        .select_from(person.outerjoin(certificate, certificate.c.person_id == person.c.id))
        .where(person.c.id.in_(ids), person.c.enterprise_id == enterprise_id)
    )
    return sa.cast(rows.scalar_subquery(), sa.Text)


def people_of(text: str | None) -> dict[uuid.UUID, Held]:
    """The people of people_json's value, by id."""
    return crew_people(
        (uuid.UUID(person_id), name, kind, number, _date(expires_on), issued_by)
        for person_id, name, kind, number, expires_on, issued_by in json.loads(text or "[]")
    )


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
    # One element per member and certificate on their record (a member without any: one, its certificate null),
    # members in order of position. The rows are immutable: a crew read again as the same text shares them.
    rows = sorted(json.loads(text or "[]"), key=lambda row: (row[2], row[0], row[1]))
    crew = []
    for (person_id, role, position, kind, number, expires_on, name), held in groupby(
        rows, key=lambda row: tuple(row[:7])
    ):
        certificates = tuple(
            CertificateRow(c_kind, c_number, _date(c_expires_on), c_issued_by)
            for *_, c_kind, c_number, c_expires_on, c_issued_by in held
            if c_kind is not None
        )
        ordered = tuple(sorted(certificates, key=_expiry))
        member = CrewRow(uuid.UUID(person_id), role, position, kind, number, _date(expires_on), name, ordered)
        crew.append(member)
    return tuple(crew)


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


class _JsonFunction(FunctionElement[Any]):
    """A JSON function PostgreSQL and SQLite name differently (`names`: PostgreSQL's, then SQLite's)."""

    inherit_cache = True
    names: tuple[str, str]


class _json_array(_JsonFunction):  # noqa: N801 - a SQL function, named as one
    names = ("json_build_array", "json_array")


class _json_agg(_JsonFunction):  # noqa: N801
    names = ("json_agg", "json_group_array")


@compiles(_JsonFunction)
def _json_function(element: _JsonFunction, compiler: Any, **kw: Any) -> str:
    name = element.names[compiler.dialect.name != "postgresql"]
    return f"{name}({compiler.process(element.clauses, **kw)})"


def _crew_json() -> sa.ColumnElement[Any]:
    crew, person, certificate = PermitCrewMember.__table__, Person.__table__, Certificate.__table__
    element = _json_array(
        crew.c.person_id, crew.c.role, crew.c.position, crew.c.certificate_kind, crew.c.certificate_number,
        crew.c.certificate_expires_on, person.c.name, certificate.c.kind, certificate.c.number,
        certificate.c.expires_on, certificate.c.issued_by,
    )  # fmt: skip
    rows = (
        sa.select(_json_agg(element))
        .select_from(
            crew.join(person, person.c.id == crew.c.person_id).outerjoin(
                certificate, certificate.c.person_id == crew.c.person_id
            )
        )
        .where(crew.c.permit_id == Permit.__table__.c.id)
    )
    # As text: parsed here once per distinct crew (_parsed), and hashable for the ORM's unique() of the permit's row
    return sa.cast(rows.scalar_subquery(), sa.Text)


read_with_permit("crew_rows", _crew_json())
