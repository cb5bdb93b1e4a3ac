"""permits.high_risk_kind may say 'none': every permit answers whether it is Plan-27 work (HR-01)

Existing permits keep NULL (never answered): a draft among them is asked at submit.

Revision ID: 0020_high_risk_answer
Revises: 0019_countersigning_departments
Create Date: 2026-12-04 16:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0020_high_risk_answer"
down_revision = "0019_countersigning_departments"
branch_labels = None
depends_on = None

PLAN27 = "'leak_plugging', 'tank_cleaning', 'water_draining', 'unplanned_maintenance'"


def _check(kinds: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite rebuilds the table to change a CHECK: rows referring to permits copied later (reissued_from_id)
        # are checked at commit, when every row is back.
        op.execute("PRAGMA defer_foreign_keys = ON")
    with op.batch_alter_table("permits") as batch:
        batch.drop_constraint(op.f("ck_permits_high_risk_kind"), type_="check")
        batch.create_check_constraint("high_risk_kind", f"high_risk_kind IN ({kinds})")


def upgrade() -> None:
    _check(f"{PLAN27}, 'none'")


def downgrade() -> None:
    op.execute("UPDATE permits SET high_risk_kind = NULL WHERE high_risk_kind = 'none'")
    _check(PLAN27)
