"""Pipeline figures and lead scoring: covering indexes for the pipeline's aggregates, the
time a stage change ended a stay (backfilled from the history), team tag weights, and when
the team's lead scores were last brought up to date.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 22:51:49.484569
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (every migration imports it, as the template does)
from alembic import op

import storage.types

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tagweight',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tag_id')
    )
    with op.batch_alter_table('tagweight', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tagweight_team_id'), ['team_id'], unique=False)

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index('ix_contact_team_last_activity', ['team_id', 'last_activity_at'], unique=False)

    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.create_index('ix_deal_team_currency_closed', ['team_id', 'currency', 'stage_id', 'owner_id', 'closed_at', 'amount', 'created_at'], unique=False)
        batch_op.create_index('ix_deal_team_stage_owner_activity', ['team_id', 'stage_id', 'owner_id', 'last_activity_at', 'created_at'], unique=False)
        batch_op.create_index('ix_deal_team_stage_figures', ['team_id', 'stage_id', 'owner_id', 'currency', 'created_at', 'amount', 'expected_close'], unique=False)

    with op.batch_alter_table('stagechange', schema=None) as batch_op:
        batch_op.add_column(sa.Column('from_entered_at', storage.types.UTCDateTime(timezone=True), nullable=True))
    # A stay began with the deal's previous change (same instant: the earlier id).
    op.execute(
        """
        UPDATE stagechange SET from_entered_at = (
            SELECT max(earlier.at) FROM stagechange AS earlier
            WHERE earlier.deal_id = stagechange.deal_id
              AND (earlier.at < stagechange.at
                   OR (earlier.at = stagechange.at AND earlier.id < stagechange.id))
        )
        WHERE from_stage_id IS NOT NULL
        """
    )
    with op.batch_alter_table('stagechange', schema=None) as batch_op:
        batch_op.create_index('ix_stagechange_team_moves', ['team_id', 'from_stage_id', 'to_stage_id', 'at', 'from_entered_at'], unique=False)

    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scores_at', storage.types.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.drop_column('scores_at')

    with op.batch_alter_table('stagechange', schema=None) as batch_op:
        batch_op.drop_index('ix_stagechange_team_moves')
        batch_op.drop_column('from_entered_at')

    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index('ix_deal_team_stage_figures')
        batch_op.drop_index('ix_deal_team_stage_owner_activity')
        batch_op.drop_index('ix_deal_team_currency_closed')

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_team_last_activity')

    with op.batch_alter_table('tagweight', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tagweight_team_id'))

    op.drop_table('tagweight')
