"""working periods: permits.working_periods (HW-03)

A permit states the daily periods its work is done in; the rows filed before have none (NULL), and for them the
whole validity stays working time, as it was.

Revision ID: 0015_working_periods
Revises: 0014_event_feed_at_event
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_working_periods"
down_revision = "0014_event_feed_at_event"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("permits") as batch:
        batch.add_column(sa.Column("working_periods", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("permits") as batch:
        batch.drop_column("working_periods")
