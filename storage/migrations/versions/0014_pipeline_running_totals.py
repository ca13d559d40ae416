"""Running totals for the pipeline reports, kept by triggers: the team's deals per stage,
owner and currency (DealTotal); deals closed per month (ClosedMonth); amounts by expected
close month (ExpectedMonth); stage changes per month and (from, to) pair (MovesMonth).
Filled from the existing rows.

Triggers rather than application code: every write to deal and stagechange keeps them
exact in its own transaction, whatever makes it (the bot, a bulk load, a hand-written
fix), and cascaded deletes included. Indexes for what the totals leave to the rows: the
deals created since a moment (the open pipeline as of a recent one is the totals less
those), and the deals closed and the stage changes made in a span of hours or days (the
ends of a period that are not whole months), in place of the indexes that read whole
periods by currency and by stage.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 03:30:00.000000
"""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (every migration imports it, as the template does)
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A timestamp's UTC calendar month, and a date's month, as the date of its first day.
# SQLite stores UTC as 'YYYY-MM-DD HH:MM:SS' and dates as 'YYYY-MM-DD'.
_MONTH = {
    'sqlite': "date(substr({}, 1, 7) || '-01')",
    'postgresql': "(date_trunc('month', {} AT TIME ZONE 'UTC'))::date",
}
_DATE_MONTH = {
    'sqlite': "date(substr({}, 1, 7) || '-01')",
    'postgresql': "({0} - (extract(day FROM {0})::int - 1))",
}


@dataclass(frozen=True)
class _Totals:
    """A table of sums over the rows of `source` that meet `counted`, per key. Columns are
    SQL over the source row `{r}` (NEW or OLD in a trigger, the table in the backfill)."""

    table: str
    source: str
    keys: dict[str, str]
    sums: dict[str, str]
    counted: str
    watched: tuple[str, ...]  # the source columns the keys, sums and condition read


_DEAL = _Totals(
    table='dealtotal',
    source='deal',
    keys={
        'team_id': '{r}.team_id',
        'stage_id': '{r}.stage_id',
        'owner_id': '{r}.owner_id',
        'currency': "coalesce({r}.currency, '')",
    },
    sums={
        'deals': '1',
        'priced': 'CASE WHEN {r}.amount IS NULL THEN 0 ELSE 1 END',
        'amount': 'coalesce({r}.amount, 0)',
    },
    counted='TRUE',
    watched=('team_id', 'stage_id', 'owner_id', 'currency', 'amount'),
)
_CLOSED = _Totals(
    table='closedmonth',
    source='deal',
    keys={
        'team_id': '{r}.team_id',
        'month': '{month:closed_at}',
        'stage_id': '{r}.stage_id',
        'owner_id': '{r}.owner_id',
        'currency': "coalesce({r}.currency, '')",
    },
    sums={
        'deals': '1',
        'priced': 'CASE WHEN {r}.amount IS NULL THEN 0 ELSE 1 END',
        'amount': 'coalesce({r}.amount, 0)',
        'cycle_seconds': 'coalesce({r}.cycle_seconds, 0)',
    },
    counted='{r}.closed_at IS NOT NULL',
    watched=(
        'team_id', 'closed_at', 'stage_id', 'owner_id', 'currency', 'amount', 'cycle_seconds'
    ),
)
_MOVES = _Totals(
    table='movesmonth',
    source='stagechange',
    keys={
        'team_id': '{r}.team_id',
        'month': '{month:at}',
        'from_stage_id': '{r}.from_stage_id',
        'to_stage_id': '{r}.to_stage_id',
    },
    sums={
        'moves': '1',
        'timed': 'CASE WHEN {r}.stay_seconds IS NULL THEN 0 ELSE 1 END',
        'seconds': 'coalesce({r}.stay_seconds, 0)',
    },
    counted='{r}.from_stage_id IS NOT NULL',
    watched=('team_id', 'at', 'from_stage_id', 'to_stage_id', 'stay_seconds'),
)
_EXPECTED = _Totals(
    table='expectedmonth',
    source='deal',
    keys={
        'team_id': '{r}.team_id',
        'stage_id': '{r}.stage_id',
        'currency': '{r}.currency',
        'month': '{month:expected_close}',
    },
    sums={'deals': '1', 'amount': '{r}.amount'},
    counted=(
        '{r}.amount IS NOT NULL AND {r}.currency IS NOT NULL '
        'AND {r}.expected_close IS NOT NULL'
    ),
    watched=('team_id', 'stage_id', 'currency', 'amount', 'expected_close'),
)
_ALL = (_DEAL, _CLOSED, _EXPECTED, _MOVES)
_SOURCES = ('deal', 'stagechange')


