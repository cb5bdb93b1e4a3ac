"""area boundaries: plant_areas.boundary (G-06)

Revision ID: 0002_area_boundaries
Revises: 0001
Create Date: 2026-12-03 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_area_boundaries"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plant_areas") as batch:
        batch.add_column(sa.Column("boundary", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plant_areas") as batch:
        batch.drop_column("boundary")
