"""customer metrics: keyed by (shop, customer key), without the row id and the RFM segment index

A shop's full run rewrites every one of its rows, and each index is written once per row: for
a shop of 1.09 M customers, the ``id`` key and its sequence cost 1.5 s of the inserts and the
(shop, RFM segment) index 1.2–2.1 s (7.8 s with both, 4.4–5.0 s without). Nothing finds a row
by its id: every row is found by (shop, customer key), which was already unique and is now the
primary key. The RFM segment counts read all of the shop's rows, and a segment's members are
matched over the shop's rows in key order, so neither needs the index. A count of one RFM
segment did use it, and takes as long without it: the Champions among 1.09 M rows were counted
in 0.24–0.25 s with it and 0.24–0.31 s without (a scan of the shop's rows).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_customer_metrics_shop_id_rfm_segment', table_name='customer_metrics')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE customer_metrics DROP CONSTRAINT pk_customer_metrics')
        op.execute('ALTER TABLE customer_metrics DROP COLUMN id')
        op.execute('ALTER TABLE customer_metrics DROP CONSTRAINT uq_customer_metrics_shop_id_customer_key')
        op.execute('ALTER TABLE customer_metrics ADD CONSTRAINT pk_customer_metrics PRIMARY KEY (shop_id, customer_key)')
        return
    with op.batch_alter_table('customer_metrics', schema=None, recreate='always') as batch_op:
        batch_op.drop_constraint('uq_customer_metrics_shop_id_customer_key', type_='unique')
        batch_op.drop_constraint('pk_customer_metrics', type_='primary')
        batch_op.drop_column('id')
        batch_op.create_primary_key('pk_customer_metrics', ['shop_id', 'customer_key'])


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE customer_metrics DROP CONSTRAINT pk_customer_metrics')
        op.execute('ALTER TABLE customer_metrics ADD COLUMN id BIGSERIAL NOT NULL')
        op.execute('ALTER TABLE customer_metrics ADD CONSTRAINT pk_customer_metrics PRIMARY KEY (id)')
        op.execute('ALTER TABLE customer_metrics ADD CONSTRAINT uq_customer_metrics_shop_id_customer_key '
                   'UNIQUE (shop_id, customer_key)')
    else:
        with op.batch_alter_table('customer_metrics', schema=None, recreate='always') as batch_op:
            batch_op.drop_constraint('pk_customer_metrics', type_='primary')
            batch_op.add_column(sa.Column('id', sa.Integer(), nullable=True))
        op.execute('UPDATE customer_metrics SET id = rowid')
        with op.batch_alter_table('customer_metrics', schema=None, recreate='always') as batch_op:
            batch_op.alter_column('id', existing_type=sa.Integer(), nullable=False)
            batch_op.create_primary_key('pk_customer_metrics', ['id'])
            batch_op.create_unique_constraint('uq_customer_metrics_shop_id_customer_key', ['shop_id', 'customer_key'])
    op.create_index('ix_customer_metrics_shop_id_rfm_segment', 'customer_metrics', ['shop_id', 'rfm_segment'],
                    unique=False)
