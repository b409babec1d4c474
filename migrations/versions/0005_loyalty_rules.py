"""loyalty rules: tiers, expiry, events, referrals, badges

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import app.store.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('loyalty_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=191), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['loyalty_members.id'], name=op.f('fk_loyalty_events_member_id_loyalty_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_loyalty_events_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_events')),
    sa.UniqueConstraint('shop_id', 'key', name=op.f('uq_loyalty_events_shop_id_key'))
    )
    with op.batch_alter_table('loyalty_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_events_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_loyalty_events_shop_id_id', ['shop_id', 'id'], unique=False)

    op.create_table('member_badges',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('challenge_id', sa.String(length=40), nullable=False),
    sa.Column('badge', sa.String(length=80), nullable=False),
    sa.Column('awarded_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['loyalty_members.id'], name=op.f('fk_member_badges_member_id_loyalty_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_member_badges_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_badges')),
    sa.UniqueConstraint('member_id', 'challenge_id', name=op.f('uq_member_badges_member_id_challenge_id'))
    )
    with op.batch_alter_table('member_badges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_badges_shop_id'), ['shop_id'], unique=False)

    op.create_table('referrals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('advocate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('friend_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('friend_email', sa.String(length=320), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('friend_redemption_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('order_external_id', sa.String(length=64), nullable=True),
    sa.Column('qualifies_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=255), nullable=True),
    sa.Column('decided_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', app.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['advocate_id'], ['loyalty_members.id'], name=op.f('fk_referrals_advocate_id_loyalty_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['friend_member_id'], ['loyalty_members.id'], name=op.f('fk_referrals_friend_member_id_loyalty_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['friend_redemption_id'], ['redemptions.id'], name=op.f('fk_referrals_friend_redemption_id_redemptions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_referrals_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals')),
    sa.UniqueConstraint('shop_id', 'friend_email', name=op.f('uq_referrals_shop_id_friend_email'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referrals_advocate_id'), ['advocate_id'], unique=False)
        batch_op.create_index('ix_referrals_shop_id_ip_created_at', ['shop_id', 'ip', 'created_at'], unique=False)
        batch_op.create_index('ix_referrals_shop_id_status', ['shop_id', 'status'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gift_card_amount', app.store.types.MoneyAmount(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('gift_card_amount_known', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.add_column(sa.Column('shipping_address_key', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_orders_shop_id_shipping_address_key', ['shop_id', 'shipping_address_key'],
                              unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_shop_id_updated_at_id', ['shop_id', 'updated_at', 'id'], unique=False)

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', app.store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_ledger_entries_shop_id_expires_at', ['shop_id', 'expires_at'], unique=False)
        batch_op.create_index('ix_ledger_entries_shop_id_available_at', ['shop_id', 'available_at'], unique=False)

    with op.batch_alter_table('loyalty_cursors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_updated_at', app.store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('marks', sa.JSON(), nullable=False, server_default='{}'))

    with op.batch_alter_table('loyalty_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tier', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('tier_since', app.store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('tier_grace_until', app.store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('tier_written', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('referral_code', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('birthday_month', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('birthday_day', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('birthday_set_at', app.store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('display_name', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('leaderboard_opt_in', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('notified_spendable', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_unique_constraint(batch_op.f('uq_loyalty_members_shop_id_referral_code'), ['shop_id', 'referral_code'])
        batch_op.create_index('ix_loyalty_members_shop_id_tier', ['shop_id', 'tier'], unique=False)

    _keep_existing_programs_as_they_were()

    # "Reward available" is news from here on: members already holding points are not told at once.
    op.execute("UPDATE loyalty_members SET notified_spendable = COALESCE((SELECT SUM(points) FROM ledger_entries "
               "WHERE ledger_entries.member_id = loyalty_members.id), 0)")
    op.execute("UPDATE loyalty_members SET notified_spendable = 0 WHERE notified_spendable < 0")



# What this revision starts doing that a program stored before it never did: earn nothing for
# signups, birthdays, reviews, social actions or challenges, apply no tier multiplier, exclude
# no gift-card payments, let nothing expire. A merchant turns them on with a change.
_AS_BEFORE = {"signup_points": 0, "birthday_points": 0, "review_points": 0, "social_actions": [],
              "custom_actions": [], "challenges": [], "exclude_gift_cards": False, "expiry_days": None,
              "referral_advocate_points": 0}


def _keep_existing_programs_as_they_were() -> None:
    """Give each shop that has a program a new version that prices points as the old one did."""
    programs = sa.table('loyalty_programs', sa.column('id', sa.BigInteger()), sa.column('shop_id', sa.BigInteger()),
                        sa.column('version', sa.Integer()), sa.column('settings', sa.JSON()),
                        sa.column('created_by', sa.String()),
                        sa.column('created_at', app.store.types.UTCDateTime(timezone=True)))
    connection = op.get_bind()
    latest = connection.execute(sa.select(programs.c.shop_id, programs.c.version, programs.c.settings)
                                .order_by(programs.c.shop_id, programs.c.version.desc())).all()
    seen: set[int] = set()
    rows = []
    for shop_id, version, settings in latest:
        if shop_id in seen:
            continue
        seen.add(shop_id)
        kept = {**settings, **_AS_BEFORE}
        kept["tiers"] = [{**tier, "multiplier": "1"} for tier in settings.get("tiers", [])]
        rows.append({"shop_id": shop_id, "version": version + 1, "settings": kept,
                     "created_by": "upgrade 0005: as before", "created_at": dt.datetime.now(dt.timezone.utc)})
    if rows:
        op.bulk_insert(programs, rows)


def downgrade() -> None:
    with op.batch_alter_table('loyalty_members', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_members_shop_id_tier')
        batch_op.drop_constraint(batch_op.f('uq_loyalty_members_shop_id_referral_code'), type_='unique')
        batch_op.drop_column('notified_spendable')
        batch_op.drop_column('leaderboard_opt_in')
        batch_op.drop_column('display_name')
        batch_op.drop_column('birthday_set_at')
        batch_op.drop_column('birthday_day')
        batch_op.drop_column('birthday_month')
        batch_op.drop_column('referral_code')
        batch_op.drop_column('tier_written')
        batch_op.drop_column('tier_grace_until')
        batch_op.drop_column('tier_since')
        batch_op.drop_column('tier')

    with op.batch_alter_table('loyalty_cursors', schema=None) as batch_op:
        batch_op.drop_column('marks')
        batch_op.drop_column('customer_id')
        batch_op.drop_column('customer_updated_at')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_shop_id_updated_at_id')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_shop_id_shipping_address_key')
        batch_op.drop_column('shipping_address_key')
        batch_op.drop_column('gift_card_amount_known')
        batch_op.drop_column('gift_card_amount')

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_shop_id_available_at')
        batch_op.drop_index('ix_ledger_entries_shop_id_expires_at')
        batch_op.drop_column('expires_at')

    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index('ix_referrals_shop_id_status')
        batch_op.drop_index('ix_referrals_shop_id_ip_created_at')
        batch_op.drop_index(batch_op.f('ix_referrals_advocate_id'))

    op.drop_table('referrals')
    with op.batch_alter_table('member_badges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_badges_shop_id'))

    op.drop_table('member_badges')
    with op.batch_alter_table('loyalty_events', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_events_shop_id_id')
        batch_op.drop_index(batch_op.f('ix_loyalty_events_member_id'))

    op.drop_table('loyalty_events')
