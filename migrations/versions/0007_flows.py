"""flows: versioned flow definitions, flow runs (one per trigger), the triggers' cursor

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.store.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('flow_cursors',
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cart_updated_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cart_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_updated_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('loyalty_event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('marks', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_flow_cursors_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', name=op.f('pk_flow_cursors'))
    )
    op.create_table('flow_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('flow_key', sa.String(length=40), nullable=False),
    sa.Column('flow_version', sa.Integer(), nullable=False),
    sa.Column('trigger_key', sa.String(length=191), nullable=False),
    sa.Column('subject_kind', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('customer_external_id', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('next_step', sa.Integer(), nullable=False),
    sa.Column('next_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reference_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('exit_reason', sa.Text(), nullable=True),
    sa.Column('is_holdout', sa.Boolean(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('job_id', sa.String(length=191), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('updated_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_flow_runs_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flow_runs')),
    sa.UniqueConstraint('shop_id', 'flow_key', 'trigger_key', name=op.f('uq_flow_runs_shop_id_flow_key_trigger_key'))
    )
    with op.batch_alter_table('flow_runs', schema=None) as batch_op:
        batch_op.create_index('ix_flow_runs_shop_id_customer_external_id', ['shop_id', 'customer_external_id'], unique=False)
        batch_op.create_index('ix_flow_runs_shop_id_email', ['shop_id', 'email'], unique=False)
        batch_op.create_index('ix_flow_runs_shop_id_flow_key_id', ['shop_id', 'flow_key', 'id'], unique=False)
        batch_op.create_index('ix_flow_runs_shop_id_subject_id', ['shop_id', 'subject_id'], unique=False)
        batch_op.create_index('ix_flow_runs_state_next_at', ['state', 'next_at'], unique=False)

    op.create_table('flows',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('enabled_since', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_flows_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flows')),
    sa.UniqueConstraint('shop_id', 'key', 'version', name=op.f('uq_flows_shop_id_key_version'))
    )


def downgrade() -> None:
    op.drop_table('flows')
    with op.batch_alter_table('flow_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_flow_runs_state_next_at')
        batch_op.drop_index('ix_flow_runs_shop_id_subject_id')
        batch_op.drop_index('ix_flow_runs_shop_id_flow_key_id')
        batch_op.drop_index('ix_flow_runs_shop_id_email')
        batch_op.drop_index('ix_flow_runs_shop_id_customer_external_id')

    op.drop_table('flow_runs')
    op.drop_table('flow_cursors')
