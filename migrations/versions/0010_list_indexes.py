"""list indexes: the permit list's filters in the list's order (issue 14)

A page of `GET /permits?state=…` (or `type=…`, `area_id=…`) is a range of one index, newest first, instead of
a scan of the enterprise's permits sorted in memory. The plans are in bench/README.md.

Revision ID: 0010_list_indexes
Revises: 0009_regulator_feed
Create Date: 2026-12-03 20:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0010_list_indexes"
down_revision = "0009_regulator_feed"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_permits_enterprise_state_created": ["enterprise_id", "state", "created_at", "id"],
    "ix_permits_enterprise_type_created": ["enterprise_id", "type", "created_at", "id"],
    "ix_permits_area_created": ["area_id", "created_at", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "permits", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="permits")
