"""area records: plant_areas.major_hazard, dike_code, media (G-14, HW-01, HW-05, CS-02)

Revision ID: 0016_area_records
Revises: 0015_working_periods
Create Date: 2026-12-04 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_area_records"
down_revision = "0015_working_periods"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plant_areas") as batch:
        batch.add_column(sa.Column("major_hazard", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("dike_code", sa.String(50), nullable=True))
        batch.add_column(sa.Column("media", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("plant_areas") as batch:
        batch.drop_column("media")
        batch.drop_column("dike_code")
        batch.drop_column("major_hazard")