def _sql(template: str, row: str, dialect: str) -> str:
    months = {
        '{month:closed_at}': _MONTH[dialect].format(f'{row}.closed_at'),
        '{month:at}': _MONTH[dialect].format(f'{row}.at'),
        '{month:expected_close}': _DATE_MONTH[dialect].format(f'{row}.expected_close'),
    }
    for placeholder, sql in months.items():
        template = template.replace(placeholder, sql)
    return template.replace('{r}', row)


def _share(totals: _Totals, row: str, dialect: str, sign: str = '') -> tuple[list[str], str]:
    """One source row's keys and sums (taken away with sign '-'), and whether it counts."""
    keys = [_sql(v, row, dialect) for v in totals.keys.values()]
    sums = [f'{sign}({_sql(v, row, dialect)})' for v in totals.sums.values()]
    return keys + sums, _sql(totals.counted, row, dialect)


def _into(totals: _Totals) -> str:
    return f"INSERT INTO {totals.table} ({', '.join([*totals.keys, *totals.sums])}) "


def _on_conflict(totals: _Totals) -> str:
    updates = ', '.join(f'{s} = {totals.table}.{s} + excluded.{s}' for s in totals.sums)
    return f"ON CONFLICT ({', '.join(totals.keys)}) DO UPDATE SET {updates}"


def _add(totals: _Totals, row: str, sign: str, dialect: str) -> str:
    """Add (sign '') or take away (sign '-') one source row's share."""
    values, counted = _share(totals, row, dialect, sign)
    # SELECT ... WHERE, not VALUES: the condition decides whether the row counts at all.
    return f"{_into(totals)}SELECT {', '.join(values)} WHERE {counted} {_on_conflict(totals)}"


