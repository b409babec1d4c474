"""messaging: the email outbox, suppressions, clicks, consent write-backs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.store.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consent_writebacks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('customer_external_id', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('requested_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('written_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_consent_writebacks_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_writebacks')),
    sa.UniqueConstraint('shop_id', 'email', name=op.f('uq_consent_writebacks_shop_id_email'))
    )
    with op.batch_alter_table('consent_writebacks', schema=None) as batch_op:
        batch_op.create_index('ix_consent_writebacks_status', ['status'], unique=False)

    op.create_table('email_suppressions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('created_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_email_suppressions_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_suppressions')),
    sa.UniqueConstraint('shop_id', 'email', name=op.f('uq_email_suppressions_shop_id_email'))
    )
    op.create_table('messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_external_id', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=191), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('not_before', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('created_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('clicked_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_messages_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('shop_id', 'dedupe_key', name=op.f('uq_messages_shop_id_dedupe_key')),
    sa.UniqueConstraint('token', name=op.f('uq_messages_token'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_shop_id_customer_external_id', ['shop_id', 'customer_external_id'], unique=False)
        batch_op.create_index('ix_messages_shop_id_email', ['shop_id', 'email'], unique=False)
        batch_op.create_index('ix_messages_status_not_before', ['status', 'not_before'], unique=False)

    op.create_table('message_clicks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('clicked_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_message_clicks_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_message_clicks_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_clicks'))
    )
    with op.batch_alter_table('message_clicks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_clicks_message_id'), ['message_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('message_clicks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_clicks_message_id'))

    op.drop_table('message_clicks')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_status_not_before')
        batch_op.drop_index('ix_messages_shop_id_email')
        batch_op.drop_index('ix_messages_shop_id_customer_external_id')

    op.drop_table('messages')
    op.drop_table('email_suppressions')
    with op.batch_alter_table('consent_writebacks', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_writebacks_status')

    op.drop_table('consent_writebacks')
