"""Indexes that let /leads and /deals read in their sort order and stop at the limit.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 22:47:23.140991
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_team_city_key'))
        batch_op.drop_index(batch_op.f('ix_contact_team_status_score'))
        batch_op.create_index('ix_contact_team_city_score', ['team_id', 'city_key', 'score', 'id'], unique=False)
        batch_op.create_index('ix_contact_team_score', ['team_id', 'score', 'id'], unique=False)

    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.create_index('ix_deal_team_activity', ['team_id', 'last_activity_at', 'id'], unique=False)
        batch_op.create_index('ix_deal_team_owner_activity', ['team_id', 'owner_id', 'last_activity_at', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index('ix_deal_team_owner_activity')
        batch_op.drop_index('ix_deal_team_activity')

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_team_score')
        batch_op.drop_index('ix_contact_team_city_score')
        batch_op.create_index(batch_op.f('ix_contact_team_status_score'), ['team_id', 'status', 'score'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_team_city_key'), ['team_id', 'city_key'], unique=False)