def _create_tables() -> None:
    money = sa.BigInteger()
    op.create_table(
        'dealtotal',
        sa.Column('team_id', sa.Integer(), nullable=False),
        sa.Column('stage_id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column('deals', sa.Integer(), nullable=False),
        sa.Column('priced', sa.Integer(), nullable=False),
        sa.Column('amount', money, nullable=False),
        sa.PrimaryKeyConstraint('team_id', 'stage_id', 'owner_id', 'currency'),
    )
    op.create_table(
        'closedmonth',
        sa.Column('team_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('stage_id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column('deals', sa.Integer(), nullable=False),
        sa.Column('priced', sa.Integer(), nullable=False),
        sa.Column('amount', money, nullable=False),
        sa.Column('cycle_seconds', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('team_id', 'month', 'stage_id', 'owner_id', 'currency'),
    )
    op.create_table(
        'expectedmonth',
        sa.Column('team_id', sa.Integer(), nullable=False),
        sa.Column('stage_id', sa.Integer(), nullable=False),
        sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('deals', sa.Integer(), nullable=False),
        sa.Column('amount', money, nullable=False),
        sa.PrimaryKeyConstraint('team_id', 'stage_id', 'currency', 'month'),
    )
    op.create_table(
        'movesmonth',
        sa.Column('team_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('from_stage_id', sa.Integer(), nullable=False),
        sa.Column('to_stage_id', sa.Integer(), nullable=False),
        sa.Column('moves', sa.Integer(), nullable=False),
        sa.Column('timed', sa.Integer(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('team_id', 'month', 'from_stage_id', 'to_stage_id'),
    )


def _backfill(totals: _Totals, dialect: str) -> None:
    values, counted = _share(totals, totals.source, dialect)
    keys, sums = values[: len(totals.keys)], values[len(totals.keys) :]
    op.execute(
        f"{_into(totals)}SELECT {', '.join(keys)}, {', '.join(f'sum{v}' for v in sums)} "
        f"FROM {totals.source} WHERE {counted} GROUP BY {', '.join(keys)}"
    )


def _kept_by(source: str) -> tuple[list[_Totals], list[str]]:
    """The totals kept from `source`, and the columns of it they read."""
    kept = [t for t in _ALL if t.source == source]
    return kept, sorted({column for t in kept for column in t.watched})


def _sqlite_triggers(source: str) -> None:
    kept, watched = _kept_by(source)
    events = {
        'insert': ('INSERT', [_add(t, 'NEW', '', 'sqlite') for t in kept]),
        'delete': ('DELETE', [_add(t, 'OLD', '-', 'sqlite') for t in kept]),
        'update': (
            f"UPDATE OF {', '.join(watched)}",
            [_add(t, row, sign, 'sqlite') for t in kept for row, sign in (('OLD', '-'), ('NEW', ''))],
        ),
    }
    for name, (event, statements) in events.items():
        body = ''.join(f'{statement};\n' for statement in statements)
        op.execute(
            f"CREATE TRIGGER {source}_totals_{name} AFTER {event} ON {source} "
            f"FOR EACH ROW BEGIN\n{body}END"
        )


def _net_change(totals: _Totals, parts: Sequence[tuple[str, str]]) -> str:
    """PostgreSQL: one upsert of a statement's net change to `totals`, from the transition
    tables in `parts` (table, sign), per key, in key order: rows moved and moved back
    cancel out, and every transaction takes the rows it changes in the same order, so
    two of them cannot deadlock on each other's."""
    names = [*totals.keys, *totals.sums]
    selects = []
    for table, sign in parts:
        values, counted = _share(totals, 'r', 'postgresql', sign)
        columns = ', '.join(f'{v} AS {n}' for v, n in zip(values, names, strict=True))
        selects.append(f"SELECT {columns} FROM {table} r WHERE {counted}")
    keys = ', '.join(totals.keys)
    changed = ' OR '.join(f'sum({n}) <> 0' for n in totals.sums)
    return (
        f"{_into(totals)}SELECT {keys}, {', '.join(f'sum({n})' for n in totals.sums)} "
        f"FROM ({' UNION ALL '.join(selects)}) AS change GROUP BY {keys} HAVING {changed} "
        f"ORDER BY {keys} {_on_conflict(totals)}"
    )


def _postgresql_triggers(source: str) -> None:
    """Per statement, over its transition tables: a bulk insert (COPY) changes each total
    once, where a trigger per row would update the same rows thousands of times in one
    transaction, each update a new version that no one may clean up before it commits."""
    kept, watched = _kept_by(source)
    events = {
        'INSERT': ('REFERENCING NEW TABLE AS new_rows', [('new_rows', '')]),
        'DELETE': ('REFERENCING OLD TABLE AS old_rows', [('old_rows', '-')]),
        'UPDATE': (
            'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows',
            [('old_rows', '-'), ('new_rows', '')],
        ),
    }
    before = ', '.join(f'o.{c}' for c in watched)
    after = ', '.join(f'n.{c}' for c in watched)
    # Most updates (a deal's last activity) touch none of the columns the totals read.
    conditions = {
        'INSERT': "TG_OP = 'INSERT'",
        'DELETE': "TG_OP = 'DELETE'",
        'UPDATE': (
            "EXISTS (SELECT FROM old_rows o JOIN new_rows n USING (id) "
            f"WHERE ({before}) IS DISTINCT FROM ({after}))"
        ),
    }
    branches = ''.join(
        f"{'ELSIF' if i else 'IF'} {conditions[event]} THEN\n"
        + ''.join(f'{_net_change(t, parts)};\n' for t in kept)
        for i, (event, (_, parts)) in enumerate(events.items())
    )
    op.execute(
        f"CREATE FUNCTION {source}_totals() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{branches}END IF;\nRETURN NULL;\nEND $$"
    )
    for event, (referencing, _) in events.items():
        # Transition tables allow no column list: an update of other columns comes to no
        # net change and writes nothing.
        op.execute(
            f"CREATE TRIGGER {source}_totals_{event.lower()} AFTER {event} ON {source} "
            f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION {source}_totals()"
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _create_tables()
    op.create_index('ix_deal_team_created', 'deal', ['team_id', 'created_at'], unique=False)
    op.drop_index('ix_deal_team_currency_closed', table_name='deal')
    op.create_index('ix_deal_team_currency', 'deal', ['team_id', 'currency'], unique=False)
    op.drop_index('ix_stagechange_team_moves', table_name='stagechange')
    op.create_index('ix_stagechange_team_at', 'stagechange', ['team_id', 'at', 'from_stage_id', 'to_stage_id', 'stay_seconds'], unique=False)
    op.create_index('ix_deal_team_closed', 'deal', ['team_id', 'closed_at', 'stage_id', 'owner_id', 'currency', 'amount', 'cycle_seconds'], unique=False)
    for totals in _ALL:
        _backfill(totals, dialect)
    for source in _SOURCES:
        if dialect == 'postgresql':
            _postgresql_triggers(source)
        else:
            _sqlite_triggers(source)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for source in _SOURCES:
        for name in ('insert', 'delete', 'update'):
            on = f' ON {source}' if dialect == 'postgresql' else ''
            op.execute(f'DROP TRIGGER {source}_totals_{name}{on}')
        if dialect == 'postgresql':
            op.execute(f'DROP FUNCTION {source}_totals()')
    for totals in reversed(_ALL):
        op.drop_table(totals.table)
    op.drop_index('ix_deal_team_closed', table_name='deal')
    op.drop_index('ix_stagechange_team_at', table_name='stagechange')
    op.create_index('ix_stagechange_team_moves', 'stagechange', ['team_id', 'from_stage_id', 'to_stage_id', 'at', 'stay_seconds'], unique=False)
    op.drop_index('ix_deal_team_currency', table_name='deal')
    op.create_index('ix_deal_team_currency_closed', 'deal', ['team_id', 'currency', 'stage_id', 'owner_id', 'closed_at', 'amount', 'cycle_seconds'], unique=False)
    op.drop_index('ix_deal_team_created', table_name='deal')
