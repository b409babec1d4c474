"""messaging: a shop's own messaging settings, consent write-back retry time, carts read in cursor order

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.store.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('messaging_settings',
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('updated_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_messaging_settings_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', name=op.f('pk_messaging_settings'))
    )
    with op.batch_alter_table('consent_writebacks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', app.store.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('carts', schema=None) as batch_op:
        batch_op.create_index('ix_carts_shop_id_updated_at_id', ['shop_id', 'updated_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('carts', schema=None) as batch_op:
        batch_op.drop_index('ix_carts_shop_id_updated_at_id')
    with op.batch_alter_table('consent_writebacks', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_at')
    op.drop_table('messaging_settings')
