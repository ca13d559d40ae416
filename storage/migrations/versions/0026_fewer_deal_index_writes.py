"""Fewer index pages written by a stage move (issue 17): ix_deal_team_closed holds closed
deals only (every read of it asks for a span of closing times, which implies one, and a
move between open stages then leaves it alone); ix_deal_team_owner_stage and
ix_stagechange_team_id go, since ix_deal_team_owner_activity and ix_stagechange_team_at
begin with the same columns and answer what they did.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (every migration imports it, as the template does)
from alembic import op

revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLOSED_COLUMNS = [
    'team_id',
    'closed_at',
    'stage_id',
    'owner_id',
    'currency',
    'amount',
    'cycle_seconds',
    'archived',
]
_CLOSED = sa.text('closed_at IS NOT NULL')


def upgrade() -> None:
    op.drop_index('ix_deal_team_closed', table_name='deal')
    op.create_index(
        'ix_deal_team_closed',
        'deal',
        _CLOSED_COLUMNS,
        sqlite_where=_CLOSED,
        postgresql_where=_CLOSED,
    )
    op.drop_index('ix_deal_team_owner_stage', table_name='deal')
    op.drop_index('ix_stagechange_team_id', table_name='stagechange')


def downgrade() -> None:
    op.create_index('ix_stagechange_team_id', 'stagechange', ['team_id'])
    op.create_index('ix_deal_team_owner_stage', 'deal', ['team_id', 'owner_id', 'stage_id'])
    op.drop_index('ix_deal_team_closed', table_name='deal')
    op.create_index('ix_deal_team_closed', 'deal', _CLOSED_COLUMNS)
