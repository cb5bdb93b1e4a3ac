"""audit: sealed checkpoints over the chain heads of each enterprise, which regulators keep (AU-02)

The chain heads that exist at upgrade (0.1.0's per-enterprise chains among them) are sealed by the scheduler's
first run, like any head that moved.

Revision ID: 0004_audit_checkpoints
Revises: 0003_audit_chain_per_subject
Create Date: 2026-12-03 19:10:05.161786
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import permit_service.db


revision = '0004_audit_checkpoints'
down_revision = '0003_audit_chain_per_subject'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_checkpoints',
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('enterprise_id', sa.Uuid(), nullable=True),
    sa.Column('region_id', sa.Uuid(), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('created_at', permit_service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('heads_root', sa.String(length=64), nullable=False),
    sa.Column('chains', sa.Integer(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_audit_checkpoints_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_audit_checkpoints_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_checkpoints_hash')),
    sa.UniqueConstraint('scope', 'seq', name=op.f('uq_audit_checkpoints_scope_seq'))
    )
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_checkpoints_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_checkpoints_region_id'), ['region_id'], unique=False)

    op.create_table('audit_checkpoint_heads',
    sa.Column('checkpoint_id', sa.Uuid(), nullable=False),
    sa.Column('chain', sa.String(length=64), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['audit_checkpoints.id'], name=op.f('fk_audit_checkpoint_heads_checkpoint_id_audit_checkpoints')),
    sa.PrimaryKeyConstraint('checkpoint_id', 'chain', name=op.f('pk_audit_checkpoint_heads'))
    )
    with op.batch_alter_table('audit_checkpoint_heads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_checkpoint_heads_chain'), ['chain'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('audit_checkpoint_heads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_checkpoint_heads_chain'))

    op.drop_table('audit_checkpoint_heads')
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_checkpoints_region_id'))
        batch_op.drop_index(batch_op.f('ix_audit_checkpoints_enterprise_id'))

    op.drop_table('audit_checkpoints')
