"""card sightings' references checked once per batch, not per row: the three foreign keys of card_sightings give
way to guards on the rows they name, as 0026 did for gas readings (G-06, AU-03, issue 14)

A batch of 500 sightings made PostgreSQL run 1,500 foreign-key checks (batch, enterprise, area), 5-6 ms of the
~15 ms of database CPU a batch cost (a batch's CPU in the service ~20 ms). position_snapshots keep theirs: a batch
holds one row per snapshot, and dropping their keys changed nothing measurable. What the keys guaranteed is kept
another way:

- On insert, every reference is one the batch's own transaction resolved: the batch row it inserted (its enterprise
  checked by ingest_batches' own key), the areas it read by code (service.check_sightings). Sightings are only ever
  inserted (0021), so a reference is never changed afterwards.
- On delete, a row that sightings name can no longer go: a trigger on each of ingest_batches, enterprises and
  plant_areas refuses its DELETE (or a change of its id) while a card sighting names it, as the keys refused it. The
  service deletes none of these rows (AU-03). The triggers fire on those tables' deletes only, never on the push
  path. card_sightings carry an index on batch_id and one led by enterprise_id; the area's check scans, as the
  key's own check did.
- What the keys did and the triggers cannot: a key's check locked the named row until the batch committed; a
  hand-run DELETE of an area in the very moment its first sightings are written would now succeed.

SQLite rebuilds the table to drop its keys, and with it the append-only guard of 0021, which is created again.

Revision ID: 0028_card_sightings_references
Revises: 0027_context_generation
Create Date: 2026-12-05 01:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0028_card_sightings_references"
down_revision = "0027_context_generation"
branch_labels = None
depends_on = None

# card_sightings' column -> the table it names (the keys of 0001, named by the metadata's convention)
REFERENCES = {
    "batch_id": "ingest_batches",
    "enterprise_id": "enterprises",
    "area_id": "plant_areas",
}


def _key(column: str) -> str:
    return f"fk_card_sightings_{column}_{REFERENCES[column]}"


def _message(table: str) -> str:
    return f"AU-03: card sightings name this row of {table}; it is kept"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in REFERENCES:
            op.drop_constraint(_key(column), "card_sightings", type_="foreignkey")
        # One function for the three tables: the column of card_sightings that names the table comes as the argument.
        op.execute(
            "CREATE FUNCTION keep_rows_card_sightings_name() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "DECLARE named boolean; BEGIN "
            "IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN RETURN NEW; END IF; "
            "EXECUTE format('SELECT EXISTS (SELECT 1 FROM card_sightings WHERE %I = $1)', TG_ARGV[0]) "
            "INTO named USING OLD.id; "
            "IF named THEN RAISE EXCEPTION 'AU-03: card sightings name this row of %; it is kept', TG_TABLE_NAME "
            "USING ERRCODE = 'foreign_key_violation'; END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
        )
        for column, table in REFERENCES.items():
            op.execute(
                f"CREATE TRIGGER {table}_named_by_card_sightings BEFORE DELETE OR UPDATE OF id ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION keep_rows_card_sightings_name('{column}')"
            )
        return
    with op.batch_alter_table("card_sightings", recreate="always") as batch:
        for column in REFERENCES:
            batch.drop_constraint(_key(column), type_="foreignkey")
    _append_only_on_sqlite()
    for column, table in REFERENCES.items():
        named = f"EXISTS (SELECT 1 FROM card_sightings WHERE {column} = OLD.id)"  # noqa: S608 - our own names
        op.execute(
            f"CREATE TRIGGER {table}_named_by_card_sightings_delete BEFORE DELETE ON {table} WHEN {named} "
            f"BEGIN SELECT RAISE(ABORT, '{_message(table)}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_named_by_card_sightings_update BEFORE UPDATE OF id ON {table} "
            f"WHEN NEW.id <> OLD.id AND {named} BEGIN SELECT RAISE(ABORT, '{_message(table)}'); END"
        )


def _append_only_on_sqlite() -> None:
    """0021's guard, lost with the table SQLite rebuilt."""
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER card_sightings_no_{verb.lower()} BEFORE {verb} ON card_sightings BEGIN "
            f"SELECT RAISE(ABORT, 'AU-01: card_sightings are append-only; {verb} refused'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in REFERENCES.values():
            op.execute(f"DROP TRIGGER {table}_named_by_card_sightings ON {table}")
        op.execute("DROP FUNCTION keep_rows_card_sightings_name()")
        for column, table in REFERENCES.items():
            op.create_foreign_key(_key(column), "card_sightings", table, [column], ["id"])
        return
    for table in REFERENCES.values():
        op.execute(f"DROP TRIGGER {table}_named_by_card_sightings_delete")
        op.execute(f"DROP TRIGGER {table}_named_by_card_sightings_update")
    with op.batch_alter_table("card_sightings", recreate="always") as batch:
        for column, table in REFERENCES.items():
            batch.create_foreign_key(_key(column), table, [column], ["id"])
    _append_only_on_sqlite()
