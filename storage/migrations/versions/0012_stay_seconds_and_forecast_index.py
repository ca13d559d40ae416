"""Report figures without date arithmetic per row: the length of the stay a stage change
ends, stored as seconds (and covered by the moves index in place of from_entered_at); an
index for the forecast that reads only the open deals expected within its months.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (every migration imports it, as the template does)
from alembic import op

import storage.types

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAY = {
    'sqlite': "(julianday(at) - julianday(from_entered_at)) * 86400.0",
    'postgresql': "EXTRACT(EPOCH FROM (at - from_entered_at))",
}


def upgrade() -> None:
    # Plain ADD COLUMN / CREATE INDEX: no batch rebuild of a table of millions of rows.
    op.add_column('stagechange', sa.Column('stay_seconds', sa.Float(), nullable=True))
    stay = _STAY[op.get_bind().dialect.name]
    op.execute(
        f"UPDATE stagechange SET stay_seconds = {stay} WHERE from_entered_at IS NOT NULL"
    )
    op.drop_index('ix_stagechange_team_moves', table_name='stagechange')
    op.create_index('ix_stagechange_team_moves', 'stagechange', ['team_id', 'from_stage_id', 'to_stage_id', 'at', 'stay_seconds'], unique=False)
    # The forecast has its own index now; the figures index no longer needs the date.
    op.drop_index('ix_deal_team_stage_figures', table_name='deal')
    op.create_index('ix_deal_team_stage_figures', 'deal', ['team_id', 'stage_id', 'owner_id', 'currency', 'created_at', 'amount'], unique=False)
    op.create_index('ix_deal_team_stage_forecast', 'deal', ['team_id', 'stage_id', 'currency', 'expected_close', 'owner_id', 'amount'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_deal_team_stage_forecast', table_name='deal')
    op.drop_index('ix_deal_team_stage_figures', table_name='deal')
    op.create_index('ix_deal_team_stage_figures', 'deal', ['team_id', 'stage_id', 'owner_id', 'currency', 'created_at', 'amount', 'expected_close'], unique=False)
    op.drop_index('ix_stagechange_team_moves', table_name='stagechange')
    op.create_index('ix_stagechange_team_moves', 'stagechange', ['team_id', 'from_stage_id', 'to_stage_id', 'at', 'from_entered_at'], unique=False)
    op.drop_column('stagechange', 'stay_seconds')
