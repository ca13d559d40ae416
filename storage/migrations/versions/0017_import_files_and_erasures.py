"""Files sent to import (ImportFile): held from the preview until Import or Cancel, then
emptied, keeping the counts, the undo journal's change and the rejected rows. And the
audit trail of erasures on request (Erasure, /forget).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('importfile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('deals', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('rejects', sa.LargeBinary(), nullable=True),
    sa.Column('change_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['change_id'], ['change.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('importfile', schema=None) as batch_op:
        batch_op.create_index('ix_importfile_team_member_at', ['team_id', 'member_id', 'created_at'], unique=False)


    op.create_table('erasure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('erasure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_erasure_team_id'), ['team_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('erasure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erasure_team_id'))
    op.drop_table('erasure')
    with op.batch_alter_table('importfile', schema=None) as batch_op:
        batch_op.drop_index('ix_importfile_team_member_at')
    op.drop_table('importfile')
