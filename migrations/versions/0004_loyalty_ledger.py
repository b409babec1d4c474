"""loyalty: versioned programs, members, the points ledger and redemptions (the code outbox)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.store.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_shop_id_updated_at_id', ['shop_id', 'updated_at', 'id'], unique=False)
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index('ix_refunds_shop_id_created_at_id', ['shop_id', 'created_at', 'id'], unique=False)
    op.create_table('loyalty_cursors',
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_updated_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('refund_created_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refund_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_loyalty_cursors_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', name=op.f('pk_loyalty_cursors'))
    )
    op.create_table('loyalty_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_external_id', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('created_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('claimed_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['claimed_by_id'], ['loyalty_members.id'], name=op.f('fk_loyalty_members_claimed_by_id_loyalty_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_loyalty_members_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_members')),
    sa.UniqueConstraint('shop_id', 'customer_external_id', name=op.f('uq_loyalty_members_shop_id_customer_external_id'))
    )
    with op.batch_alter_table('loyalty_members', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_members_guest_email', ['shop_id', 'email'], unique=True, postgresql_where=sa.text('customer_external_id IS NULL'), sqlite_where=sa.text('customer_external_id IS NULL'))

    op.create_table('loyalty_programs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_loyalty_programs_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_programs')),
    sa.UniqueConstraint('shop_id', 'version', name=op.f('uq_loyalty_programs_shop_id_version'))
    )
    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('cause', sa.String(length=32), nullable=False),
    sa.Column('cause_key', sa.String(length=191), nullable=False),
    sa.Column('order_external_id', sa.String(length=64), nullable=True),
    sa.Column('program_version', sa.Integer(), nullable=False),
    sa.Column('available_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['loyalty_members.id'], name=op.f('fk_ledger_entries_member_id_loyalty_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_ledger_entries_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('shop_id', 'cause_key', name=op.f('uq_ledger_entries_shop_id_cause_key'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_member_id_available_at', ['member_id', 'available_at'], unique=False)
        batch_op.create_index('ix_ledger_entries_shop_id_created_at', ['shop_id', 'created_at'], unique=False)
        batch_op.create_index('ix_ledger_entries_shop_id_order_external_id', ['shop_id', 'order_external_id'], unique=False)

    op.create_table('redemptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('reward_id', sa.String(length=40), nullable=False),
    sa.Column('reward', sa.JSON(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('discount_external_id', sa.String(length=255), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('expires_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['loyalty_members.id'], name=op.f('fk_redemptions_member_id_loyalty_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_redemptions_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions')),
    sa.UniqueConstraint('shop_id', 'code', name=op.f('uq_redemptions_shop_id_code')),
    sa.UniqueConstraint('shop_id', 'idempotency_key', name=op.f('uq_redemptions_shop_id_idempotency_key'))
    )
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redemptions_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_redemptions_status_created_at', ['status', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_status_created_at')
        batch_op.drop_index(batch_op.f('ix_redemptions_member_id'))

    op.drop_table('redemptions')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_shop_id_order_external_id')
        batch_op.drop_index('ix_ledger_entries_shop_id_created_at')
        batch_op.drop_index('ix_ledger_entries_member_id_available_at')

    op.drop_table('ledger_entries')
    op.drop_table('loyalty_programs')
    with op.batch_alter_table('loyalty_members', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_members_guest_email', postgresql_where=sa.text('customer_external_id IS NULL'), sqlite_where=sa.text('customer_external_id IS NULL'))

    op.drop_table('loyalty_members')
    op.drop_table('loyalty_cursors')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_refunds_shop_id_created_at_id')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_shop_id_updated_at_id')
