"""The migrations form one straight line, each importable the way Alembic generates it.

Branches developed in parallel each add a migration; this catches two of them claiming the
same parent (a fork Alembic would refuse as "multiple heads")."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from storage.db import MIGRATIONS, alembic_config, make_engine

EXPECTED = [
    "0001",  # core_tables
    "0002",  # announcement_channels
    "0003",  # workspaces
    "0004",  # location
    "0005",  # reminders and outbox
    "0006",  # card indexes
    "0007",  # list indexes
    "0008",  # search vocabulary
    "0009",  # company contacts index
    "0010",  # stage activity index
    "0011",  # pipeline reports and lead scoring
]


def test_one_straight_line_of_revisions() -> None:
    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    assert len(script.get_heads()) == 1
    chain = [revision.revision for revision in script.walk_revisions("base", "heads")]
    assert chain[::-1][: len(EXPECTED)] == EXPECTED


def test_every_migration_imports_sqlmodel_for_its_column_types() -> None:
    for path in (MIGRATIONS / "versions").glob("*.py"):
        assert "import sqlmodel" in path.read_text(), path.name
    assert "import sqlmodel" in (MIGRATIONS / "script.py.mako").read_text()
