"""countersigning departments: enterprise_countersigning, people.departments, permits.countersign_departments
(EX-01, RC-01)

The departments that countersign an excavation or road closure are the enterprise's configured list (its default
where it configured none), fixed on the permit at submission, each signed by a person of that department. Permits
submitted before keep the departments they were submitted with: the type's own (road closure's fire and safety) and
those the applicant listed in facts.countersign_departments.

Revision ID: 0019_countersigning_departments
Revises: 0018_crew_certificates
Create Date: 2026-12-04 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import permit_service.db

revision = "0019_countersigning_departments"
down_revision = "0018_crew_certificates"
branch_labels = None
depends_on = None

_ALWAYS = {"excavation": (), "road_closure": ("fire", "safety")}  # RC-01


def upgrade() -> None:
    op.create_table(
        "enterprise_countersigning",
        sa.Column("enterprise_id", sa.Uuid(), nullable=False),
        sa.Column("permit_type", sa.String(length=32), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", permit_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "permit_type IN ('excavation', 'road_closure')", name=op.f("ck_enterprise_countersigning_permit_type")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_enterprise_countersigning_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_countersigning")),
        sa.UniqueConstraint(
            "enterprise_id", "permit_type", name=op.f("uq_enterprise_countersigning_enterprise_id_permit_type")
        ),
    )
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("departments", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("permits") as batch:
        batch.add_column(
            sa.Column("countersign_departments", sa.JSON(), nullable=False, server_default="[]")
        )
    permits = sa.table(
        "permits",
        sa.column("id"),  # untyped: the stored value goes back as it came
        sa.column("type", sa.String()),
        sa.column("state", sa.String()),
        sa.column("facts", sa.JSON()),
        sa.column("countersign_departments", sa.JSON()),
    )
    conn = op.get_bind()
    submitted = conn.execute(
        sa.select(permits.c.id, permits.c.type, permits.c.facts).where(
            permits.c.type.in_(list(_ALWAYS)), permits.c.state != "draft"
        )
    ).all()
    for permit_id, permit_type, facts in submitted:
        listed = (facts or {}).get("countersign_departments")
        listed = [d for d in listed if isinstance(d, str)] if isinstance(listed, list) else []
        departments = list(dict.fromkeys([*_ALWAYS[permit_type], *listed]))
        conn.execute(
            permits.update().where(permits.c.id == permit_id).values(countersign_departments=departments)
        )


def downgrade() -> None:
    with op.batch_alter_table("permits") as batch:
        batch.drop_column("countersign_departments")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("departments")
    op.drop_table("enterprise_countersigning")
