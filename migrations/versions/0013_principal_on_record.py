"""principal on record: enterprises.principal_id/principal_since, notices without a permit (HR-02)

Revision ID: 0013_principal_on_record
Revises: 0012_on_site_evidence
Create Date: 2026-12-03 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import permit_service.db

revision = "0013_principal_on_record"
down_revision = "0012_on_site_evidence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enterprises") as batch:
        batch.add_column(sa.Column("principal_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("principal_since", permit_service.db.UTCDateTime(), nullable=True))
        batch.create_foreign_key("fk_enterprises_principal_id_people", "people", ["principal_id"], ["id"])
    with op.batch_alter_table("regulator_notifications") as batch:
        batch.alter_column("permit_id", existing_type=sa.Uuid(), nullable=True)
        batch.add_column(sa.Column("data", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("regulator_notifications") as batch:
        batch.drop_column("data")
        batch.alter_column("permit_id", existing_type=sa.Uuid(), nullable=False)
    with op.batch_alter_table("enterprises") as batch:
        batch.drop_constraint("fk_enterprises_principal_id_people", type_="foreignkey")
        batch.drop_column("principal_since")
        batch.drop_column("principal_id")
