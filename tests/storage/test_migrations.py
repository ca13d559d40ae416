"""The migrations form one straight line, each importable the way Alembic generates it.

Branches developed in parallel each add a migration, and merging them means renumbering by
hand (file name, revision id, parent); this catches a fork Alembic would refuse as
"multiple heads", and a file whose name no longer says which revision it holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, text

from storage.db import MIGRATIONS, alembic_config, make_engine, transaction, upgrade
from storage.reports import _closed_rows

EXPECTED = [
    "0001_core_tables",
    "0002_announcement_channels",
    "0003_workspaces",
    "0004_location",
    "0005_reminders_and_outbox",
    "0006_card_indexes",
    "0007_list_indexes",
    "0008_search_vocabulary",
    "0009_company_contacts_index",
    "0010_stage_activity_index",
    "0011_pipeline_reports_and_lead_scoring",
    "0012_stored_seconds_and_forecast_index",
    "0013_search_index_without_pending_list",
    "0014_pipeline_running_totals",
    "0015_undo_journal",
    "0016_shared_send_slots",
    "0017_import_files_and_erasures",
    "0018_linked_platforms",
    "0019_archived_deals",
    "0020_slack_installations",
    "0021_board",
    "0022_search_index_fast_update",
    "0023_outbox_message_ref",
    "0024_dealtotal_currency",
    "0025_loose_city_keys",
    "0026_fewer_deal_index_writes",
]


def test_one_straight_line_of_revisions_named_by_their_files() -> None:
    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    assert len(script.get_heads()) == 1
    chain = list(script.walk_revisions("base", "heads"))[::-1]
    assert [revision.revision for revision in chain] == [name[:4] for name in EXPECTED]
    for revision in chain:
        assert revision.path is not None
        assert revision.path.rsplit("/", 1)[-1].startswith(f"{revision.revision}_")
    files = sorted(path.stem for path in (MIGRATIONS / "versions").glob("*.py"))
    assert files == EXPECTED


def test_every_migration_imports_sqlmodel_for_its_column_types() -> None:
    for path in (MIGRATIONS / "versions").glob("*.py"):
        assert "import sqlmodel" in path.read_text(), path.name
    assert "import sqlmodel" in (MIGRATIONS / "script.py.mako").read_text()


def test_cities_are_rekeyed_loosely_and_back(engine: Engine) -> None:
    """0025: the plain name keys of cities (`koeln` for a city typed Koeln) become the
    loosened ones that `/leads city:` compares, and go back on a downgrade."""
    command.downgrade(alembic_config(engine), "0024")
    at = datetime(2026, 1, 5, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO team (id, name, currency, timezone, locale, region, created_at) "
                "VALUES (1, 'T', 'EUR', 'UTC', 'en_US', 'DE', :t)"
            ),
            {"t": at},
        )
        for contact_id, city, key in (
            (1, "Köln", "koln"),
            (2, "Koeln", "koeln"),
            (3, "Wrocław", "wrocław"),
            (4, "Paris", "paris"),
        ):
            conn.execute(
                text(
                    "INSERT INTO contact (id, team_id, name, name_key, status, city, city_key,"
                    " score, archived, geocode_pending, created_at, updated_at)"
                    " VALUES (:id, 1, 'N', 'n', 'lead', :city, :key, 0, false, false, :t, :t)"
                ),
                {"id": contact_id, "city": city, "key": key, "t": at},
            )
    keys = text("SELECT city_key FROM contact ORDER BY id")
    try:
        upgrade(engine)
        with engine.connect() as conn:
            assert list(conn.execute(keys).scalars()) == ["koln", "koln", "wroclaw", "paris"]
        command.downgrade(alembic_config(engine), "0024")
        with engine.connect() as conn:
            assert list(conn.execute(keys).scalars()) == ["koln", "koeln", "wrocław", "paris"]
    finally:
        upgrade(engine)


def test_closed_deals_are_read_from_an_index_of_closed_deals_only(engine: Engine) -> None:
    """0026: ix_deal_team_closed holds closed deals only, and the reports' span of closing
    times still reads it (a comparison of closed_at implies it is not NULL)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan asked of is SQLite's")
    statements: list[tuple[str, Sequence[Any]]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(
        conn: object, cursor: object, sql: str, params: Sequence[Any], *rest: object
    ) -> None:
        statements.append((sql, params))

    start = datetime(2026, 1, 1, tzinfo=UTC)
    with transaction(engine) as session:
        list(_closed_rows(session, 1, [1, 2], start, start + timedelta(days=31), None))
        sql, params = statements[-1]
        plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
        partial = session.connection().exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'ix_deal_team_closed'"
        )
        assert partial.scalar_one().endswith("WHERE closed_at IS NOT NULL")
    assert "ix_deal_team_closed (team_id=? AND closed_at>? AND closed_at<?)" in str(plan)
