"""The people at a company, in id order, from an index that also holds team_id.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 23:07:03.982101
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_company_id'))
        batch_op.create_index('ix_contact_company_team', ['company_id', 'team_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_company_team')
        batch_op.create_index(batch_op.f('ix_contact_company_id'), ['company_id'], unique=False)

