"""measure lists: permits.measure_list_version (G-02)

Permits filed before the Appendix A lists keep their free-text measures and approve as before: they are marked
as filed under list version 0 (the column's server default); the service files new permits under the current list.

Revision ID: 0006_measure_lists
Revises: 0005_append_only
Create Date: 2026-12-03 18:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_measure_lists"
down_revision = "0005_append_only"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER TABLE ADD COLUMN on both databases: no table rebuild, existing rows read 0.
    with op.batch_alter_table("permits") as batch:
        batch.add_column(sa.Column("measure_list_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("permits") as batch:
        batch.drop_column("measure_list_version")
