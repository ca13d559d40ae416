"""Trigram document counts for the fuzzy search (SQLite): one fts5vocab table per index.

The search's second pass looks up how many rows contain each of the query's trigrams and
reads only the rare ones (storage/search.py). PostgreSQL needs nothing: pg_trgm answers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 22:50:00.000000
"""

from collections.abc import Sequence

import sqlmodel  # noqa: F401  (every migration imports it, as the template does)
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCHED = ("contact", "company", "deal")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in SEARCHED:
        op.execute(
            f"CREATE VIRTUAL TABLE {table}_fts_vocab USING fts5vocab({table}_fts, 'row')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in SEARCHED:
        op.execute(f"DROP TABLE IF EXISTS {table}_fts_vocab")
