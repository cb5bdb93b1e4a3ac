"""audit: a hash chain per subject instead of per enterprise (no enterprise-wide write lock)

0.1.0 chained every event of an enterprise (or region) into one chain, so each write of an enterprise waited
on one head row. From here on each subject (a permit, a job, an area, a person...) has its own chain. The
0.1.0 chains are kept as they are, verified history under their old names (`enterprise:<id>`, `region:<id>`,
`system`): re-linking them would mean recomputing every hash and throwing away the proof they carry. They
receive no new events. Each event gets its position in its chain (`seq`), numbered here for 0.1.0's rows in
the order they were appended; each head gets its tenant and how far the sealed checkpoints cover it.

Revision ID: 0003_audit_chain_per_subject
Revises: 0002_area_boundaries
Create Date: 2026-12-03 18:45:00
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003_audit_chain_per_subject"
down_revision = "0002_area_boundaries"
branch_labels = None
depends_on = None

_heads = sa.table(
    "event_chain_heads",
    sa.column("chain", sa.String),
    sa.column("enterprise_id", sa.Uuid),
    sa.column("region_id", sa.Uuid),
)


def upgrade() -> None:
    with op.batch_alter_table("event_chain_heads") as batch_op:
        batch_op.add_column(sa.Column("enterprise_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("region_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("sealed_length", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch_op.create_index(batch_op.f("ix_event_chain_heads_enterprise_id"), ["enterprise_id"], unique=False)
    with op.batch_alter_table("events") as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.execute(
        "UPDATE events SET seq = numbered.n FROM "
        "(SELECT id, row_number() OVER (PARTITION BY chain ORDER BY id) AS n FROM events) AS numbered "
        "WHERE events.id = numbered.id"
    )
    bind = op.get_bind()
    for chain in bind.scalars(sa.select(_heads.c.chain)).all():
        scope, _, ident = chain.partition(":")
        column = {"enterprise": "enterprise_id", "region": "region_id"}.get(scope)
        if column:
            bind.execute(sa.update(_heads).where(_heads.c.chain == chain).values({column: uuid.UUID(ident)}))
    with op.batch_alter_table("events") as batch_op:
        batch_op.create_index("ix_events_chain_seq", ["chain", "seq"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_index("ix_events_chain_seq")
        batch_op.drop_column("seq")
    with op.batch_alter_table("event_chain_heads") as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_chain_heads_enterprise_id"))
        batch_op.drop_column("sealed_length")
        batch_op.drop_column("region_id")
        batch_op.drop_column("enterprise_id")
