"""chain head follows its events: the database writes a chain head's last hash as the event is inserted (AU-02)

audit.record appended an event in three statements: the head's upsert (which takes the next position and the
previous hash under the head's row lock), the event, and the head's new hash. A row trigger on events now writes
that hash in the event's own INSERT, on SQLite and PostgreSQL alike (issue 14: an action's round trips). It moves
a head only to the event at the position the upsert handed out (`seq = length`): a row inserted behind the
service's back, beyond the head, leaves the head where it was and verify still names it.

Revision ID: 0023_chain_head_follows_events
Revises: 0021_plant_records_append_only
Create Date: 2026-12-04 18:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0023_chain_head_follows_events"
down_revision = "0021_plant_records_append_only"
branch_labels = None
depends_on = None

_ADVANCE = "UPDATE event_chain_heads SET last_hash = NEW.hash WHERE chain = NEW.chain AND length = NEW.seq;"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION advance_chain_head() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_ADVANCE} RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_advance_chain_head AFTER INSERT ON events "
            "FOR EACH ROW EXECUTE FUNCTION advance_chain_head()"
        )
        return
    op.execute(f"CREATE TRIGGER events_advance_chain_head AFTER INSERT ON events BEGIN {_ADVANCE} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER events_advance_chain_head ON events")
        op.execute("DROP FUNCTION advance_chain_head()")
        return
    op.execute("DROP TRIGGER events_advance_chain_head")
