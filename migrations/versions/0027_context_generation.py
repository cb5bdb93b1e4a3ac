"""context generation: every change to freezes, calendar years and calendar overrides moves one number, read with
the permit an action or a read loads (issue 14)

Every action read its region's declared freezes (FZ-02/03) and holiday calendar (HW-03, FZ-04) afresh, two
statements of its locked transaction, although both change a few times a year. `context_generation.generation`
(one row) is moved by a statement trigger on each of the three tables, whoever writes them; the statement that
loads a permit also reads it, and a process keeps the freezes and calendars it read at that generation, reading
them again only once the number moved. A missing row (a database emptied by TRUNCATE) reads as 0; the first
change creates it.

Revision ID: 0027_context_generation
Revises: 0026_gas_readings_references
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_context_generation"
down_revision = "0026_gas_readings_references"
branch_labels = None
depends_on = None

TABLES = ("freezes", "calendar_years", "calendar_overrides")
_BUMP = (
    "INSERT INTO context_generation (id, generation) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET generation = context_generation.generation + 1;"
)
_EVENTS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    op.create_table(
        "context_generation",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_context_generation")),
    )
    op.execute("INSERT INTO context_generation (id, generation) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_context_generation() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_BUMP} RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_context_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_context_generation()"
            )
        return
    for table in TABLES:
        for event in _EVENTS:
            op.execute(
                f"CREATE TRIGGER {table}_context_generation_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN {_BUMP} END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_context_generation ON {table}")
        op.execute("DROP FUNCTION bump_context_generation()")
    else:
        for table in TABLES:
            for event in _EVENTS:
                op.execute(f"DROP TRIGGER {table}_context_generation_{event.lower()}")
    op.drop_table("context_generation")
