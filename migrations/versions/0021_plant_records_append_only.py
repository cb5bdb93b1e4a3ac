"""plant records append-only: gas readings, position snapshots and card sightings as pushed (AU-01, DC-01, G-06)

What the plant's systems reported is evidence the service judged on: a reading behind a gas alarm and a stop
(HW-08, CS-04), a snapshot behind a headcount or guardian suspension (HC-04), a card sighting behind an on-site
signature (G-06). The service only ever inserts them and keeps them (DC-05 forgets a batch's key, never its data),
so they get the guard of 0005: every UPDATE and DELETE is refused, whoever sends it. A row trigger fires on UPDATE
and DELETE only, so pushes insert as fast as before. Where a card stands now (`card_locations`) and the batches'
keys (`ingest_batches`) change, and stay unguarded.

Revision ID: 0021_plant_records_append_only
Revises: 0020_high_risk_answer
Create Date: 2026-12-04 17:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0021_plant_records_append_only"
down_revision = "0020_high_risk_answer"
branch_labels = None
depends_on = None

TABLES = ("gas_readings", "position_snapshots", "card_sightings")


def upgrade() -> None:
    # The guard of 0005_append_only (its function refuse_change_of_record() exists on PostgreSQL).
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgres:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION refuse_change_of_record()"
            )
            continue
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, 'AU-01: {table} are append-only; {verb} refused'); END"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgres:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        else:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
