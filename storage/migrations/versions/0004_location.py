"""Location: the geocode cache, not-geocoded markers, and the index /nearby searches.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 22:31:06.594199
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('geocodecache',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('query', sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'query', name='uq_geocodecache_query')
    )
    # Plain ADD COLUMN / CREATE INDEX (no batch table rebuild): rebuilding `contact` on
    # SQLite would drop the full-text search triggers made in 0001.
    op.add_column('company', sa.Column('geocoded_from', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
    op.add_column('company', sa.Column('geocode_pending', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index('ix_company_geocode_pending', 'company', ['geocode_pending'], unique=False)
    op.add_column('contact', sa.Column('geocode_pending', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index('ix_contact_geocode_pending', 'contact', ['geocode_pending'], unique=False)
    # Latitude bands for /nearby: floor(lat * 10) + 900. SQLite can only add a virtual
    # generated column (and indexes it fine); PostgreSQL indexes only stored ones.
    if op.get_bind().dialect.name == 'postgresql':
        band = sa.Computed('CAST(floor(lat * 10 + 900) AS INTEGER)', persisted=True)
    else:
        band = sa.Computed('CAST(lat * 10 + 900 AS INTEGER)', persisted=False)
    op.add_column('contact', sa.Column('lat_band', sa.Integer(), band, nullable=True))
    op.create_index('ix_contact_team_band_lon', 'contact', ['team_id', 'lat_band', 'lon', 'lat', 'status', 'archived', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_contact_team_band_lon', table_name='contact')
    op.drop_column('contact', 'lat_band')
    op.drop_index('ix_contact_geocode_pending', table_name='contact')
    op.drop_column('contact', 'geocode_pending')
    op.drop_index('ix_company_geocode_pending', table_name='company')
    op.drop_column('company', 'geocode_pending')
    op.drop_column('company', 'geocoded_from')
    op.drop_table('geocodecache')
