"""Hosted mode: Slack workspaces installed through OAuth (their bot tokens encrypted) and
the OAuth flow's one-time states.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07 04:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('slackinstallation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('workspace_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('workspace_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('app_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('bot_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('bot_user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('bot_token', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('bot_refresh_token', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
    sa.Column('bot_token_expires_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('bot_scopes', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('installer_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('installed_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('enterprise_id', 'workspace_id', name='uq_slackinstallation_workspace')
    )
    op.create_table('slackoauthstate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('expires_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('state')
    )
    with op.batch_alter_table('slackoauthstate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slackoauthstate_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('slackoauthstate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slackoauthstate_expires_at'))
    op.drop_table('slackoauthstate')
    op.drop_table('slackinstallation')
