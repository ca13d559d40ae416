"""PostgreSQL's trigram indexes take inserts directly (fastupdate off).

With GIN's default fast update, new rows wait in a pending list until the next vacuum,
and every search reads that list from end to end: at 100k contacts, 11,000 rows written
since the last autovacuum made the contact name search 13 ms instead of 0.6 ms. A CRM
searches far more often than it adds, so the insert pays instead. SQLite has nothing of
the kind (its FTS5 tables are compacted by `crmbot db optimize`).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 01:45:00.000000
"""

from collections.abc import Sequence

import sqlmodel  # noqa: F401  (every migration imports it, as the template does)
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM_INDEXES = ("ix_contact_name_key_trgm", "ix_company_name_key_trgm", "ix_deal_title_key_trgm")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in TRIGRAM_INDEXES:
        op.execute(f"ALTER INDEX {index} SET (fastupdate = off)")
        # What already waits in the pending list goes into the index now.
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in TRIGRAM_INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (fastupdate)")
