"""event feed: a permit event's validity, area, location and work unit as at the event; feed rows append-only

The feed told a permit's validity and area as they read when the feed is read; a draft edit (validity, location,
work unit) or an administrator (an area's code and name) could change them after the event. Each feed row now keeps them as they were when the event was recorded. Rows of earlier
events have none (the feed then shows the permit's current values, as before: only a draft's events can differ).

`event_feed` gets the append-only guard of `events` (0005, AU-01): a position once given is never moved or removed,
which is what lets a platform resume from a cursor. The guard is created after the columns are added: on SQLite
the batch migration rebuilds the table, and a rebuilt table loses its triggers.

Revision ID: 0014_event_feed_at_event
Revises: 0013_principal_on_record
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_event_feed_at_event"
down_revision = "0013_principal_on_record"
branch_labels = None
depends_on = None

TABLE = "event_feed"


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("area_code", sa.String(50), nullable=True))
        batch.add_column(sa.Column("area_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("location", sa.String(200), nullable=True))
        batch.add_column(sa.Column("work_unit", sa.String(200), nullable=True))
    # The guard of 0005_append_only (its function refuse_change_of_record() exists on PostgreSQL).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change_of_record()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} BEGIN "
            f"SELECT RAISE(ABORT, 'AU-01: {TABLE} are append-only; {verb} refused'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {TABLE}_append_only ON {TABLE}")
    else:
        op.execute(f"DROP TRIGGER {TABLE}_no_update")
        op.execute(f"DROP TRIGGER {TABLE}_no_delete")
    with op.batch_alter_table(TABLE) as batch:
        for column in ("work_unit", "location", "area_name", "area_code", "valid_until", "valid_from"):
            batch.drop_column(column)
