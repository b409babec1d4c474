"""segments: members no longer check their shop on every insert; their segment already does

``segment_members.shop_id`` copies the segment's shop so that a customer's memberships can be
found by (shop, customer key). Its foreign key to ``shops`` added nothing: a member's segment
must exist (``fk_segment_members_segment_id_segments``), the segment's shop must exist, and a
shop's deletion reaches the members through its segments (both cascade). It cost a lookup of the
shop per member written: a large shop's first run writes a million members, 3.4 s of 20.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""
from __future__ import annotations

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('segment_members', schema=None) as batch_op:
        batch_op.drop_constraint('fk_segment_members_shop_id_shops', type_='foreignkey')


def downgrade() -> None:
    # members whose shop is gone cannot exist: their segments cascade with the shop
    with op.batch_alter_table('segment_members', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_segment_members_shop_id_shops', 'shops', ['shop_id'], ['id'],
                                    ondelete='CASCADE')
