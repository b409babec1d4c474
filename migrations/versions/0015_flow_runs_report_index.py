"""flows: index the runs of a flow by when they started, for the reports over a period

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_flow_runs_shop_id_flow_key_started_at', 'flow_runs',
                    ['shop_id', 'flow_key', 'started_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_flow_runs_shop_id_flow_key_started_at', table_name='flow_runs')
