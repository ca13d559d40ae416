"""The pipeline board: the installation's shared key for signed board links, and each
deal's next reminder found from an index (the board's cards).

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-07 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('installsecret',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_index('ix_reminder_deal_status_due', 'reminder', ['deal_id', 'status', 'due_at'])


def downgrade() -> None:
    op.drop_index('ix_reminder_deal_status_due', table_name='reminder')
    op.drop_table('installsecret')
