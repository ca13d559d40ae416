"""The undo journal: each change a member makes (Change) and the rows it inserted, updated
or deleted, with their values before and after (ChangeRow). See storage/journal.py.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 22:38:13.137492
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('undone_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('change', schema=None) as batch_op:
        batch_op.create_index('ix_change_team_member_at', ['team_id', 'member_id', 'at'], unique=False)

    op.create_table('changerow',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_id', sa.Integer(), nullable=False),
    sa.Column('table_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('row_key', sa.JSON(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['change_id'], ['change.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('changerow', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_changerow_change_id'), ['change_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('changerow', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_changerow_change_id'))

    op.drop_table('changerow')
    with op.batch_alter_table('change', schema=None) as batch_op:
        batch_op.drop_index('ix_change_team_member_at')

    op.drop_table('change')