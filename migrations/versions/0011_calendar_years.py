"""calendar years confirmed by regulators; provisional holiday proposals (FZ-04)

Revision ID: 0011_calendar_years
Revises: 0010_list_indexes
Create Date: 2026-12-03 18:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import permit_service.db  # noqa: F401 - UTCDateTime in column types

revision = "0011_calendar_years"
down_revision = "0010_list_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_years",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("periods", sa.JSON(), nullable=False),
        sa.Column("workdays", sa.JSON(), nullable=False),
        sa.Column("notice", sa.String(length=200), nullable=False),
        sa.Column("confirmed_by", sa.String(length=64), nullable=False),
        sa.Column("confirmed_at", permit_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("year BETWEEN 2000 AND 2100", name=op.f("ck_calendar_years_year")),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_calendar_years_region_id_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_years")),
        sa.UniqueConstraint("region_id", "year", name=op.f("uq_calendar_years_region_id_year")),
    )
    with op.batch_alter_table("calendar_years", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_years_region_id"), ["region_id"], unique=False)
    with op.batch_alter_table("freezes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provisional", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("freezes", schema=None) as batch_op:
        batch_op.drop_column("provisional")
    with op.batch_alter_table("calendar_years", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_years_region_id"))
    op.drop_table("calendar_years")
