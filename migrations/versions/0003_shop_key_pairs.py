"""shops: key-pair credentials and the secrets we choose per shop (WooCommerce)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.store.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shops', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_secret', app.store.types.EncryptedText(), nullable=True))
        batch_op.add_column(sa.Column('auth_hint', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('webhook_secret', app.store.types.EncryptedText(), nullable=True))
        batch_op.add_column(sa.Column('storefront_secret', app.store.types.EncryptedText(), nullable=True))
        batch_op.add_column(sa.Column('storefront_configured_at', app.store.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('shops', schema=None) as batch_op:
        batch_op.drop_column('storefront_configured_at')
        batch_op.drop_column('storefront_secret')
        batch_op.drop_column('webhook_secret')
        batch_op.drop_column('auth_hint')
        batch_op.drop_column('access_secret')
