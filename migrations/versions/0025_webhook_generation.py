"""webhook generation: every change to a webhook subscription moves a number the commits read (DC-04, issue 14)

An event's transaction looked its enterprise's webhook subscriptions up: one statement per event, whether or not
anyone subscribed. The feed counter's row, which every commit with events upserts and locks, now also
carries `webhook_generation`, which a trigger on webhook_subscriptions moves on every insert, delete and change of
what a subscription matches. A process keeps the subscriptions it read for the generation it read them at, and
reads them again only when the generation its commit reads under the counter's lock differs. The trigger catches
every writer, the service or not.

Revision ID: 0025_webhook_generation
Revises: 0024_permit_documents
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_webhook_generation"
down_revision = "0024_permit_documents"
branch_labels = None
depends_on = None

# What a subscription matches an event by (webhooks._subscriptions_for); delivery bookkeeping touches none.
_MATCHED = "enterprise_id, region_id, event_kinds, active"
_BUMP = (
    "INSERT INTO event_feed_counter (id, last_position) VALUES (1, 0) ON CONFLICT (id) DO NOTHING; "
    "UPDATE event_feed_counter SET webhook_generation = webhook_generation + 1 WHERE id = 1;"
)
_EVENTS = {"insert": "INSERT", "delete": "DELETE", "update": f"UPDATE OF {_MATCHED}"}


def upgrade() -> None:
    with op.batch_alter_table("event_feed_counter") as batch:
        batch.add_column(sa.Column("webhook_generation", sa.Integer(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_webhook_generation() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_BUMP} RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER webhook_subscriptions_generation "
            f"AFTER INSERT OR DELETE OR UPDATE OF {_MATCHED} ON webhook_subscriptions "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_webhook_generation()"
        )
        return
    for name, event in _EVENTS.items():
        op.execute(
            f"CREATE TRIGGER webhook_subscriptions_generation_{name} AFTER {event} ON webhook_subscriptions "
            f"BEGIN {_BUMP} END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER webhook_subscriptions_generation ON webhook_subscriptions")
        op.execute("DROP FUNCTION bump_webhook_generation()")
    else:
        for name in _EVENTS:
            op.execute(f"DROP TRIGGER webhook_subscriptions_generation_{name}")
    with op.batch_alter_table("event_feed_counter") as batch:
        batch.drop_column("webhook_generation")
