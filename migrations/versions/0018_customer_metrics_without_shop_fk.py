"""customer metrics: no foreign key to the shop and no index by customer id, both unused per row written

A shop's full run rewrites every one of its ``customer_metrics`` rows. Inserting a large shop's
1.09 M rows (``INSERT … SELECT`` in key order, after a checkpoint) took 2.3–2.7 s with the
primary key alone, 2.8–2.9 s with the (shop, customer id) index too, 4.7–4.8 s with the foreign
key to ``shops`` instead, and 5.5–5.8 s with both, as before this revision.

- The foreign key looked up the shop once per row. A shop's rows are written only by its full
  run and its refreshes, each of which first locks (or creates) the shop's ``segment_models``
  row, whose own foreign key to ``shops`` holds; shops are never deleted (a shop's redaction
  keeps the row and deletes its figures by shop, ``app.store.privacy.redact_shop``).
- Nothing finds a row by its customer id: every read is by (shop, customer key), the primary
  key, where the key of a store customer is ``c:<customer id>``.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""
from __future__ import annotations

from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_customer_metrics_shop_id_customer_external_id', table_name='customer_metrics')
    with op.batch_alter_table('customer_metrics', schema=None) as batch_op:
        batch_op.drop_constraint('fk_customer_metrics_shop_id_shops', type_='foreignkey')


def downgrade() -> None:
    # rows whose shop is gone cannot exist: shops are never deleted (see above)
    with op.batch_alter_table('customer_metrics', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_customer_metrics_shop_id_shops', 'shops', ['shop_id'], ['id'],
                                    ondelete='CASCADE')
    op.create_index('ix_customer_metrics_shop_id_customer_external_id', 'customer_metrics',
                    ['shop_id', 'customer_external_id'], unique=False)
