"""Cities stored by their loosened key (storage.keys.city_key), so that `/leads
city:Koeln` finds the contacts in Köln, and `Wroclaw` those in Wrocław: the keys written
before were the plain name keys (`koln` for Köln, but `koeln` for a city typed Koeln).

Each distinct key of a team that loosening changes is rewritten once, through the
(team_id, city_key, ...) index.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 21:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (every migration imports it, as the template does)
from alembic import op

from storage.keys import city_key, name_key

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    conn = op.get_bind()
    keys = conn.execute(
        sa.text("SELECT DISTINCT team_id, city_key FROM contact WHERE city_key IS NOT NULL")
    ).all()
    for team_id, old in keys:
        if city_key(old) != old:
            conn.execute(
                sa.text(
                    "UPDATE contact SET city_key = :new"
                    " WHERE team_id = :team_id AND city_key = :old"
                ),
                {"new": city_key(old), "team_id": team_id, "old": old},
            )


def downgrade() -> None:
    # The plain key comes from the city as written: loosening lost it from the key.
    conn = op.get_bind()
    cities = conn.execute(
        sa.text("SELECT DISTINCT team_id, city_key, city FROM contact WHERE city_key IS NOT NULL")
    ).all()
    for team_id, old, city in cities:
        if name_key(city) != old:
            conn.execute(
                sa.text(
                    "UPDATE contact SET city_key = :new"
                    " WHERE team_id = :team_id AND city_key = :old AND city = :city"
                ),
                {"new": name_key(city), "team_id": team_id, "old": old, "city": city},
            )
