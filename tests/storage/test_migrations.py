"""The migrations form one straight line, each importable the way Alembic generates it.

Branches developed in parallel each add a migration, and merging them means renumbering by
hand (file name, revision id, parent); this catches a fork Alembic would refuse as
"multiple heads", and a file whose name no longer says which revision it holds."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from storage.db import MIGRATIONS, alembic_config, make_engine

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
