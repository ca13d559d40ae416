"""The platform's id of a message the outbox sent (a Telegram message id; a Slack channel
and ts), so that a reminder's copy on the member's other platform can be edited when it
is done or snoozed on one of them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 15:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'outbox',
        sa.Column('message_ref', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('message_ref')
