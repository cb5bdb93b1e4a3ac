"""crew certificates: permit_crew.certificate_expires_on, certificates.issued_by (G-13)

The certificate a crew member needs now follows from the work and is checked on the person's record; submit records
the one it accepted (kind, number, expiry) on the crew row. Rows filed earlier keep what the applicant declared.

Revision ID: 0018_crew_certificates
Revises: 0017_platform_subscriptions
Create Date: 2026-12-04 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_crew_certificates"
down_revision = "0017_platform_subscriptions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("permit_crew") as batch:
        batch.add_column(sa.Column("certificate_expires_on", sa.Date(), nullable=True))
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("issued_by", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("issued_by")
    with op.batch_alter_table("permit_crew") as batch:
        batch.drop_column("certificate_expires_on")
