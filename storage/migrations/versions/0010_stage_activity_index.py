"""A stage's deals latest first, for /deals rotting: one index range per stage.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 23:28:09.130161
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deal_team_stage'))
        batch_op.create_index('ix_deal_team_stage_activity', ['team_id', 'stage_id', 'last_activity_at', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index('ix_deal_team_stage_activity')
        batch_op.create_index(batch_op.f('ix_deal_team_stage'), ['team_id', 'stage_id'], unique=False)

