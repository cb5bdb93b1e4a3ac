"""scheduler runs: when each scheduled job last finished, for the scheduler-lag metric

Revision ID: 0007_scheduler_runs
Revises: 0006_measure_lists
Create Date: 2026-12-03 19:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from permit_service.db import UTCDateTime

revision = "0007_scheduler_runs"
down_revision = "0006_measure_lists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_runs",
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_scheduler_runs")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_runs")
