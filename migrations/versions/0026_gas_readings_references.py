"""gas readings' references checked once per batch, not per row: the four foreign keys of gas_readings give way to
guards on the rows they name (DC-01, AU-03, issue 14)

A batch of 500 readings made PostgreSQL run 2,000 foreign-key checks (batch, enterprise, detector, area: a locking
index probe each), 6-7 ms of the ~12 ms of database CPU a batch cost; the floor's readings table has none. What the
keys guaranteed is kept another way:

- On insert, every reference is one the batch's own transaction resolved: the batch row it inserted (its enterprise
  checked by ingest_batches' own key, once), the detectors it read by code with their areas (service.check_readings).
  Readings are only ever inserted (0021), so a reference is never changed afterwards.
- On delete, a row that readings name can no longer go: a trigger on each of ingest_batches, enterprises, detectors
  and plant_areas refuses its DELETE (or a change of its id) while a gas reading names it, as the keys refused it.
  The service deletes none of these rows in any case (AU-03: nothing is hard-deleted; a detector is deactivated; a
  batch stays as the provenance of its readings when its key expires, DC-05). The triggers fire on those tables'
  deletes only, which never happen on the push path. readings carry indexes on batch_id, detector_id and area_id;
  the enterprise's check scans, as the key's own check did (deleting an enterprise is not something the service
  does).
- What the keys did and the triggers cannot: a key's check locked the named row until the batch committed. A hand-run
  DELETE of a detector that no committed reading names yet, in the very moment its first batch is written, would
  now succeed and leave that batch's readings naming it. Nothing in the service deletes detectors.

SQLite rebuilds the table to drop its keys, and with it the append-only guard of 0021, which is created again.

Revision ID: 0026_gas_readings_references
Revises: 0025_webhook_generation
Create Date: 2026-12-04 22:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0026_gas_readings_references"
down_revision = "0025_webhook_generation"
branch_labels = None
depends_on = None

# gas_readings' column -> the table it names (the keys of 0001, named by the metadata's convention)
REFERENCES = {
    "batch_id": "ingest_batches",
    "enterprise_id": "enterprises",
    "detector_id": "detectors",
    "area_id": "plant_areas",
}


def _key(column: str) -> str:
    return f"fk_gas_readings_{column}_{REFERENCES[column]}"


def _message(table: str) -> str:
    return f"AU-03: gas readings name this row of {table}; it is kept"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in REFERENCES:
            op.drop_constraint(_key(column), "gas_readings", type_="foreignkey")
        # One function for the four tables: the column of gas_readings that names the table comes as the argument.
        op.execute(
            "CREATE FUNCTION keep_rows_gas_readings_name() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "DECLARE named boolean; BEGIN "
            "IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN RETURN NEW; END IF; "
            "EXECUTE format('SELECT EXISTS (SELECT 1 FROM gas_readings WHERE %I = $1)', TG_ARGV[0]) "
            "INTO named USING OLD.id; "
            "IF named THEN RAISE EXCEPTION 'AU-03: gas readings name this row of %; it is kept', TG_TABLE_NAME "
            "USING ERRCODE = 'foreign_key_violation'; END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
        )
        for column, table in REFERENCES.items():
            op.execute(
                f"CREATE TRIGGER {table}_named_by_gas_readings BEFORE DELETE OR UPDATE OF id ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION keep_rows_gas_readings_name('{column}')"
            )
        return
    with op.batch_alter_table("gas_readings", recreate="always") as batch:
        for column in REFERENCES:
            batch.drop_constraint(_key(column), type_="foreignkey")
    _append_only_on_sqlite()
    for column, table in REFERENCES.items():
        named = f"EXISTS (SELECT 1 FROM gas_readings WHERE {column} = OLD.id)"  # noqa: S608 - our own names
        op.execute(
            f"CREATE TRIGGER {table}_named_by_gas_readings_delete BEFORE DELETE ON {table} WHEN {named} "
            f"BEGIN SELECT RAISE(ABORT, '{_message(table)}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_named_by_gas_readings_update BEFORE UPDATE OF id ON {table} "
            f"WHEN NEW.id <> OLD.id AND {named} BEGIN SELECT RAISE(ABORT, '{_message(table)}'); END"
        )


def _append_only_on_sqlite() -> None:
    """0021's guard, lost with the table SQLite rebuilt."""
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER gas_readings_no_{verb.lower()} BEFORE {verb} ON gas_readings BEGIN "
            f"SELECT RAISE(ABORT, 'AU-01: gas_readings are append-only; {verb} refused'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in REFERENCES.values():
            op.execute(f"DROP TRIGGER {table}_named_by_gas_readings ON {table}")
        op.execute("DROP FUNCTION keep_rows_gas_readings_name()")
        for column, table in REFERENCES.items():
            op.create_foreign_key(_key(column), "gas_readings", table, [column], ["id"])
        return
    for table in REFERENCES.values():
        op.execute(f"DROP TRIGGER {table}_named_by_gas_readings_delete")
        op.execute(f"DROP TRIGGER {table}_named_by_gas_readings_update")
    with op.batch_alter_table("gas_readings", recreate="always") as batch:
        for column, table in REFERENCES.items():
            batch.create_foreign_key(_key(column), table, [column], ["id"])
    _append_only_on_sqlite()
