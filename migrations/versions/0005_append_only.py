"""audit: events, signatures, gas tests and sealed checkpoints are append-only in the database itself (AU-01)

A row trigger refuses every UPDATE and DELETE of these tables, whoever sends it, so a bug or a stolen service
credential cannot rewrite the record; on PostgreSQL the README's production section adds the grants (the
service's role gets SELECT and INSERT only, and does not own the tables, so it cannot drop the triggers).
Consents have no table of their own: a regulator's consent is an event (`job.consented`) and the job's state.
TRUNCATE fires no row trigger: the test harness still empties PostgreSQL tables between tests.

On SQLite a table rebuilt by a later batch migration loses its triggers: such a migration must call
`create_guards()` again for that table.

Revision ID: 0005_append_only
Revises: 0004_audit_checkpoints
Create Date: 2026-12-03 19:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0005_append_only"
down_revision = "0004_audit_checkpoints"
branch_labels = None
depends_on = None

APPEND_ONLY = ("events", "signatures", "gas_tests", "audit_checkpoints", "audit_checkpoint_heads")


def create_guards(table: str) -> None:
    """Refuse UPDATE and DELETE of `table`'s rows (AU-01)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change_of_record()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
            f"SELECT RAISE(ABORT, 'AU-01: {table} are append-only; {verb} refused'); END"
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION refuse_change_of_record() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'AU-01: % are append-only; % refused', TG_TABLE_NAME, TG_OP "
            "USING ERRCODE = 'insufficient_privilege'; END $$"
        )
    for table in APPEND_ONLY:
        create_guards(table)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        if postgres:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        else:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
    if postgres:
        op.execute("DROP FUNCTION refuse_change_of_record()")
