"""Indexes for the contact and deal cards: a record's timeline and a contact's open deals.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 22:45:14.262204
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_contact_at'))
        batch_op.drop_index(batch_op.f('ix_activity_deal_at'))
        batch_op.create_index('ix_activity_contact_team_at', ['contact_id', 'team_id', 'at'], unique=False)
        batch_op.create_index('ix_activity_deal_team_at', ['deal_id', 'team_id', 'at'], unique=False)

    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deal_contact_id'))
        batch_op.create_index('ix_deal_contact_team_activity', ['contact_id', 'team_id', 'last_activity_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index('ix_deal_contact_team_activity')
        batch_op.create_index(batch_op.f('ix_deal_contact_id'), ['contact_id'], unique=False)

    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_deal_team_at')
        batch_op.drop_index('ix_activity_contact_team_at')
        batch_op.create_index(batch_op.f('ix_activity_deal_at'), ['deal_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_activity_contact_at'), ['contact_id', 'at'], unique=False)

