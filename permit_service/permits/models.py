"""ORM models of permits: the permit, its links, crew, signatures, gas tests and number counters."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from permit_service.db import Base, UUIDPk, utcnow
from permit_service.directory.models import Certificate, Enterprise, Person, PlantArea
from workflows.measures import CURRENT as CURRENT_MEASURE_LIST
from workflows.rules.plan27 import NOT_PLAN27


class Permit(UUIDPk, Base):
    """One special-operation permit. Its state changes only through `workflows`; `version` is its ETag."""

    __tablename__ = "permits"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    area_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("plant_areas.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(32))
    type: Mapped[str] = mapped_column(sa.String(32), index=True)
    grade: Mapped[str | None] = mapped_column(sa.String(16))
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    version: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(sa.String(200))
    location: Mapped[str] = mapped_column(sa.String(200), default="")
    work_content: Mapped[str] = mapped_column(sa.Text, default="")
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime] = mapped_column(index=True)
    # HW-03: the daily working periods in local time, [{"start": "08:00", "end": "12:00"}, ...]; NULL: none stated,
    # the whole validity is working time (and every permit filed before the periods existed reads so).
    working_periods: Mapped[list[dict[str, str]] | None] = mapped_column(sa.JSON(none_as_null=True))
    facts: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    risk_analysis: Mapped[str] = mapped_column(sa.Text, default="")
    # The Plan-27 kind of the work, declared when filing (HR-01): such a permit is approved only under a
    # Plan-27 job the regulator consented to, whether or not anyone attaches it to one.
    high_risk_kind: Mapped[str | None] = mapped_column(sa.String(32))
    measures: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    # EX-01, RC-01: the departments that must countersign, fixed at submission from the enterprise's configuration.
    countersign_departments: Mapped[list[str]] = mapped_column(
        sa.JSON, default=list, server_default=sa.text("'[]'")
    )
    # G-02: the version of the type's Appendix A measure list the permit was filed under: 0 for the rows filed
    # before the lists (free-text lines confirmed at filing), the current list for every permit filed since.
    measure_list_version: Mapped[int] = mapped_column(default=CURRENT_MEASURE_LIST, server_default="0")
    work_unit: Mapped[str] = mapped_column(sa.String(200), default="")  # 作业单位
    contractor: Mapped[bool] = mapped_column(default=False)  # outsourced work (SD-02)
    applicant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("people.id"))
    reissued_from_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("permits.id"))
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    activated_at: Mapped[datetime | None]
    suspended_at: Mapped[datetime | None]
    gas_alarm: Mapped[bool] = mapped_column(default=False)

    area: Mapped[PlantArea] = relationship(lazy="joined")
    # Loaded with the permit where its context is built (the guards read its region and grade); read-only here.
    enterprise: Mapped[Enterprise] = relationship(viewonly=True)
    crew: Mapped[list[PermitCrewMember]] = relationship(
        cascade="all, delete-orphan", order_by="PermitCrewMember.position"
    )
    signatures: Mapped[list[Signature]] = relationship(cascade="all, delete-orphan", order_by="Signature.at")
    gas_tests: Mapped[list[GasTest]] = relationship(
        cascade="all, delete-orphan", order_by=lambda: (GasTest.sampled_at, GasTest.recorded_at)
    )
    links: Mapped[list[PermitLink]] = relationship(
        foreign_keys="PermitLink.permit_id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic lock backs the ETag

    @property
    def plan27_kind(self) -> str | None:
        """The Plan-27 kind the permit declares (HR-01); None when it answered none or never answered."""
        return None if self.high_risk_kind in (None, NOT_PLAN27) else self.high_risk_kind

    __table_args__ = (
        sa.UniqueConstraint("enterprise_id", "number"),
        sa.Index("ix_permits_enterprise_created", "enterprise_id", "created_at", "id"),
        # The list's filters, each in the list's order (newest first), so a page is an index range (issue 14).
        sa.Index("ix_permits_enterprise_state_created", "enterprise_id", "state", "created_at", "id"),
        sa.Index("ix_permits_enterprise_type_created", "enterprise_id", "type", "created_at", "id"),
        sa.Index("ix_permits_area_created", "area_id", "created_at", "id"),
        sa.CheckConstraint(
            "high_risk_kind IN ('leak_plugging', 'tank_cleaning', 'water_draining', 'unplanned_maintenance', 'none')",
            name="high_risk_kind",
        ),
    )


class PermitLink(Base):
    """A link between permits of one job (关联作业票, G-03); stored in both directions."""

    __tablename__ = "permit_links"

    permit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("permits.id"), primary_key=True)
    linked_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("permits.id"), primary_key=True)
    relation: Mapped[str] = mapped_column(sa.String(16), default="related")  # related | parent | child

    linked: Mapped[Permit] = relationship(foreign_keys=[linked_id])


class PermitCrewMember(UUIDPk, Base):
    """A named person on the permit in one role (worker, guardian, work_leader, signaller, ...).

    G-13: the certificate columns are the certificate on the person's record that submit accepted for the work
    (rows filed before the check hold what the applicant declared); the person and the certificates on their
    record come with the crew, in the same statement, for the core to check.
    """

    __tablename__ = "permit_crew"

    permit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("permits.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(32))
    position: Mapped[int] = mapped_column(default=0)
    certificate_kind: Mapped[str | None] = mapped_column(sa.String(50))
    certificate_number: Mapped[str | None] = mapped_column(sa.String(64))
    certificate_expires_on: Mapped[date | None] = mapped_column(sa.Date)

    person: Mapped[Person] = relationship(lazy="joined", viewonly=True)
    certificates_on_record: Mapped[list[Certificate]] = relationship(
        primaryjoin="PermitCrewMember.person_id == foreign(Certificate.person_id)",
        lazy="joined",
        viewonly=True,
        order_by="Certificate.expires_on",
    )

    __table_args__ = (sa.UniqueConstraint("permit_id", "person_id", "role"),)


class Signature(UUIDPk, Base):
    """A signature on the permit: step, role, person, time and on-site evidence (G-06). Never edited."""

    __tablename__ = "signatures"

    permit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("permits.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    role: Mapped[str] = mapped_column(sa.String(32))
    # NULL: signed by the system (G-12 expiry, HW-08 stop, TE-01 end with the parent), never by a person.
    person_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("people.id"))
    at: Mapped[datetime]
    evidence: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # G-06: card_sighting | position_fix | declared (workflows.rules.on_site.EVIDENCE_KINDS), for the signatures
    # given on site; counted by regulators.
    on_site: Mapped[str | None] = mapped_column(sa.String(16))


class GasTest(UUIDPk, Base):
    """A gas analysis; `passed` is computed by the service from the readings, never taken from the client."""

    __tablename__ = "gas_tests"

    permit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("permits.id"), index=True)
    analyst_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("people.id"))
    sampled_at: Mapped[datetime]
    point: Mapped[str] = mapped_column(sa.String(200), default="")
    readings: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    passed: Mapped[bool]
    findings: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class PermitNumberCounter(Base):
    """The last number handed out per enterprise, type prefix and year (e.g. DH-2026-000123)."""

    __tablename__ = "permit_number_counters"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"), primary_key=True)
    prefix: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class PermitDocument(Base):
    """A finished permit as readers are answered, rendered when it finished (issue 14: a read in one statement).

    Served only while `version` is the permit's own and `format` the service's current one (see
    permits.documents); anything else falls back to loading the permit, so a stale document is never shown.
    """

    __tablename__ = "permit_documents"

    permit_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("permits.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int]
    format: Mapped[str] = mapped_column(sa.String(64))
    body: Mapped[str] = mapped_column(
        sa.Text
    )  # the JSON of PermitOut without the caller's and the day's parts


class ContextGeneration(Base):
    """One number moved by a trigger on every change to freezes, calendar years and calendar overrides (0027): read
    with a permit, it tells a process whether the freezes and calendars it keeps are still current (issue 14)."""

    __tablename__ = "context_generation"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(sa.BigInteger, server_default=sa.text("0"))
