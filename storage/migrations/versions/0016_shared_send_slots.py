"""Send slots shared by every bot process on one PostgreSQL database, so the platforms'
rate limits (Telegram's 30 messages a second per bot and 20 a minute per group, Slack's one
a second per channel) hold for the whole installation rather than for each process.

One row per limited thing (the bot, a chat): the earliest moment its next message may go.
`reserve_send(keys, gaps)` takes the soonest moment that suits every key of a message (the
slot), moves each key's next moment on by its gap, and answers the slot and how many
seconds the sender waits for it;
one round trip, the rows locked in key order so that two reservations never wait for each
other in a circle. The table is UNLOGGED: slots matter for seconds, so a crash that empties
it loses nothing worth writing ahead to the log for. SQLite is one process: nothing here.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25 09:00:00.000000
"""

from collections.abc import Sequence

import sqlmodel  # noqa: F401  (every migration imports it, as the template does)
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE UNLOGGED TABLE send_slot ("
        " key text PRIMARY KEY,"
        " next_at timestamptz NOT NULL)"
    )
    op.execute(
        """
        CREATE FUNCTION reserve_send(
            keys text[], gaps double precision[], OUT slot timestamptz, OUT wait double precision
        ) LANGUAGE plpgsql AS $$
        BEGIN
            WITH held AS (
                INSERT INTO send_slot AS s (key, next_at)
                SELECT k, '-infinity' FROM unnest(keys) AS k ORDER BY k
                ON CONFLICT (key) DO UPDATE SET next_at = s.next_at
                RETURNING s.next_at
            )
            SELECT greatest(clock_timestamp(), max(next_at)) INTO slot FROM held;
            UPDATE send_slot AS s SET next_at = slot + make_interval(secs => g.gap)
            FROM unnest(keys, gaps) AS g(key, gap)
            WHERE s.key = g.key;
            wait := extract(epoch FROM slot - clock_timestamp());
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION reserve_send(text[], double precision[])")
    op.execute("DROP TABLE send_slot")
