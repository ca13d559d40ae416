"""PostgreSQL's trigram indexes take new rows through a small pending list again.

Migration 0013 turned GIN's fast update off, so that searches never read a pending list:
with the default limit (4 MB, emptied only by a vacuum), 11,000 rows written since the
last autovacuum made the contact name search 13 ms instead of 0.6 ms. The price was paid
by bulk writes: with fast update off, every row puts each trigram of its name into the
index one at a time, and a 100,000-row import spent some 28 s of its server time on the
contact name index alone (bench/NOTES.md, "Where PostgreSQL's time goes in an import").

Fast update is back on, with a pending list of 512 kB per index (`gin_pending_list_limit`,
in kB) instead of 4 MB, and an import moves what it leaves there into the index before it
commits (`storage.search.merge_pending_entries`). Measured (bench/NOTES.md, "PostgreSQL
import under a minute?"), 100,000 rows on the shared 2-core machine:

- the import: the INSERT into contact 17.6-19.0 s -> 9.8-10.2 s, into deal 7.0 s ->
  2.5-2.8 s; the whole import 44.6-48.4 s -> 37.3-39.5 s of wall time at a higher load;
- searches with an empty pending list: the same buffers read (100 for a name word's LIKE,
  1,526 for a misspelt name's similarity at 100,000 contacts), the same times within the
  noise;
- the worst a search pays, the list nearly full (56 of its 64 pages, some 1,000 single
  writes since the last flush): a name word's LIKE 0.33 -> 0.58 ms (64 more buffers), a
  misspelt name's similarity 73 more buffers (5 %);
- the write that finds the list full moves it into the index: 64 ms, once per some 1,100
  single-row writes (/add), instead of every write paying its trigrams one by one.

So searches pay at most a fraction of a millisecond, bounded by the limit rather than by
the time since the last vacuum, and bulk writes go in bulk. SQLite has nothing of the kind
(its FTS5 tables are compacted by `crmbot db optimize`).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 16:10:00.000000
"""

from collections.abc import Sequence

import sqlmodel  # noqa: F401  (every migration imports it, as the template does)
from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM_INDEXES = ("ix_contact_name_key_trgm", "ix_company_name_key_trgm", "ix_deal_title_key_trgm")
PENDING_LIST_KB = 512


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in TRIGRAM_INDEXES:
        op.execute(
            f"ALTER INDEX {index} SET (fastupdate = on, gin_pending_list_limit = {PENDING_LIST_KB})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in TRIGRAM_INDEXES:
        op.execute(f"ALTER INDEX {index} SET (fastupdate = off)")
        op.execute(f"ALTER INDEX {index} RESET (gin_pending_list_limit)")
        # What waits in the pending list goes into the index now, as 0013 did.
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")
