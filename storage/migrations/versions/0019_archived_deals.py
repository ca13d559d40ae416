"""Archived deals (/delete on a deal): Deal.archived, counted nowhere in the running totals.

The deal's triggers of 0014 are made again with one more condition on every total kept
from deals (the deal is not archived) and the column among those they watch, so archiving
a deal takes its share away and restoring it (/undo) puts it back, in the same statement.
The stage changes' totals (MovesMonth) keep archived deals' moves: that history happened.
The covering indexes the reports read deals from take the column at their end, so those
reads stay within the index.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 04:30:00.000000
"""

import importlib.util
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (every migration imports it, as the template does)
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The indexes the reports read deals from alone, with their columns before this one.
_COVERING = {
    'ix_deal_team_stage_figures': ['team_id', 'stage_id', 'owner_id', 'currency', 'created_at', 'amount'],
    'ix_deal_team_stage_forecast': ['team_id', 'stage_id', 'currency', 'expected_close', 'owner_id', 'amount'],
    'ix_deal_team_closed': ['team_id', 'closed_at', 'stage_id', 'owner_id', 'currency', 'amount', 'cycle_seconds'],
    'ix_deal_team_stage_owner_activity': ['team_id', 'stage_id', 'owner_id', 'last_activity_at', 'created_at'],
    'ix_deal_team_created': ['team_id', 'created_at'],
}


def _totals_migration(archived_counted: bool) -> ModuleType:
    """0014's trigger code, loaded as a module of its own (changing it changes no other
    copy); with `archived_counted` False, its deal totals leave archived deals out."""
    path = Path(__file__).with_name('0014_pipeline_running_totals.py')
    spec = importlib.util.spec_from_file_location('_running_totals_0019', path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not archived_counted:
        module._ALL = tuple(
            t if t.source != 'deal' else replace(
                t, counted=f'({t.counted}) AND NOT {{r}}.archived', watched=(*t.watched, 'archived')
            )
            for t in module._ALL
        )
    return module


def _drop_deal_triggers(dialect: str) -> None:
    for name in ('insert', 'delete', 'update'):
        on = ' ON deal' if dialect == 'postgresql' else ''
        op.execute(f'DROP TRIGGER deal_totals_{name}{on}')
    if dialect == 'postgresql':
        op.execute('DROP FUNCTION deal_totals()')


def _make_deal_triggers(totals: ModuleType, dialect: str) -> None:
    if dialect == 'postgresql':
        totals._postgresql_triggers('deal')
    else:
        totals._sqlite_triggers('deal')


def _indexes(archived: bool) -> None:
    for name, columns in _COVERING.items():
        op.drop_index(name, table_name='deal')
        op.create_index(name, 'deal', [*columns, 'archived'] if archived else columns, unique=False)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_deal_triggers(dialect)
    op.add_column(
        'deal', sa.Column('archived', sa.Boolean(), nullable=False, server_default=sa.false())
    )
    _indexes(archived=True)
    # No deal is archived yet: the totals as they are stay right.
    _make_deal_triggers(_totals_migration(archived_counted=False), dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_deal_triggers(dialect)
    totals = _totals_migration(archived_counted=True)
    # Archived deals count again: the deal totals are worked out anew from the rows.
    for kept in totals._ALL:
        if kept.source == 'deal':
            op.execute(f'DELETE FROM {kept.table}')
            totals._backfill(kept, dialect)
    _indexes(archived=False)
    # Not in a batch: rebuilding the table would drop its other triggers (the search's).
    op.drop_column('deal', 'archived')
    _make_deal_triggers(totals, dialect)
