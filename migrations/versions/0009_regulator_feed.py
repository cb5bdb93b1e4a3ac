"""regulator feed: events' positions in commit order; integration clients of a regulator's region (DC-04, AU-01)

Existing events get positions in id order: no reader followed the feed before it existed, so nothing it saw can be
reordered. From now on the service gives positions at commit (permit_service.feed.positions). An integration client
now belongs to an enterprise or to a region (a regulator's platform), never both.

Revision ID: 0009_regulator_feed
Revises: 0008_event_request_id
Create Date: 2026-12-03 20:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_regulator_feed"
down_revision = "0008_event_request_id"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_feed",
        sa.Column("position", BigId, autoincrement=False, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_event_feed_event_id_events")),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_event_feed")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_feed_event_id")),
    )
    op.create_table(
        "event_feed_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_position", BigId, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_feed_counter")),
    )
    op.execute("INSERT INTO event_feed (position, event_id) SELECT id, id FROM events")
    op.execute("INSERT INTO event_feed_counter (id, last_position) SELECT 1, COALESCE(MAX(id), 0) FROM events")
    with op.batch_alter_table("integration_clients") as batch:
        batch.alter_column("enterprise_id", existing_type=sa.Uuid(), nullable=True)
        batch.add_column(sa.Column("region_id", sa.Uuid(), nullable=True))
        batch.create_index(batch.f("ix_integration_clients_region_id"), ["region_id"])
        batch.create_foreign_key(
            batch.f("fk_integration_clients_region_id_regions"), "regions", ["region_id"], ["id"]
        )
        batch.create_check_constraint("one_tenant", "(enterprise_id IS NULL) <> (region_id IS NULL)")


def downgrade() -> None:
    with op.batch_alter_table("integration_clients") as batch:
        batch.drop_constraint(batch.f("ck_integration_clients_one_tenant"), type_="check")
        batch.drop_constraint(batch.f("fk_integration_clients_region_id_regions"), type_="foreignkey")
        batch.drop_index(batch.f("ix_integration_clients_region_id"))
        batch.drop_column("region_id")
        batch.alter_column("enterprise_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_table("event_feed_counter")
    op.drop_table("event_feed")
