"""platform subscriptions: a regulator's platform subscribes to its region's events through the webhook outbox (DC-04)

A feed row also keeps its permit event's state and grade as at the event (0014 kept validity and area): a push
is written at commit, and the pull feed must tell the same event the same way later.

A webhook subscription now belongs to an enterprise (a plant portal, as before) or to a region: the subscription of a
regulator's platform client (`client_id`), which may narrow its events to some enterprises (credit codes) and risk
grades, and records the feed position its pushes start after (`feed_cursor`). The feed's counter row counts the
active platform subscriptions: a commit reads the count with its position and looks for platform subscriptions only
when there are some.

Revision ID: 0017_platform_subscriptions
Revises: 0016_area_records
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_platform_subscriptions"
down_revision = "0016_area_records"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.alter_column("enterprise_id", existing_type=sa.Uuid(), nullable=True)
        batch.add_column(sa.Column("region_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("client_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("enterprise_codes", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("risk_grades", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("feed_cursor", BigId, nullable=True))
        batch.create_index(batch.f("ix_webhook_subscriptions_region_id"), ["region_id"])
        batch.create_foreign_key(
            batch.f("fk_webhook_subscriptions_region_id_regions"), "regions", ["region_id"], ["id"]
        )
        batch.create_foreign_key(
            batch.f("fk_webhook_subscriptions_client_id_integration_clients"),
            "integration_clients",
            ["client_id"],
            ["id"],
        )
        batch.create_check_constraint("one_tenant", "(enterprise_id IS NULL) <> (region_id IS NULL)")
        batch.create_check_constraint("platform_client", "(region_id IS NULL) = (client_id IS NULL)")
    with op.batch_alter_table("event_feed_counter") as batch:
        batch.add_column(
            sa.Column("platform_subscriptions", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    # A feed row's permit state and grade as at the event (0014 kept validity and area). Plain ADD COLUMN (no batch
    # rebuild): the append-only triggers of event_feed stay in place on SQLite.
    op.add_column("event_feed", sa.Column("state", sa.String(16), nullable=True))
    op.add_column("event_feed", sa.Column("grade", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("event_feed", "grade")
    op.drop_column("event_feed", "state")
    with op.batch_alter_table("event_feed_counter") as batch:
        batch.drop_column("platform_subscriptions")
    # Platform subscriptions stay on record: with any present, making enterprise_id NOT NULL again fails, as it should.
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.drop_constraint(batch.f("ck_webhook_subscriptions_platform_client"), type_="check")
        batch.drop_constraint(batch.f("ck_webhook_subscriptions_one_tenant"), type_="check")
        batch.drop_constraint(batch.f("fk_webhook_subscriptions_client_id_integration_clients"), type_="foreignkey")
        batch.drop_constraint(batch.f("fk_webhook_subscriptions_region_id_regions"), type_="foreignkey")
        batch.drop_index(batch.f("ix_webhook_subscriptions_region_id"))
        for column in ("feed_cursor", "risk_grades", "enterprise_codes", "client_id", "region_id"):
            batch.drop_column(column)
        batch.alter_column("enterprise_id", existing_type=sa.Uuid(), nullable=False)
