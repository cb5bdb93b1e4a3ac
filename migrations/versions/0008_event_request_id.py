"""audit: each event keeps the X-Request-ID of the request that caused it, for the permit's timeline (AU-01)

Hashed only where present, so the events before it keep their hashes. Both directions alter the table in
place (SQLite 3.35+ drops a column natively): rebuilding `events` would drop its append-only triggers.

Revision ID: 0008_event_request_id
Revises: 0007_scheduler_runs
Create Date: 2026-12-03 19:51:29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_event_request_id"
down_revision = "0007_scheduler_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE events DROP COLUMN request_id")
