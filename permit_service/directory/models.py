"""ORM models of the directory: regions, chemical parks, enterprises, plant areas, people, certificates."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from permit_service.db import Base, UUIDPk, utcnow

REGION_LEVELS = ("city", "district", "zone")
RISK_GRADES = ("red", "orange", "yellow", "blue")


class Region(UUIDPk, Base):
    """A city, district or functional zone, identified by its administrative code (e.g. 371102)."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100), default="")
    level: Mapped[str] = mapped_column(sa.String(10))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)

    parent: Mapped[Region | None] = relationship(remote_side="Region.id")

    __table_args__ = (sa.CheckConstraint("level IN ('city', 'district', 'zone')", name="level"),)


class ChemicalPark(UUIDPk, Base):
    """A chemical industry park (化工园区) within a region."""

    __tablename__ = "chemical_parks"

    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    region_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("regions.id"), index=True)


class Enterprise(UUIDPk, Base):
    """A hazardous-chemical enterprise, supervised by the regulator of its region."""

    __tablename__ = "enterprises"

    name: Mapped[str] = mapped_column(sa.String(200))
    credit_code: Mapped[str] = mapped_column(sa.String(18), unique=True)  # 统一社会信用代码
    region_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    park_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("chemical_parks.id"), index=True)
    risk_grade: Mapped[str] = mapped_column(sa.String(10), default="blue")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # HR-02: the principal leader on the enterprise's record with its regulator (directory.principal).
    principal_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("people.id", use_alter=True, name="fk_enterprises_principal_id_people")
    )
    principal_since: Mapped[datetime | None]

    region: Mapped[Region] = relationship()
    principal: Mapped[Person | None] = relationship(foreign_keys=[principal_id])

    __table_args__ = (
        sa.CheckConstraint("risk_grade IN ('red', 'orange', 'yellow', 'blue')", name="risk_grade"),
    )

    @property
    def principal_record(self) -> Enterprise | None:
        """The enterprise itself once a principal is on record (what the API nests), else None."""
        return self if self.principal_id is not None else None


class PlantArea(UUIDPk, Base):
    """A plant area that positioning and gas detectors report on; the risk area of a permit."""

    __tablename__ = "plant_areas"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(50))
    name: Mapped[str] = mapped_column(sa.String(200))
    running_unit: Mapped[bool] = mapped_column(default=False)
    flammable: Mapped[bool] = mapped_column(default=False)
    explosive: Mapped[bool] = mapped_column(default=False)
    toxic: Mapped[bool] = mapped_column(default=False)
    fire_explosion_area: Mapped[bool] = mapped_column(default=False)
    max_headcount: Mapped[int | None] = mapped_column(sa.Integer)
    # G-14: what the record holds, so a permit cannot declare it away: part of a major hazard installation, the
    # tank-farm dike it lies in, and the gas codes of the media it holds (HW-05, CS-02).
    major_hazard: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    dike_code: Mapped[str | None] = mapped_column(sa.String(50))
    media: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default=sa.text("'[]'"))
    # G-06: the area's outline as GeoJSON in the positioning platform's coordinates (directory.geometry).
    boundary: Mapped[dict | None] = mapped_column(sa.JSON)
    # G-06: the regulator recorded that positioning does not cover the area: a declared presence counts there.
    positioning_exempted_at: Mapped[datetime | None]
    positioning_exempted_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("people.id"))
    positioning_exemption_reason: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(default=1)

    __table_args__ = (sa.UniqueConstraint("enterprise_id", "code"),)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic lock backs the ETag

    @property
    def positioning_exemption(self) -> PlantArea | None:
        """The area itself while the regulator's exemption holds (what the API nests), else None."""
        return self if self.positioning_exempted_at is not None else None


class Person(UUIDPk, Base):
    """Someone who signs in: enterprise staff (scoped to an enterprise) or a regulator (scoped to a region)."""

    __tablename__ = "people"

    username: Mapped[str] = mapped_column(sa.String(100), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # The departments the person belongs to (workflows.vocabulary.DEPARTMENT_NAMES): they countersign for those
    # only, one per permit (EX-01, RC-01).
    departments: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default=sa.text("'[]'"))
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    region_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    positioning_card_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    # Raised when the password changes: tokens issued for an older generation are refused (every device).
    token_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    certificates: Mapped[list[Certificate]] = relationship(
        back_populates="person", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint(
            "(enterprise_id IS NOT NULL AND region_id IS NULL) OR (enterprise_id IS NULL AND region_id IS NOT NULL)",
            name="one_tenant",
        ),
    )
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic lock backs the ETag


class Certificate(UUIDPk, Base):
    """A special-work certificate of a kind of workflows.certificates.KINDS with number and expiry (G-13)."""

    __tablename__ = "certificates"

    person_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(50))
    number: Mapped[str] = mapped_column(sa.String(64))
    expires_on: Mapped[date | None] = mapped_column(sa.Date)
    issued_by: Mapped[str | None] = mapped_column(sa.String(200))  # 发证机关, optional

    person: Mapped[Person] = relationship(back_populates="certificates")

    __table_args__ = (sa.UniqueConstraint("kind", "number"),)
