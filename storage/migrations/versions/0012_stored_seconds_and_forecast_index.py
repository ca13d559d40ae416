"""Report figures without date arithmetic per row: the length of the stay a stage change
ends and a closed deal's created -> closed time, stored as seconds (and covered by the
moves and closed-deal indexes in place of the timestamps they came from); an index for the
forecast that reads only the open deals expected within its months.

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

_SECONDS = {
    'sqlite': "(julianday({later}) - julianday({earlier})) * 86400.0",
    'postgresql': "EXTRACT(EPOCH FROM ({later} - {earlier}))",
}


def upgrade() -> None:
    # Plain ADD COLUMN / CREATE INDEX: no batch rebuild of a table of millions of rows.
    seconds = _SECONDS[op.get_bind().dialect.name]
    op.add_column('stagechange', sa.Column('stay_seconds', sa.Float(), nullable=True))
    stay = seconds.format(later='at', earlier='from_entered_at')
    op.execute(f"UPDATE stagechange SET stay_seconds = {stay} WHERE from_entered_at IS NOT NULL")
    op.add_column('deal', sa.Column('cycle_seconds', sa.Float(), nullable=True))
    cycle = seconds.format(later='closed_at', earlier='created_at')
    op.execute(f"UPDATE deal SET cycle_seconds = {cycle} WHERE closed_at IS NOT NULL")
    op.drop_index('ix_deal_team_currency_closed', table_name='deal')
    op.create_index('ix_deal_team_currency_closed', 'deal', ['team_id', 'currency', 'stage_id', 'owner_id', 'closed_at', 'amount', 'cycle_seconds'], unique=False)
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
    op.drop_index('ix_deal_team_currency_closed', table_name='deal')
    op.create_index('ix_deal_team_currency_closed', 'deal', ['team_id', 'currency', 'stage_id', 'owner_id', 'closed_at', 'amount', 'created_at'], unique=False)
    op.drop_column('deal', 'cycle_seconds')
