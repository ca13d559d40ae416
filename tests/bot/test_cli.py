"""`crmbot db`: schema upgrades and index maintenance from the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app


def test_db_upgrade_then_optimize(tmp_path: Path) -> None:
    db = str(tmp_path / "crm.db")
    runner = CliRunner()
    assert "up to date" in runner.invoke(app, ["db", "upgrade", "--db", db]).output
    result = runner.invoke(app, ["db", "optimize", "--db", db])
    assert result.exit_code == 0, result.output
    assert "compacted" in result.output
