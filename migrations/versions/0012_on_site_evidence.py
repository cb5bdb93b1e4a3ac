"""on-site evidence: signatures.on_site, plant_areas positioning exemption (G-06)

Revision ID: 0012_on_site_evidence
Revises: 0011_calendar_years
Create Date: 2026-12-03 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import permit_service.db

revision = "0012_on_site_evidence"
down_revision = "0011_calendar_years"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: recreating the table (SQLite batch mode) would drop its append-only triggers (AU-01).
    op.add_column("signatures", sa.Column("on_site", sa.String(length=16), nullable=True))
    with op.batch_alter_table("plant_areas") as batch:
        batch.add_column(sa.Column("positioning_exempted_at", permit_service.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("positioning_exempted_by_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("positioning_exemption_reason", sa.Text(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_plant_areas_positioning_exempted_by_id_people"),
            "people",
            ["positioning_exempted_by_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("plant_areas") as batch:
        batch.drop_constraint(op.f("fk_plant_areas_positioning_exempted_by_id_people"), type_="foreignkey")
        batch.drop_column("positioning_exemption_reason")
        batch.drop_column("positioning_exempted_by_id")
        batch.drop_column("positioning_exempted_at")
    op.drop_column("signatures", "on_site")
