"""permit documents: a finished permit's answer rendered once, so that reading it is one statement (issue 14)

Empty after the upgrade: a permit gets its document when it next finishes; `permit-service documents rebuild`
renders the finished permits of a live database (until then they are read as before, only slower).

Revision ID: 0024_permit_documents
Revises: 0023_chain_head_follows_events
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_permit_documents"
down_revision = "0023_chain_head_follows_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "permit_documents",
        sa.Column("permit_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["permit_id"],
            ["permits.id"],
            name=op.f("fk_permit_documents_permit_id_permits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("permit_id", name=op.f("pk_permit_documents")),
    )


def downgrade() -> None:
    op.drop_table("permit_documents")
