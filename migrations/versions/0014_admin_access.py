"""admin: merchant sign-in addresses, magic links, onboarding progress

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.store.types import UTCDateTime


def _big_id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'merchant_logins',
        sa.Column('id', _big_id(), nullable=False),
        sa.Column('shop_id', _big_id(), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('last_signed_in_at', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_merchant_logins_shop_id_shops'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_merchant_logins')),
        sa.UniqueConstraint('shop_id', 'email', name=op.f('uq_merchant_logins_shop_id_email')),
    )
    op.create_index('ix_merchant_logins_email', 'merchant_logins', ['email'], unique=False)
    op.create_table(
        'magic_links',
        sa.Column('id', _big_id(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('used_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_magic_links')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_magic_links_token_hash')),
    )
    op.create_index(op.f('ix_magic_links_email'), 'magic_links', ['email'], unique=False)
    op.create_table(
        'onboarding',
        sa.Column('shop_id', _big_id(), nullable=False),
        sa.Column('program_reviewed_at', UTCDateTime(), nullable=True),
        sa.Column('widget_confirmed_at', UTCDateTime(), nullable=True),
        sa.Column('flows_enabled_at', UTCDateTime(), nullable=True),
        sa.Column('skipped_at', UTCDateTime(), nullable=True),
        sa.Column('completed_at', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_onboarding_shop_id_shops'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('shop_id', name=op.f('pk_onboarding')),
    )


def downgrade() -> None:
    op.drop_table('onboarding')
    op.drop_index(op.f('ix_magic_links_email'), table_name='magic_links')
    op.drop_table('magic_links')
    op.drop_index('ix_merchant_logins_email', table_name='merchant_logins')
    op.drop_table('merchant_logins')
